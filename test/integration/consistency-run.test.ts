/**
 * Runs with both stage-2 methods on the 2-D toy (wasm, one thread, seeded): the consistency students train to the
 * end after the progressive ones, resume bit for bit, carry their own hash, and can be added to a finished run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { createRun, ensureBackend, loadRunConfig, runStages } from '../../src/engine';
import { readCheckpoint } from '../../src/engine/run/checkpoint';
import { configHash, unitHash } from '../../src/engine/run/config';
import { defaultEditTarget } from '../../src/engine/tasks/edit';
import { editStudentTarget } from '../../src/engine/tasks/edit-request';
import { resolveCheckpoint } from '../../src/engine/tasks/open-run';
import { decodePng } from '../../src/engine/io/png';
import { FILES, listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { runWithStops } from '../helpers/runs';
import { toyConfig } from '../helpers/toy-config';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
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

describe('memory', () => {
  it('does not leak tensors across consistency steps: tf.memory().numTensors is the same at step 10 and step 60', async () => {
    const runDir = await newRun('both-leak', BOTH, {
      consistency: { ...BOTH.consistency, steps: 60, studentSteps: [2] },
      sampling: { interval: 20, teacherSteps: 4 },
      checkpoint: { interval: 25, keep: 1 },
      log: { interval: 10 },
    });
    const counts = new Map<number, number>();
    assert.equal(
      await runStages({
        runDir,
        summary: false,
        onEvent: (e) => {
          if (e.type === 'loss' && e.unit === 'consistency-2' && (e.step === 10 || e.step === 60))
            counts.set(e.step, tf.memory().numTensors);
        },
      }),
      'finished',
    );
    assert.equal(counts.size, 2);
    assert.equal(counts.get(60), counts.get(10));
  });
});

describe('consistency students in the tasks and the CLI', () => {
  const distill = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 240_000 });
  let runDir: string;

  before(() => {
    if (!fs.existsSync(CLI)) {
      const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('distill run prints each consistency student with its steps', () => {
    fs.writeFileSync(path.join(tmp, 'cli.distill.json'), JSON.stringify(toyConfig(BOTH)));
    const r = distill(['run', 'cli.distill.json', '--runs-dir', 'runs', '--name', 'cli']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const n of [4, 2, 1])
      assert.match(r.stdout, new RegExp(`▶ consistency-${n} \\(${n}-step consistency student\\): 12 steps`));
    assert.match(r.stdout, /▶ progressive-4-2 \(4 → 2 sampling steps\)/);
    runDir = path.join(tmp, 'runs', 'cli');
  });

  it('distill sample --stage consistency --steps K samples the K-step consistency student; other K are refused', () => {
    const r = distill(['sample', runDir, '--stage', 'consistency', '--steps', '2', '--w', '0,2', '--out', 'c2.png']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /grid/);
    const img = decodePng(fs.readFileSync(path.join(tmp, 'c2.png')));
    assert.ok(img.width > 0 && img.height > 0);
    const bad = distill(['sample', runDir, '--stage', 'consistency', '--steps', '8', '--w', '1', '--out', 'x.png']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--steps 8: no consistency student has 8 steps; available: 4, 2, 1/);
  });

  it('distill export --stage consistency --steps K exports that student', () => {
    const out = path.join(tmp, 'export-c1');
    const r = distill(['export', runDir, '--stage', 'consistency', '--steps', '1', '--out', out]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.unit, 'consistency-1');
    assert.equal(m.stage, 'consistency');
    assert.equal(m.steps, 1);
    assert.match(m.description, /^Consistency student \(consistency-1\): 1 network evaluation per sample/);
  });

  it('resolveCheckpoint, the edit defaults and the Edit tab pick consistency students by method and steps', () => {
    const cfg = loadRunConfig(runDir);
    const r = resolveCheckpoint(runDir, cfg, { stage: 'consistency', steps: 4 });
    assert.equal(r.unit, 'consistency-4');
    assert.equal(r.netStage, 'consistency');
    assert.match(r.file, /checkpoints[/\\]consistency-4[/\\]step-0000012\.ckpt$/);
    assert.equal(resolveCheckpoint(runDir, cfg, { stage: 'progressive', steps: 2 }).unit, 'progressive-4-2');
    // the last unit trained is the most distilled consistency student
    assert.deepEqual(defaultEditTarget(runDir, cfg, undefined, undefined), { stage: 'consistency', steps: 1 });
    assert.deepEqual(defaultEditTarget(runDir, cfg, 'progressive', undefined), { stage: 'progressive', steps: 2 });
    // a progressive student of K steps first, then a consistency one
    assert.deepEqual(editStudentTarget(runDir, cfg, 2), { stage: 'progressive', steps: 2 });
    assert.deepEqual(editStudentTarget(runDir, cfg, 4), { stage: 'consistency', steps: 4 });
    const progressiveOnly = { ...cfg, methods: ['progressive' as const], consistency: undefined };
    assert.throws(
      () => resolveCheckpoint(runDir, progressiveOnly, { stage: 'consistency', steps: 4 }),
      /--stage consistency: this run trains no consistency students \(methods in its config.json: progressive\)/,
    );
  });
});
