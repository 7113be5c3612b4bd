/**
 * Guided multistep consistency distillation (docs/method.md, "Stage 2b: multistep consistency distillation"): the
 * times of one training example on the fine grid, the reference point the student's step must reach, and the x̂ that
 * makes its DDIM step from z_t land there. The teacher step and the student's own step are DDIM steps (`ddimStep`);
 * the target reuses the stage-2 inversion (`distillTarget`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ddimStep, distillTarget, perExample } from './diffusion';

/**
 * Segment start of a time t for an N-step student: s(t) = the largest k/N with k/N < t, i.e. (⌈N·t⌉ − 1)/N (a time on
 * a boundary k/N belongs to the segment below it: s = (k − 1)/N). Exact for times on a power-of-two grid.
 */
export function segmentStart(t: number, studentSteps: number): number {
  if (!(t > 0 && t <= 1)) throw new Error(`segmentStart: t must be in (0, 1], got ${t}`);
  return (Math.ceil(studentSteps * t) - 1) / studentSteps;
}

/** One example's times: t = i/T, the teacher's next fine time t' = (i − 1)/T, and the segment start s = s(t). */
export interface ConsistencyTimes {
  t: number;
  tPrev: number;
  s: number;
}

/** The times of fine step i ∈ {1..T} for an N-step student: t = i/T, t' = (i − 1)/T, s = s(t). */
export function consistencyTimes(i: number, teacherSteps: number, studentSteps: number): ConsistencyTimes {
  if (!Number.isInteger(i) || i < 1 || i > teacherSteps)
    throw new Error(`consistencyTimes: i must be an integer in 1..${teacherSteps}, got ${i}`);
  const t = i / teacherSteps;
  return { t, tPrev: (i - 1) / teacherSteps, s: segmentStart(t, studentSteps) };
}

/**
 * The reference point at the segment start: z_ref = z_t' when t' = s (the teacher's step already reached s), else the
 * student's stop-gradient DDIM step z_ref = α_s·x̂_ref + (σ_s/σ_t')·(z_t' − α_t'·x̂_ref), with z_ref = x̂_ref when s = 0.
 * Per example: `atStart` marks t' = s, `toZero` marks s = 0; λ arrays per example.
 */
export function consistencyReference({
  zPrev,
  xRef,
  lambdaPrev,
  lambdaS,
  atStart,
  toZero,
}: {
  zPrev: tf.Tensor;
  xRef: tf.Tensor;
  lambdaPrev: ArrayLike<number>;
  lambdaS: ArrayLike<number>;
  atStart: ArrayLike<boolean>;
  toZero: ArrayLike<boolean>;
}): tf.Tensor {
  return tf.tidy(() => {
    const stepped = ddimStep({ z: zPrev, x: xRef, lambdaT: lambdaPrev, lambdaS, toZero });
    const P = perExample(
      Array.from(atStart, (a) => (a ? 1 : 0)),
      zPrev.rank,
    );
    return tf.add(tf.mul(P, zPrev), tf.mul(tf.sub(1, P), stepped));
  });
}

/**
 * The consistency target: the x̂ whose DDIM step from z_t to s lands on z_ref,
 * x̃ = (z_ref − (σ_s/σ_t)·z_t) / (α_s − (σ_s/σ_t)·α_t), and x̃ = z_ref when s = 0 (`toZero`). The same inversion as the
 * progressive target (`distillTarget`), with z_ref in place of the teacher's two steps.
 */
export function consistencyTarget({
  zT,
  zRef,
  lambdaT,
  lambdaS,
  toZero,
}: {
  zT: tf.Tensor;
  zRef: tf.Tensor;
  lambdaT: ArrayLike<number>;
  lambdaS: ArrayLike<number>;
  toZero: ArrayLike<boolean>;
}): tf.Tensor {
  return distillTarget({ zT, zT2: zRef, xAtMid: zRef, lambdaT, lambdaT2: lambdaS, lastStep: toZero });
}
