/**
 * Data-parallel gradients for the training loop: `n` worker threads (data-parallel-worker.ts), each a
 * single-threaded wasm backend, compute the loss and gradients of their shard of the step's batch.
 * The main thread keeps the only optimiser (Trainer): it draws the batch, sends the current weights and
 * the shards, sums the shard-weighted results (in worker order, so runs are deterministic) and applies
 * the update. The result equals the single-process step up to float rounding.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { BackendInfo, logicalCores, withTimeout } from '../backend/select';
import { ResolvedConfig, StageConfig } from '../run/config';
import { Net } from '../nn/net';
import { sliceInputs, StepInputs } from './losses';
import type { TrainWorkerInit } from './data-parallel-worker';

export type ParallelMode = 'auto' | 'workers' | 'threads';

/** How a run trains on this machine: `workers` > 0 = data-parallel over that many worker threads. */
export interface ParallelPlan {
  workers: number;
  /** Backend of each worker (1 thread). */
  backend: 'wasm' | 'cpu';
  wasmDir?: string;
}

type PlanConfig = Pick<ResolvedConfig, 'teacher' | 'guided' | 'progressive'> &
  Partial<Pick<ResolvedConfig, 'consistency'>> & { parallel?: ParallelMode };

/** The smallest batch of the stages a config trains (the consistency section only when it has one). */
function minBatch(cfg: PlanConfig): number {
  const stages: StageConfig[] = [cfg.teacher, cfg.guided, cfg.progressive];
  if (cfg.consistency) stages.push(cfg.consistency);
  return Math.min(...stages.map((s) => s.batch));
}

/**
 * Whether training would run data-parallel on backend `name` ('wasm', 'cpu', 'tensorflow', or 'auto' before
 * selection, taken as wasm) with `threads` (0 = cores): `workers` always; `auto` when the backend is wasm,
 * more than one thread is asked for and every stage's batch is at least 2 × threads.
 */
export function wantsWorkers(cfg: PlanConfig, name: string, threads: number): boolean {
  const n = threads > 0 ? threads : logicalCores();
  const mode = cfg.parallel ?? 'auto';
  if (mode === 'workers') return true;
  if (mode === 'threads') return false;
  return (name === 'wasm' || name === 'auto') && n > 1 && minBatch(cfg) >= 2 * n;
}

/** Picks data-parallel workers or the (threaded) backend for a run; see `wantsWorkers`. */
export function planParallel(
  cfg: PlanConfig,
  info: BackendInfo,
  threads: number,
  wasmDir?: string,
): { plan: ParallelPlan | undefined; note: string } {
  const n = threads > 0 ? threads : logicalCores();
  const mode = cfg.parallel ?? 'auto';
  if (mode === 'workers' && info.name !== 'wasm' && info.name !== 'cpu') {
    throw new Error(`parallel: "workers" needs the wasm or cpu backend (the backend is ${info.name})`);
  }
  if (!wantsWorkers(cfg, info.name, threads)) {
    const why =
      mode === 'threads'
        ? 'parallel: "threads"'
        : info.name !== 'wasm'
          ? `backend ${info.name}`
          : n <= 1
            ? '1 thread'
            : `batch ${minBatch(cfg)} < 2 × ${n} threads`;
    return { plan: undefined, note: `training in this process (${why})` };
  }
  return {
    plan: { workers: n, backend: info.name === 'cpu' ? 'cpu' : 'wasm', wasmDir },
    note: `training data-parallel on ${n} worker threads (1 ${info.name === 'cpu' ? 'cpu' : 'wasm'} thread each)`,
  };
}

type Msg = { type: string; [k: string]: unknown };

/** Request/reply over one worker; a worker error, crash or non-zero exit rejects every pending and later request. */
class WorkerHandle {
  private waiting: Array<{ type: string; resolve: (m: Msg) => void; reject: (e: Error) => void }> = [];
  private failed: Error | null = null;
  constructor(readonly worker: Worker) {
    worker.on('message', (m: Msg) => {
      if (m.type === 'error') {
        this.fail(new Error(String(m.message)));
        return;
      }
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(m);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`data-parallel worker exited with ${code}`));
    });
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

/** Starts a worker thread on `script`; a .ts script (running from source under tsx) gets tsx's CommonJS hooks too. */
function spawnWorker(script: string): Worker {
  return script.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true })
    : new Worker(script);
}

function defaultWorkerScript(): string {
  // From source (tsx): data-parallel-worker.ts next to this file. Bundled: data-parallel-worker.js next to dist/*.js.
  for (const f of ['data-parallel-worker.js', 'data-parallel-worker.ts']) {
    const p = path.join(__dirname, f);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(
    `data-parallel-worker.js not found next to ${__dirname} (a bundle must ship dist/data-parallel-worker.js)`,
  );
}

export class ParallelGradients {
  private constructor(
    private readonly handles: WorkerHandle[],
    private readonly names: string[],
    /** The backend each worker started (always one thread). */
    readonly backends: BackendInfo[],
  ) {}

  /** Tensors alive in each worker after its last step (leak checks). */
  workerTensors: number[] = [];

  get workers(): number {
    return this.handles.length;
  }

  static async start(
    plan: ParallelPlan,
    init: Omit<TrainWorkerInit, 'type' | 'id' | 'backend' | 'wasmDir'>,
    { workerScript, startTimeoutMs = 60_000 }: { workerScript?: string; startTimeoutMs?: number } = {},
  ): Promise<ParallelGradients> {
    const script = workerScript ?? defaultWorkerScript();
    const handles = Array.from({ length: plan.workers }, () => new WorkerHandle(spawnWorker(script)));
    try {
      // A worker that neither answers nor fails (e.g. its wasm start-up hangs) must not stall the run forever.
      const ready = await withTimeout(
        Promise.all(
          handles.map((h, id) =>
            h.request(
              { ...init, type: 'init', id, backend: plan.backend, wasmDir: plan.wasmDir } satisfies TrainWorkerInit,
              'ready',
            ),
          ),
        ),
        startTimeoutMs,
        `the data-parallel training workers did not start within ${Math.round(startTimeoutMs / 1000)} s`,
      );
      const names = ready[0].names as string[];
      for (const r of ready)
        if ((r.names as string[]).join() !== names.join())
          throw new Error('data-parallel workers disagree on the parameters');
      return new ParallelGradients(
        handles,
        names,
        ready.map((r) => r.backend as BackendInfo),
      );
    } catch (e) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw e;
    }
  }

  /**
   * Loss (batch mean) and gradients of `student`'s current weights on `inp`, keyed by parameter name; the
   * caller owns (and Trainer.applyGradients disposes) the gradient tensors.
   */
  async gradients(student: Net, inp: StepInputs): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const params = student.params.list();
    if (params.map((p) => p.name).join() !== this.names.join())
      throw new Error('data-parallel: the student does not match the workers');
    const weights = params.map(({ variable }) => variable.dataSync() as Float32Array);
    const active = Math.min(this.handles.length, inp.b);
    const bounds = Array.from({ length: active + 1 }, (_, i) => Math.round((i * inp.b) / active));
    const replies = await Promise.all(
      this.handles.slice(0, active).map((h, k) => {
        const shard = sliceInputs(inp, bounds[k], bounds[k + 1]);
        const transfer = [shard.x, shard.eps, shard.t, shard.lambdaT, shard.cls, shard.w].map(
          (a) => a.buffer as ArrayBuffer,
        );
        return h.request({ type: 'step', weights, inputs: shard, share: shard.b / inp.b }, 'grads', transfer);
      }),
    );
    let loss = 0;
    for (const r of replies) loss += r.loss as number;
    const grads = new Map<string, tf.Tensor>();
    params.forEach(({ name, variable }, i) => {
      const sum = Float32Array.from((replies[0].grads as Float32Array[])[i]);
      for (let k = 1; k < replies.length; k++) {
        const g = (replies[k].grads as Float32Array[])[i];
        for (let j = 0; j < sum.length; j++) sum[j] += g[j];
      }
      grads.set(name, tf.tensor(sum, variable.shape, 'float32'));
    });
    this.workerTensors = replies.map((r) => r.numTensors as number);
    return { loss, grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }
}
