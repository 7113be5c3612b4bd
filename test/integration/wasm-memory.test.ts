/**
 * The wasm backend's 4 GiB heap: a tensor it cannot allocate is a clear error naming its size (not a tensor at address
 * 0 that later kernels write over), and a WebAssembly trap — in this thread or in a data-parallel worker — becomes a
 * message that says what to change. Checked on the explanations themselves and on a real run that exceeds the heap.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend/select';
import { explainWasmTrap, WasmOutOfMemory } from '../../src/engine/backend/wasm/heap';

const REPO = path.resolve(__dirname, '..', '..');
const GiB = 2 ** 30;

describe('explainWasmTrap', () => {
  const trap = (m: string) => new WebAssembly.RuntimeError(m);
  it('a trap with the heap near its cap: out of memory, and what to change', () => {
    const e = explainWasmTrap(trap('memory access out of bounds'), 3.9 * GiB) as Error;
    assert.ok(e instanceof WasmOutOfMemory);
    assert.equal(
      e.message,
      'the wasm backend ran out of memory (WebAssembly memory access out of bounds with its heap at 3,994 MiB): ' +
        'its heap cannot grow past 4,096 MiB. Lower the batch size (teacher, guided, progressive or consistency "batch") or model.channels, or ' +
        'train on a GPU (backend "webgpu"; `distill backends` shows what this machine has)',
    );
  });
  it('a trap well below the cap: most likely one allocation too large, or a fault to report', () => {
    const e = explainWasmTrap(trap('Aborted(). Build with -sASSERTIONS for more info.'), 1.3 * GiB) as Error;
    assert.match(
      e.message,
      /^the wasm backend failed \(WebAssembly Aborted\(\)\) with its heap at 1,331 MiB of its 4,096 MiB cap: most likely one allocation larger than what is left\. .* please report it/,
    );
  });
  it("a data-parallel worker's trap, as its message arrives: the worker and its heap are named", () => {
    const msg = `training worker 1 (wasm heap ${4200 * 2 ** 20} bytes): RuntimeError: remainder by zero\n    at wasm://wasm/0019ea4a:wasm-function[18]:0x21ec`;
    const e = explainWasmTrap(new Error(msg), 20 * 2 ** 20) as Error;
    assert.match(
      e.message,
      /^data-parallel training worker 1 ran out of memory \(WebAssembly remainder by zero with its heap at 4,200 MiB\): /,
    );
  });
  it('anything else is left alone: other errors, a GPU out of memory, a trap when wasm is not the backend', () => {
    const plain = new Error('loss is NaN at step 120');
    assert.equal(explainWasmTrap(plain, 3.9 * GiB), plain);
    const gpu = new Error('the GPU ran out of memory (Out of memory); lower the batch size');
    assert.equal(explainWasmTrap(gpu, undefined), gpu);
    const t = trap('memory access out of bounds');
    assert.equal(explainWasmTrap(t, undefined), t);
    assert.equal(explainWasmTrap('text', 3.9 * GiB), 'text');
  });
});

describe('the wasm heap in practice', () => {
  it('a tensor of 4 GiB is refused with its size (it used to wrap to a 0-byte allocation), and the backend keeps working', async () => {
    await selectBackend({ backend: 'wasm', threads: 1 });
    const before = tf.memory().numTensors;
    assert.throws(
      () => tf.zeros([GiB]),
      (e: Error) =>
        e instanceof WasmOutOfMemory &&
        /^the wasm backend could not allocate 4,096 MiB for a tensor \(heap at \d[\d,]* MiB, which cannot grow past 4,096 MiB\)\. Lower the batch size/.test(
          e.message,
        ),
    );
    const y = tf.add(tf.scalar(1), tf.scalar(2));
    assert.equal((await y.data())[0], 3);
    y.dispose();
    assert.ok(tf.memory().numTensors <= before + 2, `${tf.memory().numTensors} tensors`);
  });

  it('distill run past the heap (attention over 32×32 at batch 1024) fails with the explanation, on the terminal and in the event log', () => {
    const cli = path.join(REPO, 'dist', 'cli.js');
    assert.ok(fs.existsSync(cli), 'run npm run build first (npm test does)');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-wasm-heap-'));
    try {
      fs.writeFileSync(
        path.join(tmp, 'big.json'),
        JSON.stringify({
          name: 'big',
          seed: 0,
          backend: 'wasm',
          threads: 1,
          data: { kind: 'mnist', imageSize: 32 },
          model: { kind: 'unet', channels: [8], blocksPerLevel: 1, attention: true, groups: 4, embedDim: 16 },
          teacher: { steps: 2, batch: 1024 },
          guided: { steps: 1, batch: 16 },
          progressive: { n0: 4, targetSteps: 2, steps: 1, batch: 16 },
          sampling: { interval: 0, teacherSteps: 4 },
          log: { interval: 1 },
        }),
      );
      const r = spawnSync(process.execPath, [cli, 'run', 'big.json', '--runs-dir', 'runs', '--name', 'big'], {
        cwd: tmp,
        encoding: 'utf8',
        timeout: 300_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      const explained =
        /the wasm backend (ran out of memory|failed \(WebAssembly [^)]*\) with its heap at [\d,]+ MiB of its 4,096 MiB cap: most likely one allocation larger than what is left|could not allocate [\d,]+ MiB for a tensor)/;
      assert.match(r.stderr, new RegExp(`error: ${explained.source}`));
      assert.match(r.stderr, /Lower the batch size \(teacher, guided, progressive or consistency "batch"\)/);
      const events = fs
        .readFileSync(path.join(tmp, 'runs', 'big', 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; message?: string; status?: string });
      const err = events.find((e) => e.type === 'error');
      assert.ok(err && explained.test(err.message!), JSON.stringify(err));
      assert.equal(events.at(-1)!.status, 'failed');
      const ckpts = path.join(tmp, 'runs', 'big', 'checkpoints');
      const saved = fs.existsSync(ckpts)
        ? fs.readdirSync(ckpts).flatMap((u) => fs.readdirSync(path.join(ckpts, u)))
        : [];
      assert.deepEqual(saved, [], 'no checkpoint of a failed first step');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
