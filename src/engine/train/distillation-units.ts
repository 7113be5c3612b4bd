/**
 * The distillation units: the classifier-free-guided teacher, stage 1 (one w-conditioned student for every w) and
 * the stage-2 methods' students (progressive halving of the student's sampling steps; multistep consistency students
 * distilling stage 1). Each unit trains from its newest valid checkpoint to completion or until asked to stop.
 * See docs/method.md, "Teacher"; docs/method.md, "Stage 1: one network for every w";
 * docs/method.md, "Stage 2: halving the steps"; docs/method.md, "Stage 2b: multistep consistency distillation".
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { stageSettings, units, unitHash } from '../run/config';
import { StageName } from '../run/events';
import { Net } from '../nn/net';
import { loadEvalWeights, StepRecord, Trainer } from './optimizer';
import { webgpuDeviceWatch } from '../backend/webgpu';
import { Rng } from '../random/rng';
import { listCheckpoints, stepFileName, writeFileAtomic } from '../run/run-folder';
import { writeCheckpoint, NamedArrays } from '../run/checkpoint';
import { mixtureToJson } from '../data/mixture';
import { ParallelGradients } from './data-parallel';
import { Denoiser } from '../method/samplers';
import { buildStepLoss, drawBatch, LossSpec, netForUnit } from './losses';
import { gridClasses, renderGrid } from './sample-grids';
import {
  gridDue,
  latestValidCheckpoint,
  resumeUnit,
  saveCheckpoint,
  StageContext,
  stepLoop,
  TrainingDiverged,
  UnitDef,
} from './unit-loop';

const now = () => Date.now();

/** Loads the frozen network a unit distils from: the EMA weights of that unit's final checkpoint. */
function loadFrozen(ctx: StageContext, prevUnit: string, stage: StageName): { net: Net; file: string } {
  const ck = latestValidCheckpoint(ctx.runDir, prevUnit, ctx.log);
  if (!ck || !ck.header.final)
    throw new Error(`${prevUnit} has no final checkpoint in ${ctx.runDir}; it must finish before the next stage`);
  const net = netForUnit(ctx.cfg, ctx.data, stage);
  loadEvalWeights(net, ck.arrays, ck.file);
  return { net, file: ck.file };
}

async function writeSamples(ctx: StageContext, def: UnitDef, d: Denoiser, step: number): Promise<void> {
  const cfg = ctx.cfg;
  const steps = def.stage === 'progressive' || def.stage === 'consistency' ? def.toSteps! : cfg.sampling.teacherSteps;
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
  ctx.emit({
    type: 'samples',
    t: now(),
    unit: def.unit,
    step,
    file: rel,
    w: cfg.guidance.sampleW,
    classes,
    steps,
    nfe,
  });
}

/** The run folder's copy of the exact teacher's mixture (teacher.kind "exact"; format: docs/configs.md). */
export const MIXTURE_FILE = 'mixture.json';

/**
 * The teacher unit of teacher.kind "exact": nothing to train. Writes mixture.json, a final checkpoint at step 0 whose
 * weights are the mixture (so every later stage, the data-parallel workers and `distill sample / eval` load the exact
 * teacher like a trained one) and the teacher's sample grid.
 */
async function writeExactTeacher(ctx: StageContext, def: UnitDef): Promise<'finished'> {
  const cfg = ctx.cfg;
  const m = ctx.data.mixture;
  if (!m)
    throw new Error(
      `teacher.kind: "exact" needs the training data's mixture (data.kind "mixture"), but ${ctx.data.source} carries none`,
    );
  const t0 = now();
  ctx.emit({ type: 'stage_start', t: t0, stage: def.stage, unit: def.unit, totalSteps: 0, startStep: 0 });
  const net = netForUnit(cfg, ctx.data, 'teacher');
  try {
    writeFileAtomic(path.join(ctx.runDir, MIXTURE_FILE), JSON.stringify(mixtureToJson(m)) + '\n');
    const arrays: NamedArrays = new Map();
    for (const { name, variable } of net.params.list())
      arrays.set('w/' + name, { shape: variable.shape, data: (await variable.data()) as Float32Array });
    const rel = path.join('checkpoints', def.unit, stepFileName(0, 'ckpt'));
    const rng = new Rng(cfg.seed, `train-${def.unit}`).state();
    writeCheckpoint(
      path.join(ctx.runDir, rel),
      { unit: def.unit, step: 0, totalSteps: 0, final: true, configHash: ctx.hash, rng, withW: false, savedAt: now() },
      arrays,
    );
    ctx.emit({ type: 'checkpoint', t: now(), unit: def.unit, step: 0, file: rel, final: true });
    ctx.log(
      `${def.unit}: exact (${m.numClasses} classes × ${m.components} diagonal Gaussians over ${m.dim} dimensions); nothing to train, mixture saved to ${MIXTURE_FILE}`,
    );
    await writeSamples(
      ctx,
      def,
      { net, param: cfg.model.parameterization, schedule: cfg.diffusion, codec: ctx.codec },
      0,
    );
  } finally {
    net.dispose();
  }
  ctx.emit({ type: 'stage_end', t: now(), unit: def.unit, step: 0, seconds: (now() - t0) / 1000 });
  return 'finished';
}

/** The stage of a run's unit (the frozen network a unit distils is built for that unit's stage). */
function stageOfUnit(ctx: StageContext, unit: string): StageName {
  const spec = units(ctx.cfg).find((u) => u.unit === unit);
  if (!spec) throw new Error(`${unit}: not a unit of this run's config`);
  return spec.stage;
}

/**
 * Trains one unit to completion or until asked to stop. Returns 'stopped' when it saved and stopped early. The unit
 * distils `def.distils` and starts from `def.startsFrom`'s weights; its checkpoints carry unitHash.
 */
export async function trainUnit(ctx: StageContext, def: UnitDef): Promise<'finished' | 'stopped'> {
  ctx = { ...ctx, hash: unitHash(ctx.cfg, def.stage, ctx.hash) };
  const cfg = ctx.cfg;
  if (def.stage === 'teacher' && cfg.teacher.kind === 'exact') return writeExactTeacher(ctx, def);
  const st = stageSettings(cfg, def.stage);
  const total = st.steps;
  if (def.stage !== 'teacher' && (!def.distils || !def.startsFrom))
    throw new Error(`${def.unit}: internal error: a distillation unit needs the units it distils and starts from`);
  const student = netForUnit(cfg, ctx.data, def.stage);
  const frozenStage: StageName | undefined = def.distils ? stageOfUnit(ctx, def.distils) : undefined;
  const frozenCk = def.distils ? loadFrozen(ctx, def.distils, frozenStage!) : undefined;
  const frozen = frozenCk?.net;
  const trainer = new Trainer(student, {
    lr: st.lr,
    warmup: st.warmup,
    anneal: st.anneal,
    clip: st.clip,
    ema: st.ema,
    totalSteps: total,
  });
  let workers: ParallelGradients | undefined;
  try {
    let rng = new Rng(cfg.seed, `train-${def.unit}`);
    let lastLoss: number | undefined;
    const resumed = resumeUnit(ctx, def.unit, trainer);
    if (resumed) {
      ({ rng, lastLoss } = resumed);
    } else if (frozen && !(def.stage === 'guided' && cfg.teacher.kind === 'exact')) {
      // Stage 1 student ← teacher EMA weights (+ zero-initialised w branch); a stage-2 student ← the final weights of
      // the unit it starts from (a progressive phase: its teacher; a consistency student: stage 1 or the one before).
      // An exact teacher has no network weights to copy: its stage 1 student starts from its own initialisation.
      const prev = latestValidCheckpoint(ctx.runDir, def.startsFrom!, ctx.log);
      if (!prev || !prev.header.final)
        throw new Error(
          `${def.startsFrom} has no final checkpoint in ${ctx.runDir}; ${def.unit} starts from its weights`,
        );
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
    // the untrained teacher's grid starts the periodic ones
    if (trainer.step === 0 && def.stage === 'teacher' && gridDue(cfg, 0, total)) await grid(0);
    const spec: LossSpec = { stage: def.stage, toSteps: def.toSteps, exampleShape: ctx.data.shape };
    if (ctx.parallel) {
      try {
        workers = await ParallelGradients.start(ctx.parallel, {
          cfg,
          spec,
          numClasses: ctx.data.numClasses,
          frozen: frozenCk && { file: frozenCk.file, stage: frozenStage! },
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
          throw new Error(
            `${def.unit}: a data-parallel training worker failed at step ${trainer.step + 1}: ${(e as Error).message}`,
          );
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
          const what = !Number.isFinite(r.loss)
            ? `the loss became ${r.loss}`
            : `the gradient norm became ${r.gradNorm}`;
          throw new TrainingDiverged(
            `${def.unit}: ${what} at step ${r.step}; training stopped. ` +
              `The last good checkpoint is ${good ? good.file : '(none yet)'}; lower ${def.stage}.lr or raise ${def.stage}.warmup and resume.`,
          );
        }
        lastLoss = r.loss;
      }
      return recs;
    };
    const save = () => saveCheckpoint(ctx, def, trainer, rng.state(), total, lastLoss);
    if ((await stepLoop(ctx, def.unit, trainer, total, { trainOne, flush, grid, save })) === 'stopped')
      return 'stopped';
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
