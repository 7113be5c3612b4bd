/**
 * Data-parallel training across worker_threads: every worker owns a single-threaded tfjs backend
 * (its own wasm instance) and a replica of the model; each step the batch is split along axis 0,
 * workers compute gradients on their shard, the gradients are averaged through a SharedArrayBuffer
 * (weighted by shard size) and every worker applies the same optimizer update, so replicas stay
 * identical.
 *
 * The model is given as a module (path) exporting `createReplica(args) => Replica | Promise<Replica>`:
 *
 *   export function createReplica(args: MyArgs): Replica {
 *     const model = buildModel(args);
 *     return { vars: model.vars, loss: (inputs) => tf.tidy(() => mse(model.apply(inputs.x), inputs.y)) };
 *   }
 *
 * `inputs` are tensors made from the shard of each named input of `step(batch)`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type * as tf from '@tensorflow/tfjs-core';
import { logicalCores } from './select';
import type { BackendChoice, BackendInfo } from './select';

/** A named float32 input; axis 0 is the batch axis. */
export interface HostTensor { data: Float32Array; shape: number[] }
export type HostBatch = Record<string, HostTensor>;

export interface Replica {
  /** Trainable variables, in the same order and shapes in every replica. */
  vars: tf.Variable[];
  /** Scalar loss on this replica's shard (a mean over the shard's samples). */
  loss(inputs: Record<string, tf.Tensor>): tf.Scalar;
}

export interface AdamSpec { name: 'adam'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number }

export interface DataParallelOptions {
  /** Module exporting the replica factory (absolute path; .ts works when running under tsx). */
  module: string;
  /** Export name of the factory, default 'createReplica'. */
  exportName?: string;
  /** Structured-cloneable argument for the factory. */
  args?: unknown;
  /** Number of workers, default = logical cores. */
  workers?: number;
  /** Backend of every worker (always 1 thread), default wasm. */
  backend?: Exclude<BackendChoice, 'tensorflow'> | 'tensorflow';
  wasmDir?: string;
  optimizer: AdamSpec;
  /** Worker entry script; default data_parallel_worker.{ts,js} next to this module (bundles: ship it). */
  workerScript?: string;
}

export type Msg = { type: string; [k: string]: unknown };

/** Request/reply over one worker; a worker error, crash or non-zero exit rejects every pending and later request. */
export class WorkerHandle {
  private waiting: Array<{ type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }> = [];
  private failed: Error | null = null;
  constructor(readonly worker: Worker) {
    worker.on('message', (m: Msg) => {
      if (m.type === 'error') { this.fail(new Error(String(m.message))); return; }
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(m);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`data-parallel worker exited with ${code}`)); });
  }
  private fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
  request(msg: Msg, replyType: string, transfer: ArrayBuffer[] = []): Promise<Msg> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ type: replyType, resolve, reject });
      this.worker.postMessage(msg, transfer);
    });
  }
}

function defaultWorkerScript(): string {
  for (const ext of ['.js', '.ts']) {
    const p = path.join(__dirname, `replica-trainer-worker${ext}`);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`replica-trainer-worker.{js,ts} not found next to ${__dirname}; pass workerScript`);
}

/** Starts a worker thread on `script`; a .ts script (running from source under tsx) gets tsx's CommonJS hooks too. */
export function spawnWorker(script: string): Worker {
  return script.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true })
    : new Worker(script);
}

export class DataParallelTrainer {
  private constructor(private readonly handles: WorkerHandle[], readonly paramSizes: number[],
    readonly backends: BackendInfo[]) {}

  get workers(): number { return this.handles.length; }

  static async start(opts: DataParallelOptions): Promise<DataParallelTrainer> {
    const n = Math.max(1, opts.workers ?? logicalCores());
    const script = opts.workerScript ?? defaultWorkerScript();
    // A .ts worker (running from source under tsx) needs tsx's CommonJS hooks inside the worker too.
    const handles = Array.from({ length: n }, () => new WorkerHandle(spawnWorker(script)));
    try {
      const ready = await Promise.all(handles.map((h, id) => h.request({
        type: 'init', id, module: opts.module, exportName: opts.exportName ?? 'createReplica', args: opts.args,
        backend: opts.backend ?? 'wasm', wasmDir: opts.wasmDir, optimizer: opts.optimizer,
      }, 'ready')));
      const sizes = ready[0].sizes as number[];
      for (const r of ready) {
        if (JSON.stringify(r.sizes) !== JSON.stringify(sizes)) throw new Error('replicas disagree on variable shapes');
      }
      const total = sizes.reduce((a, b) => a + b, 0);
      const grads = new SharedArrayBuffer(4 * total * n);
      await Promise.all(handles.map((h) => h.request({ type: 'buffers', grads, workers: n }, 'buffers-ok')));
      const trainer = new DataParallelTrainer(handles, sizes, ready.map((r) => r.backend as BackendInfo));
      // Start from identical weights: replica 0's.
      await trainer.setWeights(await trainer.getWeights());
      return trainer;
    } catch (e) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw e;
    }
  }

  /** One synchronous step on `batch` (split along axis 0 across workers). Returns the batch-mean loss. */
  async step(batch: HostBatch): Promise<number> {
    const names = Object.keys(batch);
    if (names.length === 0) throw new Error('empty batch');
    const size = batch[names[0]].shape[0];
    for (const k of names) if (batch[k].shape[0] !== size) throw new Error(`input ${k}: batch size ${batch[k].shape[0]} != ${size}`);
    const active = Math.min(this.handles.length, size);
    const bounds = Array.from({ length: active + 1 }, (_, i) => Math.round((i * size) / active));
    const replies = await Promise.all(this.handles.map((h, w) => {
      if (w >= active) return h.request({ type: 'grads', shard: null, weight: 0 }, 'grads-done');
      const shard: HostBatch = {};
      const transfer: ArrayBuffer[] = [];
      for (const k of names) {
        const t = batch[k];
        const per = t.data.length / size;
        const data = t.data.slice(bounds[w] * per, bounds[w + 1] * per);
        shard[k] = { data, shape: [bounds[w + 1] - bounds[w], ...t.shape.slice(1)] };
        transfer.push(data.buffer as ArrayBuffer);
      }
      return h.request({ type: 'grads', shard, weight: (bounds[w + 1] - bounds[w]) / size }, 'grads-done', transfer);
    }));
    await Promise.all(this.handles.map((h) => h.request({ type: 'apply' }, 'applied')));
    return replies.reduce((a, r) => a + (r.weightedLoss as number), 0);
  }

  /** Current weights of a replica (default 0; all replicas hold the same), one Float32Array per variable. */
  async getWeights(replica = 0): Promise<Float32Array[]> {
    return (await this.handles[replica].request({ type: 'get-weights' }, 'weights')).weights as Float32Array[];
  }

  async setWeights(weights: Float32Array[]): Promise<void> {
    await Promise.all(this.handles.map((h) => h.request({ type: 'set-weights', weights }, 'weights-set')));
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }
}
