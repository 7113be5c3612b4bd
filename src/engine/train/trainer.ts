/**
 * The three training stages (method.md): CFG teacher, stage 1 (w-conditioned student), stage 2 (progressive halving).
 * Each unit (teacher, guided, each progressive phase) is resumable on its own from its newest valid checkpoint.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointHeader, readCheckpoint, readCheckpointHeader, writeCheckpoint } from '../run/checkpoint';
import { ResolvedConfig, units as unitList } from '../run/config';
import { Dataset } from '../data';
import { RunEvent, StageName } from '../run/events';
import { gridOfScatters, imageGridPng } from '../io/png';
import { Net } from '../nn/net';
import { loadEvalWeights, StepRecord, Trainer } from './optimizer';
import { webgpuDeviceWatch } from '../backend/webgpu';
import { Rng, RngState } from '../random/rng';
import { listCheckpoints, stepFileName } from '../run/run-folder';
import { ParallelGradients, ParallelPlan } from './data-parallel';
import { Denoiser, LatentCodec, outputShape, sample } from '../method/samplers';
import { buildStepLoss, drawBatch, LossSpec, netForUnit } from './losses';

export { netForUnit };

export interface StageContext {
  runDir: string;
  cfg: ResolvedConfig;
  hash: string;
  data: Dataset;
  emit: (e: RunEvent) => void;
  log: (line: string) => void;
  /** True when the run should save and stop (abort signal or stop.request). */
  shouldStop: () => boolean;
  /** Data-parallel workers for the training steps (see parallel.ts); absent = train in this process. */
  parallel?: ParallelPlan;
  /** Latent-space runs: `data` holds the encoded training set and grids decode through this (autoencoder.ts). */
  codec?: LatentCodec;
}

export interface UnitDef {
  unit: string;
  stage: StageName;
  fromSteps?: number;
  toSteps?: number;
}

export class TrainingDiverged extends Error {}

const now = () => Date.now();

/** Steps whose loss may wait on the device before a read-back even when the log interval is longer. */
const MAX_PENDING_STEPS = 1000;

/** The newest checkpoint of a unit that reads back intact; corrupt ones are reported and skipped. */
export function latestValidCheckpoint(
  runDir: string,
  unit: string,
  warn: (msg: string) => void,
): { file: string; header: ReturnType<typeof readCheckpoint>['header']; arrays: ReturnType<typeof readCheckpoint>['arrays'] } | undefined {
  const list = listCheckpoints(runDir, unit);
  for (let i = list.length - 1; i >= 0; i--) {
    const file = path.join(runDir, list[i].file);
    try {
      const { header, arrays } = readCheckpoint(file);
      return { file, header, arrays };
    } catch (e) {
      warn(`${(e as Error).message}; falling back to an earlier checkpoint`);
    }
  }
  return undefined;
}

/** Loads the frozen network a unit distils from: the EMA weights of the previous unit's final checkpoint. */
function loadFrozen(ctx: StageContext, prevUnit: string, stage: StageName): { net: Net; file: string } {
  const ck = latestValidCheckpoint(ctx.runDir, prevUnit, ctx.log);
  if (!ck || !ck.header.final) throw new Error(`${prevUnit} has no final checkpoint in ${ctx.runDir}; it must finish before the next stage`);
  const net = netForUnit(ctx.cfg, ctx.data, stage);
  loadEvalWeights(net, ck.arrays, ck.file);
  return { net, file: ck.file };
}

function stageConfig(cfg: ResolvedConfig, stage: StageName) {
  return cfg[stage];
}

/** Classes shown as grid rows. */
export function gridClasses(cfg: ResolvedConfig, numClasses: number): number[] {
  const cls = cfg.sampling.classes ?? Array.from({ length: Math.min(numClasses, 10) }, (_, i) => i);
  for (const c of cls) if (c >= numClasses) throw new Error(`sampling.classes: class ${c} does not exist (the dataset has ${numClasses} classes)`);
  return cls;
}

/** Renders a grid PNG: rows = classes (× perClass for images), columns = w values. */
export async function renderGrid(
  d: Denoiser,
  {
    classes,
    w,
    perClass,
    steps,
    sampler,
    seed,
    cancelled,
    onStep,
  }: {
    classes: number[];
    w: number[];
    perClass: number;
    steps: number;
    sampler: 'ddim' | 'stochastic';
    seed: number;
    cancelled?: () => boolean;
    onStep?: (done: number, total: number) => void;
  },
): Promise<{ png: Buffer; nfe: number; ms: number; count: number; rows: number; cols: number }> {
  const isToy = d.net.exampleShape.length === 1;
  const per = isToy ? Math.max(perClass, 128) : perClass;
  const rows = classes.length * (isToy ? 1 : per);
  const cols = w.length;
  const cls: number[] = [];
  const ws: number[] = [];
  // row-major cells: for images, row r = (class, copy), column = w; toy panels hold `per` points each
  for (const c of classes) {
    for (let k = 0; k < per; k++) {
      for (const wv of w) {
        cls.push(c);
        ws.push(wv);
      }
    }
  }
  const t0 = performance.now();
  const { x, nfe } = await sample(d, { classes: Int32Array.from(cls), w: Float32Array.from(ws), steps, sampler, seed, cancelled, onStep });
  const ms = performance.now() - t0;
  let png: Buffer;
  if (isToy) {
    const panels: { points: Float32Array; labels: Int32Array }[] = [];
    for (let ci = 0; ci < classes.length; ci++) {
      for (let wi = 0; wi < cols; wi++) {
        const pts: number[] = [];
        for (let k = 0; k < per; k++) {
          const i = (ci * per + k) * cols + wi;
          pts.push(x[2 * i], x[2 * i + 1]);
        }
        panels.push({ points: Float32Array.from(pts), labels: new Int32Array(per).fill(classes[ci]) });
      }
    }
    png = gridOfScatters(panels, { rows: classes.length, cols, size: 160, radius: 1.5 });
  } else {
    const [h, wd, c] = outputShape(d);
    png = imageGridPng(x, { n: cls.length, h, w: wd, c, rows, cols, pad: 2, scale: Math.max(1, Math.round(48 / h)) });
  }
  return { png, nfe, ms, count: cls.length, rows: isToy ? classes.length : rows, cols };
}

async function writeSamples(ctx: StageContext, def: UnitDef, d: Denoiser, step: number): Promise<void> {
  const cfg = ctx.cfg;
  const steps = def.stage === 'progressive' ? def.toSteps! : cfg.sampling.teacherSteps;
  const classes = gridClasses(cfg, ctx.data.numClasses);
  const { png, nfe } = await renderGrid(d, {
    classes,
    w: cfg.guidance.sampleW,
    perClass: cfg.sampling.perClass,
    steps,
    sampler: 'ddim',
    seed: cfg.seed + 7919,
  });
  const rel = path.join('samples', def.unit, stepFileName(step, 'png'));
  const abs = path.join(ctx.runDir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, png);
  ctx.emit({ type: 'samples', t: now(), unit: def.unit, step, file: rel, w: cfg.guidance.sampleW, classes, steps, nfe });
}

/**
 * Saves a checkpoint; the caller has flushed the Trainer (so every step in it is known to be finite). `extra`: further
 * header fields (the autoencoder's latent scale).
 */
export async function saveCheckpoint(
  ctx: StageContext,
  def: Pick<UnitDef, 'unit'>,
  tr: Trainer,
  rng: RngState,
  total: number,
  loss: number | undefined,
  extra: Pick<CheckpointHeader, 'latentScale'> = {},
): Promise<void> {
  if (tr.pendingSteps) throw new Error(`${def.unit}: internal error: checkpoint requested with ${tr.pendingSteps} unchecked steps`);
  const final = tr.step >= total;
  const rel = path.join('checkpoints', def.unit, stepFileName(tr.step, 'ckpt'));
  const arrays = await tr.state();
  writeCheckpoint(
    path.join(ctx.runDir, rel),
    { unit: def.unit, step: tr.step, totalSteps: total, final, configHash: ctx.hash, rng, withW: tr.net.withW, loss, savedAt: now(), ...extra },
    arrays,
  );
  ctx.emit({ type: 'checkpoint', t: now(), unit: def.unit, step: tr.step, file: rel, final });
  // retention: keep the newest `keep` (a final checkpoint is always kept)
  const list = listCheckpoints(ctx.runDir, def.unit);
  const keep = ctx.cfg.checkpoint.keep;
  for (const c of list.slice(0, Math.max(0, list.length - keep))) {
    if (c.step >= total) continue;
    fs.rmSync(path.join(ctx.runDir, c.file), { force: true });
  }
}

/**
 * Continues a unit from its newest valid checkpoint (weights, EMA, Adam moments, step; corrupt ones are reported and
 * skipped) when it has one: returns the unit's Rng as saved and the last loss, or undefined for a fresh start.
 */
export function resumeUnit(ctx: StageContext, unit: string, trainer: Trainer): { rng: Rng; lastLoss: number | undefined } | undefined {
  const resume = latestValidCheckpoint(ctx.runDir, unit, (m) => {
    ctx.log(m);
    ctx.emit({ type: 'error', t: now(), unit, message: m });
  });
  if (!resume) return undefined;
  if (resume.header.configHash !== ctx.hash) {
    throw new Error(`${resume.file}: written for another configuration (hash ${resume.header.configHash}, run ${ctx.hash})`);
  }
  trainer.load(resume.arrays, resume.header.step);
  ctx.log(`${unit}: resuming from step ${resume.header.step} (${path.relative(ctx.runDir, resume.file)})`);
  return { rng: new Rng(resume.header.rng), lastLoss: resume.header.loss };
}

/**
 * The step loop every unit shares (the stages and the autoencoder): a stop request saves a checkpoint and returns
 * 'stopped'; the steps' losses are read back (`flush`) only at the log interval, before grids and checkpoints and
 * every MAX_PENDING_STEPS; loss events carry the steps per second since the last one. Returns 'finished' at `total`.
 */
export async function stepLoop(
  ctx: StageContext,
  unit: string,
  trainer: Trainer,
  total: number,
  { trainOne, flush, grid, save }: { trainOne: () => Promise<void>; flush: () => Promise<StepRecord[]>; grid: (step: number) => Promise<void>; save: () => Promise<void> },
): Promise<'finished' | 'stopped'> {
  const cfg = ctx.cfg;
  let windowStart = performance.now();
  let windowSteps = 0;
  while (trainer.step < total) {
    if (ctx.shouldStop()) {
      await flush();
      await save();
      ctx.log(`${unit}: stopped at step ${trainer.step}/${total}; checkpoint saved`);
      return 'stopped';
    }
    await trainOne();
    windowSteps++;
    const step = trainer.step;
    const logNow = step % cfg.log.interval === 0 || step === total;
    const gridNow = step < total && cfg.sampling.interval > 0 && step % cfg.sampling.interval === 0;
    const checkpointNow = step < total && step % cfg.checkpoint.interval === 0;
    if (logNow || gridNow || checkpointNow || trainer.pendingSteps >= MAX_PENDING_STEPS) {
      const recs = await flush();
      if (logNow) {
        const last = recs[recs.length - 1];
        const el = (performance.now() - windowStart) / 1000;
        ctx.emit({ type: 'loss', t: now(), unit, step, loss: last.loss, lr: last.lr, rate: el > 0 ? windowSteps / el : 0 });
        windowStart = performance.now();
        windowSteps = 0;
      }
    }
    if (gridNow) await grid(step);
    if (checkpointNow) await save();
    await new Promise((r) => setImmediate(r));
  }
  return 'finished';
}

/**
 * Trains one unit to completion or until asked to stop. Returns 'stopped' when it saved and stopped early.
 */
export async function trainUnit(ctx: StageContext, def: UnitDef, prevUnit: string | undefined): Promise<'finished' | 'stopped'> {
  const cfg = ctx.cfg;
  const st = stageConfig(cfg, def.stage);
  const total = st.steps;
  const student = netForUnit(cfg, ctx.data, def.stage);
  const frozenStage: StageName = def.stage === 'guided' ? 'teacher' : 'progressive';
  const frozenCk = def.stage === 'teacher' ? undefined : loadFrozen(ctx, prevUnit!, frozenStage);
  const frozen = frozenCk?.net;
  const trainer = new Trainer(student, { lr: st.lr, warmup: st.warmup, anneal: st.anneal, clip: st.clip, ema: st.ema, totalSteps: total });
  let workers: ParallelGradients | undefined;
  try {
    let rng = new Rng(cfg.seed, `train-${def.unit}`);
    let lastLoss: number | undefined;
    const resumed = resumeUnit(ctx, def.unit, trainer);
    if (resumed) {
      ({ rng, lastLoss } = resumed);
    } else if (frozen) {
      // Stage 1 student ← teacher EMA weights (+ zero-initialised w branch); stage 2 student ← current teacher.
      const prev = latestValidCheckpoint(ctx.runDir, prevUnit!, ctx.log)!;
      loadEvalWeights(student, prev.arrays, prev.file, { partial: def.stage === 'guided' });
      for (const { name, variable } of student.params.list()) {
        trainer.ema.get(name)?.assign(variable);
      }
    }
    ctx.emit({
      type: 'stage_start',
      t: now(),
      stage: def.stage,
      unit: def.unit,
      fromSteps: def.fromSteps,
      toSteps: def.toSteps,
      totalSteps: total,
      startStep: trainer.step,
    });
    const t0 = now();
    if (trainer.step >= total) {
      ctx.emit({ type: 'stage_end', t: now(), unit: def.unit, step: trainer.step, seconds: 0 });
      return 'finished';
    }
    const evalNet = (): Denoiser => {
      // Sample from the EMA weights when there are any, without disturbing the trained weights.
      const net = netForUnit(cfg, ctx.data, def.stage);
      const w = trainer.evalWeights();
      tf.tidy(() => {
        for (const { name, variable } of net.params.list()) variable.assign(w.get(name)!);
      });
      return { net, param: cfg.model.parameterization, schedule: cfg.diffusion, codec: ctx.codec };
    };
    const grid = async (step: number) => {
      const d = evalNet();
      try {
        await writeSamples(ctx, def, d, step);
      } finally {
        d.net.dispose();
      }
    };
    if (trainer.step === 0 && def.stage === 'teacher') await grid(0);
    const spec: LossSpec = { stage: def.stage, toSteps: def.toSteps, exampleShape: ctx.data.shape };
    if (ctx.parallel) {
      try {
        workers = await ParallelGradients.start(ctx.parallel, {
          cfg,
          spec,
          numClasses: ctx.data.numClasses,
          frozen: frozenCk && { file: frozenCk.file, stage: frozenStage },
        });
        ctx.log(`${def.unit}: data-parallel on ${workers.workers} workers`);
      } catch (e) {
        // Same maths in this process (results agree up to float rounding), only slower: keep training.
        const m = `${def.unit}: data-parallel training could not start (${(e as Error).message}); training in this process instead`;
        ctx.log(m);
        ctx.emit({ type: 'error', t: now(), unit: def.unit, message: m });
      }
    }
    // One step: the batch is drawn here in every mode (same Rng calls); its loss and gradients come from
    // this process or from the workers' shards; the Trainer applies the update (its loss stays on the device).
    const trainOne = async (): Promise<void> => {
      const inp = drawBatch(cfg, ctx.data, spec, st.batch, rng);
      if (workers) {
        let g: Awaited<ReturnType<ParallelGradients['gradients']>>;
        try {
          g = await workers.gradients(student, inp);
        } catch (e) {
          throw new Error(`${def.unit}: a data-parallel training worker failed at step ${trainer.step + 1}: ${(e as Error).message}`);
        }
        return trainer.applyGradients(g.grads, g.loss);
      }
      const { lossFn, release } = buildStepLoss(cfg, spec, student, frozen, inp);
      try {
        trainer.trainStep(lossFn);
      } finally {
        release();
      }
    };
    // The one GPU→CPU read-back of the loop: every step's loss and gradient norm since the last one, read at the log
    // interval and before anything is saved or sampled. A non-finite value, a lost GPU device or a GPU error stops
    // the stage here, so no checkpoint ever holds the weights of a diverged or failed step.
    const flush = async (): Promise<StepRecord[]> => {
      const gpu = webgpuDeviceWatch();
      const recs = await trainer.flush().catch((e) => (gpu ? gpu.explain(e) : Promise.reject(e)));
      gpu?.check();
      for (const r of recs) {
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
          const good = listCheckpoints(ctx.runDir, def.unit).pop();
          const what = !Number.isFinite(r.loss) ? `the loss became ${r.loss}` : `the gradient norm became ${r.gradNorm}`;
          throw new TrainingDiverged(
            `${def.unit}: ${what} at step ${r.step}; training stopped. ` +
            `The last good checkpoint is ${good ? good.file : '(none yet)'}; lower ${def.stage}.lr or raise ${def.stage}.warmup and resume.`);
        }
        lastLoss = r.loss;
      }
      return recs;
    };
    const save = () => saveCheckpoint(ctx, def, trainer, rng.state(), total, lastLoss);
    if ((await stepLoop(ctx, def.unit, trainer, total, { trainOne, flush, grid, save })) === 'stopped') return 'stopped';
    await flush();
    await saveCheckpoint(ctx, def, trainer, rng.state(), total, lastLoss);
    await grid(total);
    ctx.emit({ type: 'stage_end', t: now(), unit: def.unit, step: total, seconds: (now() - t0) / 1000 });
    return 'finished';
  } finally {
    await workers?.close();
    trainer.dispose();
    student.dispose();
    frozen?.dispose();
  }
}

/** True when the unit's newest checkpoint is its final one (header read only). */
export function unitFinished(runDir: string, unit: string): boolean {
  const last = listCheckpoints(runDir, unit).pop();
  if (!last) return false;
  try {
    return readCheckpointHeader(path.join(runDir, last.file)).final;
  } catch {
    return false;
  }
}

/** Runs every unit in order, skipping finished ones. */
export async function trainAll(ctx: StageContext): Promise<'finished' | 'stopped'> {
  const list = unitList(ctx.cfg);
  let prev: string | undefined;
  for (const def of list) {
    const st = stageConfig(ctx.cfg, def.stage);
    if (st.steps === 0) {
      if (def.stage === 'teacher') throw new Error('teacher.steps: must be at least 1 (every later stage distils the teacher)');
      throw new Error(`${def.stage}.steps: 0 would skip a stage that later stages depend on; set at least 1`);
    }
    if (unitFinished(ctx.runDir, def.unit)) {
      prev = def.unit;
      continue;
    }
    const r = await trainUnit(ctx, def, prev);
    if (r === 'stopped') return 'stopped';
    prev = def.unit;
  }
  return 'finished';
}

export { unitList };
