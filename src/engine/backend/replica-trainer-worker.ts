/** Worker side of data_parallel.ts (one replica, single-threaded backend). */
import { createRequire } from 'module';
import { parentPort } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './select';
import type { AdamSpec, HostBatch, Replica } from './replica-trainer';

if (!parentPort) throw new Error('data_parallel_worker must run in a worker thread');
const port = parentPort;

let replica: Replica | null = null;
let optimizer: tf.Optimizer | null = null;
let id = 0, workers = 1;
let sizes: number[] = [];
let total = 0;
let grads: Float32Array | null = null;

function reply(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function handle(msg: Record<string, unknown>): Promise<void> {
  switch (msg.type) {
    case 'init': {
      id = msg.id as number;
      const backend = await selectBackend({ backend: msg.backend as 'wasm', threads: 1, wasmDir: msg.wasmDir as string | undefined });
      const mod = createRequire(__filename)(msg.module as string) as Record<string, (args: unknown) => Replica | Promise<Replica>>;
      const factory = mod[msg.exportName as string];
      if (typeof factory !== 'function') throw new Error(`${msg.module as string} does not export ${msg.exportName as string}()`);
      replica = await factory(msg.args);
      const o = msg.optimizer as AdamSpec;
      if (o.name !== 'adam') throw new Error(`unsupported optimizer ${String(o.name)}`);
      optimizer = tf.train.adam(o.learningRate, o.beta1, o.beta2, o.epsilon);
      sizes = replica.vars.map((v) => v.size);
      total = sizes.reduce((a, b) => a + b, 0);
      reply({ type: 'ready', sizes, backend });
      return;
    }
    case 'buffers': {
      workers = msg.workers as number;
      grads = new Float32Array(msg.grads as SharedArrayBuffer);
      reply({ type: 'buffers-ok' });
      return;
    }
    case 'grads': {
      const r = replica as Replica, slot = (grads as Float32Array).subarray(id * total, (id + 1) * total);
      const shard = msg.shard as HostBatch | null;
      const weight = msg.weight as number;
      if (!shard || weight === 0) { slot.fill(0); reply({ type: 'grads-done', weightedLoss: 0 }); return; }
      const inputs: Record<string, tf.Tensor> = {};
      for (const [k, t] of Object.entries(shard)) inputs[k] = tf.tensor(t.data, t.shape, 'float32');
      const { value, grads: g } = tf.variableGrads(() => r.loss(inputs), r.vars);
      let off = 0;
      for (const v of r.vars) {
        const gv = g[v.name];
        const d = gv.dataSync() as Float32Array;
        for (let i = 0; i < d.length; i++) slot[off + i] = d[i] * weight;
        off += d.length;
      }
      const loss = value.dataSync()[0] * weight;
      tf.dispose([value, ...Object.values(g), ...Object.values(inputs)]);
      reply({ type: 'grads-done', weightedLoss: loss });
      return;
    }
    case 'apply': {
      const r = replica as Replica, all = grads as Float32Array;
      const named: tf.NamedTensorMap = {};
      let off = 0;
      r.vars.forEach((v, i) => {
        const sum = new Float32Array(sizes[i]);
        for (let w = 0; w < workers; w++) {
          const src = all.subarray(w * total + off, w * total + off + sizes[i]);
          for (let j = 0; j < sum.length; j++) sum[j] += src[j];
        }
        named[v.name] = tf.tensor(sum, v.shape, 'float32');
        off += sizes[i];
      });
      (optimizer as tf.Optimizer).applyGradients(named);
      tf.dispose(Object.values(named));
      reply({ type: 'applied' });
      return;
    }
    case 'get-weights': {
      const weights = (replica as Replica).vars.map((v) => (v.dataSync() as Float32Array).slice());
      reply({ type: 'weights', weights }, weights.map((w) => w.buffer as ArrayBuffer));
      return;
    }
    case 'set-weights': {
      const ws = msg.weights as Float32Array[];
      (replica as Replica).vars.forEach((v, i) => {
        const t = tf.tensor(ws[i], v.shape, 'float32');
        v.assign(t);
        t.dispose();
      });
      reply({ type: 'weights-set' });
      return;
    }
    default:
      throw new Error(`unknown message ${String(msg.type)}`);
  }
}

// Messages are handled strictly in order.
let chain: Promise<void> = Promise.resolve();
port.on('message', (msg: Record<string, unknown>) => {
  chain = chain.then(() => handle(msg)).catch((e: Error) => reply({ type: 'error', message: `worker ${id}: ${e.stack ?? e.message}` }));
});
