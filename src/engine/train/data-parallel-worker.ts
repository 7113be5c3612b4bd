/**
 * A data-parallel training worker (worker_threads; see data-parallel.ts). It owns a single-threaded backend, a
 * replica of the student and, for distillation units, the frozen network loaded from the same checkpoint as
 * the main thread. Per step it receives the current weights and its shard of the batch and returns its
 * shard's loss and gradients, both weighted by the shard's share of the batch. It never updates weights.
 */
import { parentPort } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { BackendChoice, selectBackend } from '../backend/select';
import { readCheckpoint } from '../run/checkpoint';
import { ResolvedConfig } from '../run/config';
import { StageName } from '../run/events';
import { Net } from '../nn/net';
import { loadEvalWeights } from './optimizer';
import { buildStepLoss, LossSpec, netForUnit, StepInputs } from './losses';
import { wasmHeapBytes } from '../backend/wasm/heap';

if (!parentPort) throw new Error('the data-parallel worker must run in a worker thread');
const port = parentPort;

export interface TrainWorkerInit {
  type: 'init';
  id: number;
  cfg: ResolvedConfig;
  spec: LossSpec;
  numClasses: number;
  backend: Exclude<BackendChoice, 'auto' | 'tensorflow'>;
  wasmDir?: string;
  /** Distillation units: the checkpoint the frozen network is loaded from, and that network's stage. */
  frozen?: { file: string; stage: StageName };
}

let id = -1;
let cfg: ResolvedConfig;
let spec: LossSpec;
let student: Net | undefined;
let frozen: Net | undefined;

function handle(msg: Record<string, unknown>): Promise<void> | void {
  switch (msg.type) {
    case 'init':
      return init(msg as unknown as TrainWorkerInit);
    case 'step': {
      const net = student!;
      const params = net.params.list();
      const weights = msg.weights as Float32Array[] | null;
      if (weights) {
        tf.tidy(() =>
          params.forEach(({ variable }, i) => variable.assign(tf.tensor(weights[i], variable.shape, 'float32'))),
        );
      }
      const share = msg.share as number;
      const { lossFn, release } = buildStepLoss(cfg, spec, net, frozen, msg.inputs as StepInputs);
      let loss: number;
      const grads: Float32Array[] = [];
      try {
        const { value, grads: g } = tf.variableGrads(
          lossFn,
          params.map((p) => p.variable),
        );
        loss = value.dataSync()[0] * share;
        for (const { variable } of params) {
          const d = g[variable.name].dataSync() as Float32Array;
          const out = new Float32Array(d.length);
          for (let i = 0; i < d.length; i++) out[i] = d[i] * share;
          grads.push(out);
        }
        tf.dispose([value, ...Object.values(g)]);
      } finally {
        release();
      }
      port.postMessage(
        { type: 'grads', loss, grads, numTensors: tf.memory().numTensors },
        grads.map((g) => g.buffer as ArrayBuffer),
      );
      return;
    }
    default:
      throw new Error(`unknown message ${String(msg.type)}`);
  }
}

async function init(m: TrainWorkerInit): Promise<void> {
  id = m.id;
  cfg = m.cfg;
  spec = m.spec;
  tf.env().set('PROD', true);
  const backend = await selectBackend({ backend: m.backend, threads: 1, wasmDir: m.wasmDir });
  const data = { shape: spec.exampleShape, numClasses: m.numClasses };
  student = netForUnit(cfg, data, spec.stage);
  if (m.frozen) {
    const { arrays } = readCheckpoint(m.frozen.file);
    frozen = netForUnit(cfg, data, m.frozen.stage);
    loadEvalWeights(frozen, arrays, m.frozen.file);
  }
  port.postMessage({ type: 'ready', names: student.params.list().map((p) => p.name), backend });
}

// Messages are handled strictly in order; a failure is reported and ends the worker's usefulness.
let chain: Promise<void> = Promise.resolve();
port.on('message', (msg: Record<string, unknown>) => {
  chain = chain
    .then(() => handle(msg))
    .catch((e: Error) => {
      // The heap size lets the main thread tell a full 4 GiB wasm heap (lower the batch) from a fault (wasm/heap.ts).
      const heap = wasmHeapBytes();
      port.postMessage({
        type: 'error',
        message: `training worker ${id}${heap !== undefined ? ` (wasm heap ${heap} bytes)` : ''}: ${e.stack ?? e.message}`,
      });
    });
});
