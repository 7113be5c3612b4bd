// Worker supervision with real child processes. The crash / hang / garbage cases use a small test double
// (test/fixtures/extension-fake-worker.js); the real start → stop → kill -9 → resume path runs dist/worker.js and the engine.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunManager, RunOutcome } from '../../src/extension/model/manager';
import { WorkerClient } from '../../src/worker/client';
import { describeRun } from '../../src/engine/run/run-folder';
import type { RunEvent } from '../../src/engine/run/events';

const FAKE = path.join(__dirname, '..', 'fixtures', 'extension-fake-worker.js');

function fakeConfig(mode: string): { configPath: string; runsDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-sup-'));
  const configPath = path.join(dir, 'fake.distill.json');
  fs.writeFileSync(configPath, JSON.stringify({ fake: mode }));
  return { configPath, runsDir: path.join(dir, 'runs') };
}

test('a worker that crashes mid-run: the run is closed as failed with the last lines of its stderr', async () => {
  const { configPath, runsDir } = fakeConfig('crash');
  const m = new RunManager({ workerPath: FAKE });
  const seen: RunEvent[] = [];
  m.onRunEvent((_d, e) => seen.push(e));
  const ended: RunOutcome[] = [];
  m.onRunEnded((o) => ended.push(o));
  const { runDir, done } = await m.start(configPath, runsDir);
  assert.equal(m.isActive(runDir), true);
  const outcome = await done;
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.message!, /exited with code 3/);
  assert.ok(
    outcome.tail!.some((l) => l.includes('RangeError: fake out of memory')),
    outcome.tail!.join('\n'),
  );
  assert.equal(m.isActive(runDir), false);
  assert.deepEqual(
    ended.map((o) => o.status),
    ['failed'],
  );
  const d = describeRun(runDir);
  assert.equal(d.summary.status, 'failed');
  assert.match(d.summary.lastError!, /exited with code 3[\s\S]*RangeError: fake out of memory/);
  assert.deepEqual(
    d.summary.units[0].checkpoints.map((c) => c.step),
    [10],
    'checkpoints are kept',
  );
  assert.ok(
    seen.some((e) => e.type === 'run_end' && e.status === 'failed'),
    'listeners see the failure record',
  );
  await m.dispose();
});

test('a worker that ignores stop is killed after the timeout and the run shows failed', async () => {
  const { configPath, runsDir } = fakeConfig('hang');
  const m = new RunManager({ workerPath: FAKE, stopTimeoutMs: 500 });
  const { runDir, done } = await m.start(configPath, runsDir);
  const t0 = Date.now();
  assert.equal(await m.stop(runDir), 'worker');
  assert.ok(Date.now() - t0 >= 450, 'waited for the timeout');
  const outcome = await done;
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.message!, /SIGKILL/);
  assert.ok(outcome.tail!.some((l) => /did not stop within/.test(l)));
  assert.equal(describeRun(runDir).summary.status, 'failed');
  await m.dispose();
});

test('malformed worker messages are dropped; valid ones still flow', async () => {
  const { configPath, runsDir } = fakeConfig('garbage');
  const invalid: unknown[] = [];
  const events: RunEvent[] = [];
  const c = new WorkerClient({
    workerPath: FAKE,
    onInvalid: (m) => invalid.push(m),
    onEvent: (_d, e) => events.push(e),
  });
  await c.ready;
  const r = c.start({ configPath, runsDir });
  assert.equal(path.basename(await r.created), 'fake-run');
  assert.equal(await r.done, 'finished');
  assert.equal(invalid.length, 3);
  assert.deepEqual(
    events.map((e) => e.type),
    ['run_start', 'stage_start', 'loss', 'run_end'],
  );
  const exit = await c.dispose();
  assert.equal(exit.crashed, false);
  assert.equal(exit.requested, true);
});

test('a worker that cannot start is reported, not hung on', async () => {
  const c = new WorkerClient({ workerPath: FAKE, nodePath: '/nonexistent/node' });
  await assert.rejects(c.ready, /before it was ready/);
  const exit = await c.exited;
  assert.equal(exit.crashed, true);
  await assert.rejects(c.resume('/x'), /not running/);
});
