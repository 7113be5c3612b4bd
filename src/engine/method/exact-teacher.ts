/**
 * The exact teacher (docs/method.md, "The exact teacher"): for data drawn from a class-conditional mixture of diagonal
 * Gaussians the optimal denoiser E[x | z_λ, c] has a closed form, for the conditional model and for the unconditional
 * (∅) one alike, so the guided prediction x̂_w = (1 + w)·x̂(z, c) − w·x̂(z, ∅) is exact at every λ and w. A student
 * distilled from it can be measured against the truth instead of against a trained teacher's own errors.
 *
 * The mixture: class c has prior p_c and components k with weight π_ck (Σ_k π_ck = 1), mean μ_ck and per-dimension
 * variance s²_ck. Under z = α·x + σ·ε each component becomes N(α·μ_ck, α²·s²_ck + σ²) in z, and
 *   r_k(z)       = softmax_k [ log q_k − ½ Σ_d ( (z_d − α·μ_kd)² / v_kd + log v_kd ) ],   v_kd = α²·s²_kd + σ²
 *   E[x | z, k]  = μ_k + (α·s²_k / v_k) ⊙ (z − α·μ_k)
 *   E[x | z, ·]  = Σ_k r_k(z) · E[x | z, k]
 * with q_k = π_ck over the components of class c for the conditional model, and q_k = p_c·π_ck over every component
 * for ∅.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Net } from '../nn/net';
import { Params } from '../nn/params';
import { Rng } from '../random/rng';
import { alpha, sigma } from './schedule';
import { Parameterization } from './diffusion';

/** A class-conditional mixture of diagonal Gaussians over D-dimensional examples. */
export interface GaussianMixture {
  /** Dimensions of one example (the product of `shape`). */
  dim: number;
  /** The examples' shape: [2] for points, [H, W, C] for images. */
  shape: number[];
  numClasses: number;
  /** Components per class. */
  components: number;
  /** p_c, [K]; sums to 1. */
  classPrior: Float64Array;
  /** π_ck, [K·M] (class-major); each class's weights sum to 1. */
  weights: Float64Array;
  /** μ_ck, [K·M·D]. */
  means: Float32Array;
  /** s²_ck, [K·M·D]; every value > 0. */
  variances: Float32Array;
}

/** Checks a mixture's sizes and values; the error names the field and what was expected. */
export function checkMixture(m: GaussianMixture): void {
  const KM = m.numClasses * m.components;
  const expect = (name: string, got: number, want: number) => {
    if (got !== want) throw new Error(`mixture.${name}: expected ${want} values (${m.numClasses} classes × ${m.components} components${name === 'classPrior' ? '' : name === 'weights' ? '' : ` × ${m.dim} dimensions`}), got ${got}`);
  };
  if (m.shape.reduce((a, b) => a * b, 1) !== m.dim) throw new Error(`mixture.shape: [${m.shape.join(', ')}] does not hold ${m.dim} dimensions`);
  expect('classPrior', m.classPrior.length, m.numClasses);
  expect('weights', m.weights.length, KM);
  expect('means', m.means.length, KM * m.dim);
  expect('variances', m.variances.length, KM * m.dim);
  const near1 = (s: number) => Math.abs(s - 1) < 1e-6;
  if (!near1(m.classPrior.reduce((a, b) => a + b, 0)) || m.classPrior.some((p) => !(p > 0))) throw new Error('mixture.classPrior: expected positive values that sum to 1');
  for (let c = 0; c < m.numClasses; c++) {
    const w = m.weights.subarray(c * m.components, (c + 1) * m.components);
    if (!near1(w.reduce((a, b) => a + b, 0)) || w.some((p) => !(p > 0))) throw new Error(`mixture.weights: class ${c}'s component weights must be positive and sum to 1`);
  }
  if (m.variances.some((v) => !(v > 0) || !Number.isFinite(v))) throw new Error('mixture.variances: every variance must be a positive finite number');
  if (m.means.some((v) => !Number.isFinite(v))) throw new Error('mixture.means: every mean must be finite');
}

/** n examples drawn from the mixture, classes round-robin (label = i mod K), from a seeded generator. */
export function sampleMixture(m: GaussianMixture, n: number, seed: number, stream = 'mixture'): { x: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed, stream);
  const D = m.dim;
  const x = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % m.numClasses;
    labels[i] = c;
    let u = rng.uniform();
    let k = 0;
    for (; k < m.components - 1; k++) {
      u -= m.weights[c * m.components + k];
      if (u < 0) break;
    }
    const base = (c * m.components + k) * D;
    const eps = rng.normals(D);
    for (let d = 0; d < D; d++) x[i * D + d] = m.means[base + d] + Math.sqrt(m.variances[base + d]) * eps[d];
  }
  return { x, labels };
}

/** The mixture's constants as tensors (kept for the life of the exact teacher). */
interface MixtureTensors {
  means: tf.Tensor3D; // [1, KM, D]
  variances: tf.Tensor3D; // [1, KM, D]
  /** log π_ck per component, masked per class: row c holds log π_ck for class c's components and −∞ elsewhere; row K (∅) holds log p_c·π_ck. [K+1, KM]. */
  logWeights: tf.Tensor2D;
}

function mixtureTensors(m: GaussianMixture): MixtureTensors {
  const K = m.numClasses;
  const M = m.components;
  const KM = K * M;
  const lw = new Float32Array((K + 1) * KM).fill(-Infinity);
  for (let c = 0; c < K; c++) {
    for (let k = 0; k < M; k++) {
      const j = c * M + k;
      lw[c * KM + j] = Math.log(m.weights[j]);
      lw[K * KM + j] = Math.log(m.classPrior[c] * m.weights[j]);
    }
  }
  return {
    means: tf.tensor3d(m.means, [1, KM, m.dim]),
    variances: tf.tensor3d(m.variances, [1, KM, m.dim]),
    logWeights: tf.tensor2d(lw, [K + 1, KM]),
  };
}

/**
 * E[x | z, c] for a batch: z [B, D] (flattened examples), per-example α and σ, classes [B] (K = ∅). Returns [B, D].
 * The equations of the file header; responsibilities through a log-sum-exp, so no component underflows alone.
 */
function posteriorMean(t: MixtureTensors, z: tf.Tensor2D, alphas: Float32Array, sigmas: Float32Array, classes: Int32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const B = z.shape[0];
    const a = tf.tensor3d(alphas, [B, 1, 1]);
    const s2 = tf.tensor3d(Float32Array.from(sigmas, (s) => s * s), [B, 1, 1]);
    const z3 = tf.expandDims(z, 1) as tf.Tensor3D; // [B, 1, D]
    const v = tf.add(tf.mul(tf.square(a), t.variances), s2); // [B, KM, D]
    const r = tf.sub(z3, tf.mul(a, t.means)); // z − α·μ, [B, KM, D]
    const logLik = tf.mul(tf.sum(tf.add(tf.div(tf.square(r), v), tf.log(v)), 2), -0.5); // [B, KM]
    const logits = tf.add(logLik, tf.gather(t.logWeights, tf.tensor1d(classes, 'int32'))); // [B, KM]
    const resp = tf.softmax(logits, 1); // [B, KM]
    const xk = tf.add(t.means, tf.mul(tf.div(tf.mul(a, t.variances), v), r)); // E[x | z, k], [B, KM, D]
    return tf.sum(tf.mul(tf.expandDims(resp, 2), xk), 1) as tf.Tensor2D;
  });
}

/** E[x | z_λ, c] for examples of the mixture's shape: z [B, …], per-example λ, classes [B] (K = ∅). */
export function exactPosteriorMean(m: GaussianMixture, z: tf.Tensor, lambdas: Float32Array, classes: Int32Array): tf.Tensor {
  const t = mixtureTensors(m);
  try {
    return tf.tidy(() => {
      const B = z.shape[0];
      const x = posteriorMean(t, tf.reshape(z, [B, m.dim]) as tf.Tensor2D, Float32Array.from(lambdas, alpha), Float32Array.from(lambdas, sigma), classes);
      return tf.reshape(x, z.shape);
    });
  } finally {
    tf.dispose([t.means, t.variances, t.logWeights]);
  }
}

/**
 * The exact teacher as a network of the run: its output is what a trained teacher of the run's parameterisation
 * would output for the exact x̂ (v = α·ε̂ − σ·x̂, x̂, or ε̂ = (z − α·x̂)/σ), so the samplers and both distillation stages
 * use it unchanged. It has no trainable parameters; the mixture is held as constants until `dispose`.
 */
export function exactTeacherNet(m: GaussianMixture, param: Parameterization): Net {
  checkMixture(m);
  const t = mixtureTensors(m);
  return {
    kind: 'mlp',
    params: new Params(new Rng(0, 'exact-teacher')),
    withW: false,
    numClasses: m.numClasses,
    exampleShape: m.shape.slice(),
    // per component and dimension: about 12 operations for the likelihood and 6 for the posterior mean
    flopsPerExample: 18 * m.numClasses * m.components * m.dim,
    apply(z, lambda, cls, w) {
      if (w) throw new Error('the exact teacher takes no guidance weight: it is guided through its conditional and ∅ predictions');
      return tf.tidy(() => {
        const B = z.shape[0];
        const al = Float32Array.from(lambda, alpha);
        const si = Float32Array.from(lambda, sigma);
        const x = tf.reshape(posteriorMean(t, tf.reshape(z, [B, m.dim]) as tf.Tensor2D, al, si, cls), z.shape);
        if (param === 'x') return x;
        const shape = [B, ...new Array(z.rank - 1).fill(1)];
        const a = tf.tensor(al, shape);
        const s = tf.tensor(si, shape);
        const eps = tf.div(tf.sub(z, tf.mul(a, x)), s);
        return param === 'eps' ? eps : tf.sub(tf.mul(a, eps), tf.mul(s, x));
      });
    },
    dispose() {
      tf.dispose([t.means, t.variances, t.logWeights]);
    },
  };
}
