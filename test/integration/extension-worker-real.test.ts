// The real path: dist/worker.js (built by `npm test` / `npm run build`) running the engine on a tiny toy config,
// supervised by the extension's RunManager: start → stop (graceful, checkpoint) → resume → kill -9 (failed) → resume → finished.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunManager } from '../../src/extension/model/manager';
import { describeRun } from '../../src/engine/run/run-folder';
import type { RunEvent } from '../../src/engine/run/events';
import type { SampleResult } from '../../src/protocol';
import { toyConfig } from '../helpers/toy-config';

const WORKER = path.resolve(__dirname, '../../dist/worker.js');

const TOY = toyConfig({ sampling: { perClass: 1 } });

/** Resolves with the first event that matches. */
function nextEvent(m: RunManager, match: (e: RunEvent) => boolean): Promise<RunEvent> {
  return new Promise((resolve) => {
    const sub = m.onRunEvent((_d, e) => {
      if (match(e)) {
        sub.dispose();
        resolve(e);
      }
    });
  });
}

test('real worker: start, graceful stop with a checkpoint, kill -9 shows failed, resume finishes', {
  timeout: 240_000,
}, async () => {
  assert.ok(fs.existsSync(WORKER), `${WORKER} is missing: run \`npm run build\` first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-real-'));
  const configPath = path.join(dir, 'toy.distill.json');
  fs.writeFileSync(configPath, JSON.stringify(TOY));
  const runsDir = path.join(dir, 'runs');
  const logs: string[] = [];
  const m = new RunManager({ workerPath: WORKER, stopTimeoutMs: 30_000, log: (_l, t) => logs.push(t) });
  const seen: RunEvent[] = [];
  m.onRunEvent((_d, e) => seen.push(e));
  try {
    // 1. start, then stop gracefully once training is under way.
    const firstLoss = nextEvent(m, (e) => e.type === 'loss' && e.unit === 'teacher' && e.step >= 20);
    const { runDir, done } = await m.start(configPath, runsDir);
    assert.ok(fs.existsSync(path.join(runDir, 'config.json')));
    await firstLoss;
    assert.equal(await m.stop(runDir), 'worker');
    const stopped = await done;
    assert.equal(stopped.status, 'stopped', `${stopped.message ?? ''}\n${logs.slice(-10).join('\n')}`);
    const d1 = describeRun(runDir);
    assert.equal(d1.summary.status, 'stopped');
    const teacher1 = d1.summary.units.find((u) => u.unit === 'teacher')!;
    assert.ok(teacher1.checkpoints.length > 0, 'a checkpoint was saved on stop');
    const stopStep = Math.max(...teacher1.checkpoints.map((c) => c.step));
    assert.ok(stopStep >= 20 && stopStep < 400, `stopped mid-teacher at ${stopStep}`);
    assert.equal(d1.lock, undefined, 'the lock is released');
    assert.equal(m.isActive(runDir), false);

    // 2. resume, then kill -9 the worker mid-run: the run shows failed, checkpoints are kept.
    const lossAfter = nextEvent(m, (e) => e.type === 'loss' && e.unit === 'teacher' && e.step > stopStep + 10);
    const r2 = m.resume(runDir);
    await lossAfter;
    const pid = m.workerPid(runDir)!;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    const crashed = await r2.done;
    assert.equal(crashed.status, 'failed');
    assert.match(crashed.message!, /SIGKILL/);
    const d2 = describeRun(runDir);
    assert.equal(d2.summary.status, 'failed');
    assert.ok(d2.summary.units.find((u) => u.unit === 'teacher')!.checkpoints.some((c) => c.step >= stopStep));

    // 3. resume again: it finishes every stage.
    const r3 = m.resume(runDir);
    const finished = await r3.done;
    assert.equal(finished.status, 'finished', `${finished.message ?? ''}\n${logs.slice(-10).join('\n')}`);
    const d3 = describeRun(runDir);
    assert.equal(d3.summary.status, 'finished');
    assert.deepEqual(
      d3.summary.units.map((u) => [u.unit, u.done]),
      [
        ['teacher', true],
        ['guided', true],
        ['progressive-4-2', true],
      ],
    );
    assert.ok(seen.some((e) => e.type === 'run_end' && e.status === 'finished'));

    // 4. the tools worker samples a grid from the final student.
    let progressCalls = 0;
    const grid: SampleResult = await m.sample(
      { runDir, stage: 'progressive', steps: 2, sampler: 'ddim', w: [0, 2], classes: [0, 1], perClass: 1, seed: 0 },
      () => progressCalls++,
    );
    assert.equal(grid.cols, 2);
    assert.equal(grid.steps, 2);
    assert.ok(Buffer.from(grid.pngBase64, 'base64').subarray(1, 4).toString() === 'PNG');
  } finally {
    await m.dispose();
  }
});
