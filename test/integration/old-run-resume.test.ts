/**
 * Run folders made by older versions resume bit for bit. The fixture (fixtures/old-run, made by its make-fixture.ts
 * with an earlier version of the code) holds one tiny toy2d run stopped twice — inside the teacher and inside the last
 * progressive phase — and the losses and final checkpoints of the same run trained straight through by that version.
 * Resuming either copy with the current code must reproduce every loss and every final checkpoint body exactly.
 * Only the public engine API and the run folder's files are used.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBackend, loadRunConfig, readEvents, runHash, runStages } from '../../src/engine';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'old-run');
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as {
  losses: { unit: string; step: number; loss: number }[];
  finalSha256: Record<string, string>;
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-old-run-'));

/** The SHA-256 of a checkpoint's body (every tensor: weights, EMA, optimiser moments), as its header records it. */
function bodySha256(file: string): string {
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'DDCKPT1\n', `${file}: checkpoint magic`);
  const n = buf.readUInt32LE(8);
  return (JSON.parse(buf.subarray(12, 12 + n).toString('utf8')) as { sha256: string }).sha256;
}

function finalCheckpoints(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const unit of fs.readdirSync(path.join(runDir, 'checkpoints')).sort()) {
    const last = fs
      .readdirSync(path.join(runDir, 'checkpoints', unit))
      .filter((f) => f.endsWith('.ckpt'))
      .sort()
      .pop()!;
    out[unit] = bodySha256(path.join(runDir, 'checkpoints', unit, last));
  }
  return out;
}

before(async () => {
  await ensureBackend('wasm', 1);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('an old run folder resumes bit for bit', () => {
  it('its progressive.targetSteps cannot change: its checkpoints carry the hash that includes it', () => {
    const runDir = path.join(tmp, 'retargeted');
    fs.cpSync(path.join(FIXTURE, 'stopped-in-progressive'), runDir, { recursive: true });
    const cfgFile = path.join(runDir, 'config.json');
    const raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    raw.progressive.targetSteps = 1;
    fs.writeFileSync(cfgFile, JSON.stringify(raw, null, 2));
    assert.throws(() => loadRunConfig(runDir), /was changed after the run was created .*start a new run instead/);
  });

  it('the straight run has the expected shape: 12 + 8 + 8 losses, three final checkpoints', () => {
    assert.equal(expected.losses.length, 28);
    assert.deepEqual(Object.keys(expected.finalSha256).sort(), ['guided', 'progressive-4-2', 'teacher']);
  });

  for (const [copy, stoppedAt] of [
    ['stopped-in-teacher', 'teacher@7'],
    ['stopped-in-progressive', 'progressive-4-2@5'],
  ] as const) {
    it(`${copy}: its config still hashes as recorded, and resuming reproduces every loss and final weight`, async () => {
      const runDir = path.join(tmp, copy);
      fs.cpSync(path.join(FIXTURE, copy), runDir, { recursive: true });
      const recorded = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { configHash: string };
      assert.equal(runHash(loadRunConfig(runDir), recorded.configHash), recorded.configHash);

      const old = readEvents(runDir).events;
      const oldLosses = old.filter((e) => e.type === 'loss');
      const last = oldLosses[oldLosses.length - 1] as { unit: string; step: number };
      assert.equal(`${last.unit}@${last.step}`, stoppedAt, 'the fixture stopped where its name says');

      assert.equal(await runStages({ runDir, summary: false }), 'finished');
      const { events } = readEvents(runDir);
      const starts = events.filter((e) => e.type === 'run_start');
      assert.equal(starts.length, old.filter((e) => e.type === 'run_start').length + 1);
      assert.equal((starts[starts.length - 1] as { resumed: boolean }).resumed, true);
      const losses = events.flatMap((e) => (e.type === 'loss' ? [{ unit: e.unit, step: e.step, loss: e.loss }] : []));
      assert.deepEqual(losses, expected.losses);
      assert.deepEqual(finalCheckpoints(runDir), expected.finalSha256);
    });
  }
});
