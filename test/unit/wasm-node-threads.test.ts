/**
 * The Node start-up of the threaded wasm backend: the pthread worker script it writes, and a worker that
 * is gone before it loaded the module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as worker_threads from 'worker_threads';
import { wasmPackageDir } from '../../src/engine/backend/select';
import {
  THREADED_FACTORY_JS,
  newThreadedProgress,
  withNodeThreadedInit,
} from '../../src/engine/backend/wasm/node-threads';

const pkgDir = wasmPackageDir() as string;
const factory = path.join(pkgDir, 'wasm-out', THREADED_FACTORY_JS);

/** The pthread worker script tfjs-backend-wasm hands to `new Blob` for every worker. */
function tfjsWorkerContents(): string {
  const src = fs.readFileSync(path.join(pkgDir, 'dist', 'tf-backend-wasm.node.js'), 'utf8');
  const m = /var wasmWorkerContents = ("(?:[^"\\]|\\.)*");/.exec(src);
  assert.ok(m, 'tfjs-backend-wasm no longer declares wasmWorkerContents');
  return JSON.parse(m[1]) as string;
}

test('the worker script is written once per start-up: a later worker never rewrites the file an earlier one reads', async () => {
  const contents = tfjsWorkerContents();
  const seen: { file: string; ino: bigint; mtimeNs: bigint; text: string }[] = [];
  await withNodeThreadedInit(factory, 2, async () => {
    // What tfjs's locateFile does for each of the 8 workers of Emscripten's pool.
    for (let i = 0; i < 8; i++) {
      const blob = new Blob([contents.replace(/\n/g, '\\n')], { type: 'application/javascript' });
      const file = URL.createObjectURL(blob);
      const st = fs.statSync(file, { bigint: true });
      seen.push({ file, ino: st.ino, mtimeNs: st.mtimeNs, text: fs.readFileSync(file, 'utf8') });
    }
    return true;
  });
  assert.equal(new Set(seen.map((s) => s.file)).size, 1, 'one script for all workers');
  for (const s of seen.slice(1)) {
    assert.equal(s.ino, seen[0].ino, 'the file was replaced after a worker had been given it');
    assert.equal(s.mtimeNs, seen[0].mtimeNs, 'the file was rewritten after a worker had been given it');
  }
  assert.ok(
    seen[0].text.includes(
      `importScripts(${JSON.stringify(path.join(path.dirname(seen[0].file), THREADED_FACTORY_JS))})`,
    ),
  );
  assert.ok(!seen[0].text.includes('createObjectURL'), 'the worker loads the factory from a file, not a blob');
  assert.equal(fs.readdirSync(path.dirname(seen[0].file)).filter((f) => f.endsWith('.tmp')).length, 0);
});

test('a pthread worker that exits before it loaded the module fails the start-up at once, with its exit code', async () => {
  const progress = newThreadedProgress();
  const t0 = Date.now();
  await assert.rejects(
    withNodeThreadedInit(
      factory,
      2,
      () => {
        // An empty script: the worker ends at once, as one given a truncated file did.
        new worker_threads.Worker('', { eval: true });
        return new Promise<boolean>(() => undefined); // the module's start-up, waiting for that worker forever
      },
      progress,
    ),
    /^Error: a wasm pthread worker exited \(code 0\) before it loaded the module/,
  );
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
  assert.equal(progress.created, 1);
  assert.equal(progress.exited, 1);
  assert.equal(progress.loaded, 0);
  assert.equal(worker_threads.Worker.name, 'Worker', 'the Worker class is restored after the start-up');
});
