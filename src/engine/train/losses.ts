/**
 * The per-step training loss of every unit, split in two so the data-parallel workers run the same maths:
 *  - drawBatch: draws the step's inputs (data, noise, λ/t, classes, w) from the unit's Rng on the main thread;
 *  - buildStepLoss: from those host arrays (the whole batch or a shard of it) computes the frozen-teacher
 *    target outside the gradient tape and returns the student's loss closure.
 * Everything is per example, so a shard's loss weighted by its share of the batch sums to the batch mean.
 */
import * as tf from '@tensorflow/tfjs-core';
import { consistencySettings, ResolvedConfig } from '../run/config';
import { Dataset, sampleBatch } from '../data';
import {
  coefs,
  ddimStep,
  diffuse,
  distillTarget,
  predictions,
  truncatedSnrWeights,
  weightedMse,
} from '../method/diffusion';
import { StageName } from '../run/events';
import { buildNet, Net } from '../nn/net';
import { Rng } from '../random/rng';
import { denoise, Denoiser, guidedX } from '../method/samplers';
import { logSnr } from '../method/schedule';
import { exactTeacherNet, placeholderMixture } from '../method/exact-teacher';
import { consistencyReference, consistencyTarget, consistencyTimes } from '../method/consistency';
import { MIXTURE_DEFAULT_COMPONENTS } from '../data/mixture';

/** What a unit's loss depends on besides the config. */
export interface LossSpec {
  stage: StageName;
  /** Progressive and consistency units: the student's step count. */
  toSteps?: number;
  /** Shape of one example. */
  exampleShape: number[];
}

/** One step's inputs, batch-major host arrays (x and eps: b × prod(exampleShape)). */
export interface StepInputs {
  b: number;
  x: Float32Array;
  eps: Float32Array;
  t: Float32Array;
  lambdaT: Float32Array;
  cls: Int32Array;
  w: Float32Array;
}

/**
 * The network a unit trains: the teacher takes no w; every student does. With teacher.kind "exact" the teacher is the
 * mixture's exact denoiser: built from `data.mixture` when the data carries it, else a shell of the mixture's sizes
 * that a checkpoint's mixture is loaded into.
 */
export function netForUnit(
  cfg: ResolvedConfig,
  data: Pick<Dataset, 'shape' | 'numClasses' | 'mixture'>,
  stage: StageName,
): Net {
  if (stage === 'teacher' && cfg.teacher.kind === 'exact') {
    if (cfg.data.kind !== 'mixture')
      throw new Error(`teacher.kind: "exact" needs data.kind "mixture", got "${cfg.data.kind}"`);
    const m =
      data.mixture ??
      placeholderMixture(
        data.numClasses,
        cfg.data.components ?? MIXTURE_DEFAULT_COMPONENTS[cfg.data.preset],
        data.shape,
      );
    return exactTeacherNet(m, cfg.model.parameterization, cfg.model.kind);
  }
  return buildNet({
    model: cfg.model,
    exampleShape: data.shape,
    numClasses: data.numClasses,
    withW: stage !== 'teacher',
    seed: cfg.seed,
  });
}

function gather(ds: Dataset, rng: Rng, batch: number): { x: Float32Array; labels: Int32Array } {
  const idx = new Int32Array(batch);
  for (let i = 0; i < batch; i++) idx[i] = rng.int(ds.n);
  return sampleBatch(ds, idx);
}

/** A student's training w from u uniform in [0, 1]: wMin + (wMax − wMin)·u^wPower (wPower 1: uniform, the paper). */
export function studentW(cfg: Pick<ResolvedConfig, 'guidance'>, u: number): number {
  const { wMin, wMax, wPower } = cfg.guidance;
  return wMin + (wMax - wMin) * u ** wPower; // u ** 1 is u exactly: wPower 1 draws what earlier runs drew
}

/** Draws one step's batch of `b` examples from `rng` (the call order fixes the run's randomness: do not reorder). */
export function drawBatch(cfg: ResolvedConfig, ds: Dataset, spec: LossSpec, b: number, rng: Rng): StepInputs {
  const sched = cfg.diffusion;
  const K = ds.numClasses;
  const { x, labels } = gather(ds, rng, b);
  const eps = rng.normals(x.length);
  const w = new Float32Array(b);
  const t = new Float32Array(b);
  const cls = Int32Array.from(labels);
  if (spec.stage === 'teacher') {
    for (let i = 0; i < b; i++) if (rng.uniform() < sched.pUncond) cls[i] = K;
    for (let i = 0; i < b; i++) t[i] = rng.uniform();
  } else if (spec.stage === 'guided') {
    for (let i = 0; i < b; i++) w[i] = studentW(cfg, rng.uniform());
    for (let i = 0; i < b; i++) t[i] = rng.uniform();
  } else if (spec.stage === 'consistency') {
    // t = i/T on the fine grid, i uniform in 1..T (docs/method.md, "Stage 2b: multistep consistency distillation")
    const fine = consistencySettings(cfg).teacherSteps;
    for (let i = 0; i < b; i++) w[i] = studentW(cfg, rng.uniform());
    for (let i = 0; i < b; i++) t[i] = (1 + rng.int(fine)) / fine;
  } else {
    const ns = spec.toSteps!;
    for (let i = 0; i < b; i++) w[i] = studentW(cfg, rng.uniform());
    for (let i = 0; i < b; i++) t[i] = (1 + rng.int(ns)) / ns;
  }
  const lambdaT = Float32Array.from(t, (v) => logSnr(v, sched));
  return { b, x, eps, t, lambdaT, cls, w };
}

/** Examples [from, to) of a step's inputs (copies). */
export function sliceInputs(inp: StepInputs, from: number, to: number): StepInputs {
  const d = inp.x.length / inp.b;
  return {
    b: to - from,
    x: inp.x.slice(from * d, to * d),
    eps: inp.eps.slice(from * d, to * d),
    t: inp.t.slice(from, to),
    lambdaT: inp.lambdaT.slice(from, to),
    cls: inp.cls.slice(from, to),
    w: inp.w.slice(from, to),
  };
}

/**
 * The loss of `student` on `inp` (mean over its examples). The frozen network's target is computed now,
 * outside the gradient tape; `release` frees it. A consistency unit's target also takes one pass of `student` itself
 * at its current weights (stop-gradient: it is computed here, not in the loss closure).
 */
export function buildStepLoss(
  cfg: ResolvedConfig,
  spec: LossSpec,
  student: Net,
  frozen: Net | undefined,
  inp: StepInputs,
): { lossFn: () => tf.Scalar; release: () => void } {
  const param = cfg.model.parameterization;
  const sched = cfg.diffusion;
  const rank = spec.exampleShape.length + 1;
  const T: Denoiser | undefined = frozen && { net: frozen, param, schedule: sched };
  const { b, x, eps, t, lambdaT, cls, w } = inp;
  const shape = [b, ...spec.exampleShape];
  const weights = truncatedSnrWeights(lambdaT);
  if (spec.stage !== 'teacher' && !T) throw new Error(`${spec.stage}: a frozen network is required`);

  // Targets are computed outside the gradient tape (teacher frozen).
  const { z, target } = tf.tidy(() => {
    const xT = tf.tensor(x, shape);
    const epsT = tf.tensor(eps, shape);
    const z = diffuse({ x: xT, eps: epsT, c: coefs(lambdaT, rank) });
    if (spec.stage === 'teacher') return { z, target: xT };
    if (spec.stage === 'guided') return { z, target: guidedX(T!, { z, lambdas: lambdaT, classes: cls, w }) };
    if (spec.stage === 'consistency') {
      // docs/method.md, "Stage 2b: multistep consistency distillation"; λ at time 0 is logSnrMax with the step's
      // toZero flag, as in the progressive target below.
      const fine = consistencySettings(cfg).teacherSteps;
      const times = Array.from(t, (v) => consistencyTimes(Math.round(v * fine), fine, spec.toSteps!));
      const prevZero = times.map((c) => c.tPrev === 0);
      const sZero = times.map((c) => c.s === 0);
      const lamPrev = Float32Array.from(times, (c) => (c.tPrev === 0 ? sched.logSnrMax : logSnr(c.tPrev, sched)));
      const lamS = Float32Array.from(times, (c) => (c.s === 0 ? sched.logSnrMax : logSnr(c.s, sched)));
      const xTeacher = denoise(T!, { z, lambdas: lambdaT, classes: cls, w }).x;
      const zPrev = ddimStep({ z, x: xTeacher, lambdaT, lambdaS: lamPrev, toZero: prevZero });
      const self: Denoiser = { net: student, param, schedule: sched };
      const xRef = denoise(self, { z: zPrev, lambdas: lamPrev, classes: cls, w }).x;
      const zRef = consistencyReference({
        zPrev,
        xRef,
        lambdaPrev: lamPrev,
        lambdaS: lamS,
        atStart: times.map((c) => c.tPrev === c.s),
        toZero: sZero,
      });
      return { z, target: consistencyTarget({ zT: z, zRef, lambdaT, lambdaS: lamS, toZero: sZero }) };
    }
    const ns = spec.toSteps!;
    const lam1 = Float32Array.from(t, (v) => logSnr(v - 0.5 / ns, sched));
    const last = Array.from(t, (v) => Math.abs(v - 1 / ns) < 1e-9);
    const lam2 = Float32Array.from(t, (v, i) => (last[i] ? sched.logSnrMax : logSnr(v - 1 / ns, sched)));
    const x1 = denoise(T!, { z, lambdas: lambdaT, classes: cls, w }).x;
    const z1 = ddimStep({ z, x: x1, lambdaT, lambdaS: lam1 });
    const x2 = denoise(T!, { z: z1, lambdas: lam1, classes: cls, w }).x;
    const z2 = ddimStep({ z: z1, x: x2, lambdaT: lam1, lambdaS: lam2, toZero: last });
    return { z, target: distillTarget({ zT: z, zT2: z2, xAtMid: x2, lambdaT, lambdaT2: lam2, lastStep: last }) };
  });
  const lossFn = () => {
    const out = student.apply(z, lambdaT, cls, spec.stage === 'teacher' ? undefined : w);
    const { x: xhat } = predictions({ out, z, c: coefs(lambdaT, rank), param });
    return weightedMse({ pred: xhat, target, weights });
  };
  return { lossFn, release: () => tf.dispose([z, target]) };
}
