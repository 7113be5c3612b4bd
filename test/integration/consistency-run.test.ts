/**
 * Runs with both stage-2 methods on the 2-D toy (wasm, one thread, seeded): the consistency students train to the
 * end after the progressive ones, resume bit for bit, carry their own hash, and can be added to a finished run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { createRun, ensureBackend, loadRunConfig, runStages } from '../../src/engine';
import { readCheckpoint } from '../../src/engine/run/checkpoint';
import { configHash, unitHash } from '../../src/engine/run/config';
import { FILES, listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { runWithStops } from '../helpers/runs';
import { toyConfig } from '../helpers/toy-config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-consistency-'));

const BOTH = {
  methods: ['progressive', 'consistency'],
  consistency: { steps: 12, batch: 32, lr: 0.001, teacherSteps: 8 },
  checkpoint: { interval: 5, keep: 2 },
  log: { interval: 1 },
};
const CONSISTENCY_UNITS = ['consistency-4', 'consistency-2', 'consistency-1'];

async function newRun(name: string, ...overrides: Record<string, unknown>[]): Promise<string> {
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(toyConfig({ name }, ...overrides), null, 2));
  return createRun({ configPath: file, runsDir: tmp, name });
}

const finalCheckpoint = (runDir: string, unit: string) =>
  readCheckpoint(path.join(runDir, listCheckpoints(runDir, unit).pop()!.file));

/** Every unit's final checkpoint: header (without the time it was saved and the run's name in the hash) and weights, byte for byte. */
function assertSameCheckpoints(a: string, b: string, units: string[]): void {
  for (const unit of units) {
    const ca = finalCheckpoint(a, unit);
    const cb = finalCheckpoint(b, unit);
    const { savedAt: _a, configHash: _ha, ...ha } = ca.header;
    const { savedAt: _b, configHash: _hb, ...hb } = cb.header;
    assert.deepEqual(hb, ha, unit);
    for (const [name, x] of ca.arrays)
      assert.ok(Buffer.from(x.data.buffer).equals(Buffer.from(cb.arrays.get(name)!.data.buffer)), `${unit} ${name}`);
  }
}

/** Edits a run folder's config.json in place. */
function editConfig(runDir: string, edit: (raw: Record<string, unknown>) => void): void {
  const file = path.join(runDir, FILES.config);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(raw);
  fs.writeFileSync(file, JSON.stringify(raw, null, 2));
}

before(async () => {
  await ensureBackend('wasm', 1);
});

describe('a run with both stage-2 methods', () => {
  let straight: string;

  it('trains teacher, guided, the progressive phase and consistency-4/2/1 to finished, with grids and checkpoints', async () => {
    straight = await newRun('both', BOTH);
    const lines: string[] = [];
    assert.equal(await runStages({ runDir: straight, summary: false, onLog: (l) => lines.push(l) }), 'finished');
    const { events } = readEvents(straight);
    const ends = events.filter((e) => e.type === 'stage_end').map((e) => (e as { unit: string }).unit);
    assert.deepEqual(ends, ['teacher', 'guided', 'progressive-4-2', ...CONSISTENCY_UNITS]);
    const starts = events.filter((e) => e.type === 'stage_start' && e.stage === 'consistency');
    assert.deepEqual(
      starts.map((e) => [(e as { unit: string }).unit, (e as { toSteps?: number }).toSteps]),
      [
        ['consistency-4', 4],
        ['consistency-2', 2],
        ['consistency-1', 1],
      ],
    );
    const cfg = loadRunConfig(straight);
    for (const unit of CONSISTENCY_UNITS) {
      const ck = finalCheckpoint(straight, unit);
      assert.equal(ck.header.final, true, unit);
      assert.equal(ck.header.step, 12, unit);
      assert.equal(ck.header.withW, true, unit);
      assert.equal(ck.header.configHash, unitHash(cfg, 'consistency'), unit);
      assert.ok(fs.existsSync(path.join(straight, 'samples', unit, 'step-0000012.png')), `${unit} grid`);
      const grid = events.find((e) => e.type === 'samples' && e.unit === unit) as { steps: number } | undefined;
      assert.equal(grid?.steps, Number(unit.split('-')[1]), `${unit} grid sampled with its own steps`);
    }
    assert.notEqual(unitHash(cfg, 'consistency'), configHash(cfg));
    for (const unit of ['teacher', 'guided', 'progressive-4-2'])
      assert.equal(finalCheckpoint(straight, unit).header.configHash, configHash(cfg), unit);
    // each student moved away from the weights it started from
    const a = finalCheckpoint(straight, 'consistency-4').arrays;
    const g = finalCheckpoint(straight, 'guided').arrays;
    const [name, w] = [...a].find(([n]) => n.startsWith('w/'))!;
    assert.ok(!Buffer.from(w.data.buffer).equals(Buffer.from(g.get(name)!.data.buffer)), name);
  });

  it('stopped mid-consistency (twice) and resumed gives bit-identical final checkpoints', async () => {
    const broken = await newRun('both-broken', BOTH);
    await runWithStops(broken, ['consistency-4@7', 'consistency-2@3']);
    const ends = readEvents(broken)
      .events.filter((e) => e.type === 'run_end')
      .map((e) => (e as { status: string }).status);
    assert.deepEqual(ends, ['stopped', 'stopped', 'finished']);
    assertSameCheckpoints(straight, broken, ['teacher', 'guided', 'progressive-4-2', ...CONSISTENCY_UNITS]);
  });

  it('a changed consistency.lr refuses to resume the unit, naming its checkpoint', async () => {
    const runDir = await newRun('both-lr', BOTH);
    const ac = new AbortController();
    const stopped = await runStages({
      runDir,
      summary: false,
      signal: ac.signal,
      onEvent: (e) => e.type === 'loss' && e.unit === 'consistency-2' && e.step === 3 && ac.abort(),
    });
    assert.equal(stopped, 'stopped');
    editConfig(runDir, (raw) => {
      (raw.consistency as { lr: number }).lr = 0.002;
    });
    await assert.rejects(
      runStages({ runDir, summary: false }),
      /checkpoints[/\\]consistency-2[/\\]step-0000003\.ckpt: written for another configuration/,
    );
  });

  it('adding consistency to a finished progressive run trains only the consistency students', async () => {
    const runDir = await newRun('progressive-only', { checkpoint: BOTH.checkpoint, log: BOTH.log });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const kept = ['teacher', 'guided', 'progressive-4-2'];
    const snapshot = () =>
      kept.flatMap((u) =>
        listCheckpoints(runDir, u).map((c) => [c.file, fs.readFileSync(path.join(runDir, c.file)).toString('base64')]),
      );
    const before = snapshot();
    editConfig(runDir, (raw) => {
      raw.methods = BOTH.methods;
      raw.consistency = BOTH.consistency;
    });
    const seen: string[] = [];
    const status = await runStages({
      runDir,
      summary: false,
      onEvent: (e) => e.type === 'stage_start' && seen.push(e.unit),
    });
    assert.equal(status, 'finished');
    assert.deepEqual(seen, CONSISTENCY_UNITS);
    assert.deepEqual(snapshot(), before, 'teacher, guided and progressive checkpoints untouched');
    // the same students as a run that had both methods from the start
    for (const unit of CONSISTENCY_UNITS) {
      const a = finalCheckpoint(straight, unit).arrays;
      const b = finalCheckpoint(runDir, unit).arrays;
      for (const [name, x] of a)
        assert.ok(Buffer.from(x.data.buffer).equals(Buffer.from(b.get(name)!.data.buffer)), `${unit} ${name}`);
    }
  });
});
