/**
 * The method's equations over tensors (docs/method.md): parameterisations, truncated-SNR loss, guided prediction,
 * DDIM step, the stage-2 distillation target, and the stochastic sampler's re-noising.
 * Per-example coefficients (α, σ, their ratios) are computed in float64 on the host (schedule.ts) and enter as
 * [B, 1, …] tensors, so every formula below is exactly the one in docs/method.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import { alpha, alphaRatio, sigma, sigmaRatio } from './schedule';

export type Parameterization = 'v' | 'x' | 'eps';

/** A [B, 1, …, 1] tensor that broadcasts against examples of the given rank (including the batch axis). */
export function perExample(values: ArrayLike<number>, exampleRank: number): tf.Tensor {
  const shape = [values.length, ...new Array(exampleRank - 1).fill(1)];
  return tf.tensor(Float32Array.from(values), shape, 'float32');
}

export interface Coefs {
  alpha: tf.Tensor;
  sigma: tf.Tensor;
}

export function coefs(lambdas: ArrayLike<number>, exampleRank: number): Coefs {
  return {
    alpha: perExample(Array.from(lambdas, alpha), exampleRank),
    sigma: perExample(Array.from(lambdas, sigma), exampleRank),
  };
}

/** z_t = α·x + σ·ε. */
export function diffuse({ x, eps, c }: { x: tf.Tensor; eps: tf.Tensor; c: Coefs }): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(c.alpha, x), tf.mul(c.sigma, eps)));
}

/**
 * (x̂, ε̂) from the network output under each parameterisation:
 * v: x̂ = α·z − σ·v̂, ε̂ = σ·z + α·v̂;  x: ε̂ = (z − α·x̂)/σ;  eps: x̂ = (z − σ·ε̂)/α.
 */
export function predictions({
  out,
  z,
  c,
  param,
}: {
  out: tf.Tensor;
  z: tf.Tensor;
  c: Coefs;
  param: Parameterization;
}): {
  x: tf.Tensor;
  eps: tf.Tensor;
} {
  return tf.tidy(() => {
    switch (param) {
      case 'v':
        return {
          x: tf.sub(tf.mul(c.alpha, z), tf.mul(c.sigma, out)),
          eps: tf.add(tf.mul(c.sigma, z), tf.mul(c.alpha, out)),
        };
      case 'x':
        return { x: out.clone(), eps: tf.div(tf.sub(z, tf.mul(c.alpha, out)), c.sigma) };
      case 'eps':
        return { x: tf.div(tf.sub(z, tf.mul(c.sigma, out)), c.alpha), eps: out.clone() };
    }
  });
}

/** The network output that yields x̂ = x (inverse of `predictions`), used by tests for round trips. */
export function outputFor({
  x,
  z,
  c,
  param,
}: {
  x: tf.Tensor;
  z: tf.Tensor;
  c: Coefs;
  param: Parameterization;
}): tf.Tensor {
  return tf.tidy(() => {
    const eps = tf.div(tf.sub(z, tf.mul(c.alpha, x)), c.sigma);
    switch (param) {
      case 'v':
        return tf.sub(tf.mul(c.alpha, eps), tf.mul(c.sigma, x));
      case 'x':
        return x.clone();
      case 'eps':
        return eps;
    }
  });
}

/** Per-example truncated-SNR weight max(SNR_t, 1) = max(exp(λ), 1). */
export function truncatedSnrWeights(lambdas: ArrayLike<number>): Float32Array {
  return Float32Array.from(lambdas, (l) => Math.max(Math.exp(Math.min(l, 80)), 1));
}

/** L = mean over the batch of max(SNR_t, 1)·mean_d (x̂ − target)². */
export function weightedMse({
  pred,
  target,
  weights,
}: {
  pred: tf.Tensor;
  target: tf.Tensor;
  weights: Float32Array;
}): tf.Scalar {
  return tf.tidy(() => {
    const axes = pred.shape.slice(1).map((_, i) => i + 1);
    const perEx = tf.mean(tf.square(tf.sub(pred, target)), axes);
    return tf.mean(tf.mul(perEx, tf.tensor1d(weights))) as tf.Scalar;
  });
}

/** x̂^w = (1 + w)·x̂(c) − w·x̂(∅) with a per-example w. */
export function guide({ cond, uncond, w }: { cond: tf.Tensor; uncond: tf.Tensor; w: tf.Tensor }): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.add(w, 1), cond), tf.mul(w, uncond)));
}

/**
 * One DDIM step from t to s < t given x̂: z_s = α_s·x̂ + (σ_s/σ_t)·(z_t − α_t·x̂) (ratio in log space).
 * When s = 0 the step returns x̂ (docs/method.md, "Samplers"). Per-example λ arrays.
 */
export function ddimStep({
  z,
  x,
  lambdaT,
  lambdaS,
  toZero,
}: {
  z: tf.Tensor;
  x: tf.Tensor;
  lambdaT: ArrayLike<number>;
  lambdaS: ArrayLike<number>;
  toZero?: ArrayLike<boolean>;
}): tf.Tensor {
  return tf.tidy(() => {
    const rank = z.rank;
    const n = lambdaT.length;
    const aS = new Float32Array(n);
    const aT = new Float32Array(n);
    const r = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (toZero && toZero[i]) {
        aS[i] = 1; // z_0 = x̂
        aT[i] = 0;
        r[i] = 0;
      } else {
        aS[i] = alpha(lambdaS[i]);
        aT[i] = alpha(lambdaT[i]);
        r[i] = sigmaRatio({ lambdaS: lambdaS[i], lambdaT: lambdaT[i] });
      }
    }
    const A = perExample(aS, rank);
    const R = perExample(r, rank);
    const AT = perExample(aT, rank);
    return tf.add(tf.mul(A, x), tf.mul(R, tf.sub(z, tf.mul(AT, x))));
  });
}

/**
 * Stage-2 target (docs/method.md, "Stage 2: halving the steps"): x̃ = (z_t'' − (σ_t''/σ_t)·z_t) / (α_t'' − (σ_t''/σ_t)·α_t);
 * where t'' = 0 the target is x̂_T(z_t') instead (`xAtMid`).
 */
export function distillTarget({
  zT,
  zT2,
  xAtMid,
  lambdaT,
  lambdaT2,
  lastStep,
}: {
  zT: tf.Tensor;
  zT2: tf.Tensor;
  xAtMid: tf.Tensor;
  lambdaT: ArrayLike<number>;
  lambdaT2: ArrayLike<number>;
  lastStep: ArrayLike<boolean>;
}): tf.Tensor {
  return tf.tidy(() => {
    const rank = zT.rank;
    const n = lambdaT.length;
    const r = new Float32Array(n);
    const inv = new Float32Array(n);
    const pick = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (lastStep[i]) {
        pick[i] = 1;
        continue;
      }
      r[i] = sigmaRatio({ lambdaS: lambdaT2[i], lambdaT: lambdaT[i] });
      inv[i] = 1 / (alpha(lambdaT2[i]) - r[i] * alpha(lambdaT[i]));
    }
    const R = perExample(r, rank);
    const INV = perExample(inv, rank);
    const P = perExample(pick, rank);
    const general = tf.mul(tf.sub(zT2, tf.mul(R, zT)), INV);
    return tf.add(tf.mul(P, xAtMid), tf.mul(tf.sub(1, P), general));
  });
}

/**
 * Stochastic sampler re-noising (paper §3.3): from z_k at k forward to s > k:
 * z_s = (α_s/α_k)·z_k + σ_{s|k}·ε, σ²_{s|k} = (1 − exp(λ_s − λ_k))·σ_s².
 */
export function renoise({
  zK,
  eps,
  lambdaK,
  lambdaS,
}: {
  zK: tf.Tensor;
  eps: tf.Tensor;
  lambdaK: number;
  lambdaS: number;
}): tf.Tensor {
  return tf.tidy(() => {
    const ratio = alphaRatio({ lambdaS, lambdaT: lambdaK });
    const s2 = (1 - Math.exp(lambdaS - lambdaK)) * sigma(lambdaS) ** 2;
    return tf.add(tf.mul(zK, ratio), tf.mul(eps, Math.sqrt(Math.max(s2, 0))));
  });
}
