/**
 * A teacher training step of a real run, taken the way `distill run` takes it, for bench/bench.ts: the run's config
 * (examples/quickstart.distill.json by default) and dataset, its backend started as tasks/train-run.ts starts it,
 * `planParallel` deciding between this process and data-parallel workers, and per step what train/trainer.ts's
 * `trainUnit` does: `drawBatch` on the main thread, then either `buildStepLoss` + `Trainer.trainStep` here or
 * `ParallelGradients.gradients` (train/data-parallel.ts, the workers of data-parallel-worker.ts) +
 * `Trainer.applyGradients`. Each timed step ends with `Trainer.flush()` (the loss read-back), so it includes all
 * of its work.
 */
import * as path from 'path';
import { ensureBackend } from '../src/engine/tasks/open-run';
import { loadDataset } from '../src/engine/data';
import { loadConfigFile, ResolvedConfig } from '../src/engine/run/config';
import { Rng } from '../src/engine/random/rng';
import { buildStepLoss, drawBatch, LossSpec, netForUnit } from '../src/engine/train/losses';
import { Trainer } from '../src/engine/train/optimizer';
import { ParallelGradients, planParallel, wantsWorkers } from '../src/engine/train/data-parallel';

export const RUN_CONFIG = path.join(__dirname, '..', 'examples', 'quickstart.distill.json');

export interface RunStep {
  /** One teacher step; resolves to its loss once the step's work is done. */
  step(): Promise<number>;
  batch: number;
  /** Forward FLOPs of one example (the network's own count). */
  flopsPerExample: number;
  /** How the step runs: the backend, and this process or the workers (the run's own note). */
  note: string;
  /** Workers computing the gradients (0 = this process). */
  workers: number;
  close(): Promise<void>;
}

/**
 * Starts the teacher of `configFile` with `threads` threads (0 = cores) and `parallel` as the run's config field
 * would say it ("threads": in this process; "workers": data-parallel); `batch` overrides every stage's batch.
 */
export async function startRunStep({
  configFile = RUN_CONFIG,
  threads,
  parallel,
  batch,
}: {
  configFile?: string;
  threads: number;
  parallel: 'threads' | 'workers';
  batch?: number;
}): Promise<RunStep> {
  const file = loadConfigFile(configFile);
  const b = batch ?? file.teacher.batch;
  const cfg: ResolvedConfig = {
    ...file,
    parallel,
    threads,
    teacher: { ...file.teacher, batch: b },
    guided: { ...file.guided, batch: b },
    progressive: { ...file.progressive, batch: b },
  };
  const info = await ensureBackend(
    cfg.backend,
    threads,
    undefined,
    wantsWorkers(cfg, cfg.backend, threads) ? 1 : undefined,
  );
  const { plan, note } = planParallel(cfg, info, threads);
  const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed, baseDir: path.dirname(configFile) });
  const spec: LossSpec = { stage: 'teacher', exampleShape: data.shape };
  const st = cfg.teacher;
  const student = netForUnit(cfg, data, 'teacher');
  const trainer = new Trainer(student, {
    lr: st.lr,
    warmup: st.warmup,
    anneal: st.anneal,
    clip: st.clip,
    ema: st.ema,
    totalSteps: st.steps,
  });
  const rng = new Rng(cfg.seed, 'train-teacher');
  let workers: ParallelGradients | undefined;
  try {
    workers = plan && (await ParallelGradients.start(plan, { cfg, spec, numClasses: data.numClasses }));
  } catch (e) {
    trainer.dispose();
    student.dispose();
    throw e;
  }
  const backend = `${info.name} ${info.version}${workers ? ` (main thread), workers: ${workers.backends.map((w) => `${w.name}×${w.threads}`).join(', ')}` : ` ×${info.threads}`}`;
  return {
    batch: b,
    flopsPerExample: student.flopsPerExample,
    note: `${backend}; ${note}`,
    workers: workers?.workers ?? 0,
    async step() {
      const inp = drawBatch(cfg, data, spec, b, rng);
      if (workers) {
        const g = await workers.gradients(student, inp);
        trainer.applyGradients(g.grads, g.loss);
      } else {
        const { lossFn, release } = buildStepLoss(cfg, spec, student, undefined, inp);
        try {
          trainer.trainStep(lossFn);
        } finally {
          release();
        }
      }
      const [rec] = await trainer.flush();
      return rec.loss;
    },
    async close() {
      await workers?.close();
      trainer.dispose();
      student.dispose();
    },
  };
}
