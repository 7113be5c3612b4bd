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
 *
 * When the whole batch is at one noise level (every step of a sampler), v_k is the same for every example, and the
 * sums over d are matrix products over the batch (atOneLevel):
 *   Σ_d (z_d − α·μ_kd)² / v_kd = z² · (1/v_k) − 2α·z · (μ_k/v_k) + α²·Σ_d μ²_kd / v_kd
 *   E[x | z, ·]                = Σ_k r_k·(σ²·μ_k / v_k) + z ⊙ Σ_k r_k·(α·s²_k / v_k)
 * (the second because μ_k + (α·s²_k/v_k)·(z − α·μ_k) = σ²·μ_k/v_k + (α·s²_k/v_k)·z, as v_k − α²·s²_k = σ²).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Net } from '../nn/net';
import { Params } from '../nn/params';
import { Rng } from '../random/rng';
import { checkMixture, type GaussianMixture } from '../data/mixture';
import { alpha, sigma } from './schedule';
import { Parameterization } from './diffusion';

export { checkMixture, sampleMixture, type GaussianMixture } from '../data/mixture';

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
function posteriorMean(
  t: MixtureTensors,
  z: tf.Tensor2D,
  alphas: Float32Array,
  sigmas: Float32Array,
  classes: Int32Array,
): tf.Tensor2D {
  if (alphas.every((a) => a === alphas[0]) && sigmas.every((s) => s === sigmas[0]))
    return atOneLevel(t, z, alphas[0], sigmas[0], classes);
  return tf.tidy(() => {
    const B = z.shape[0];
    const a = tf.tensor3d(alphas, [B, 1, 1]);
    const s2 = tf.tensor3d(
      Float32Array.from(sigmas, (s) => s * s),
      [B, 1, 1],
    );
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

/**
 * posteriorMean for a batch at one noise level (α, σ): the header's matrix-product form, a few [B, D]·[D, KM] products
 * instead of element-wise work on [B, KM, D].
 */
function atOneLevel(t: MixtureTensors, z: tf.Tensor2D, a: number, s: number, classes: Int32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const [, KM, D] = t.means.shape;
    const mu = tf.reshape(t.means, [KM, D]);
    const s2k = tf.reshape(t.variances, [KM, D]);
    const v = tf.add(tf.mul(s2k, a * a), s * s); // [KM, D]
    const inv = tf.reciprocal(v);
    const muInv = tf.mul(mu, inv);
    // −½ Σ_d ((z − α·μ)²/v + log v), each sum over d a product with the batch
    const perComponent = tf.add(tf.mul(tf.sum(tf.mul(mu, muInv), 1), a * a), tf.sum(tf.log(v), 1)); // [KM]
    const quad = tf.sub(tf.matMul(tf.square(z), inv, false, true), tf.mul(tf.matMul(z, muInv, false, true), 2 * a));
    const logLik = tf.mul(tf.add(quad, perComponent), -0.5); // [B, KM]
    const logits = tf.add(logLik, tf.gather(t.logWeights, tf.tensor1d(classes, 'int32')));
    const resp = tf.softmax(logits, 1); // [B, KM]
    const shrink = tf.mul(tf.mul(s2k, inv), a); // α·s²/v, [KM, D]
    return tf.add(tf.matMul(resp, tf.mul(muInv, s * s)), tf.mul(z, tf.matMul(resp, shrink))) as tf.Tensor2D;
  });
}

/** E[x | z_λ, c] for examples of the mixture's shape: z [B, …], per-example λ, classes [B] (K = ∅). */
export function exactPosteriorMean(
  m: GaussianMixture,
  z: tf.Tensor,
  lambdas: Float32Array,
  classes: Int32Array,
): tf.Tensor {
  const t = mixtureTensors(m);
  try {
    return tf.tidy(() => {
      const B = z.shape[0];
      const x = posteriorMean(
        t,
        tf.reshape(z, [B, m.dim]) as tf.Tensor2D,
        Float32Array.from(lambdas, alpha),
        Float32Array.from(lambdas, sigma),
        classes,
      );
      return tf.reshape(x, z.shape);
    });
  } finally {
    tf.dispose([t.means, t.variances, t.logWeights]);
  }
}

/** The exact teacher's parameters: the mixture, as variables, so checkpoints save and load it like any network's. */
export const EXACT_TEACHER_PARAMS = {
  classPrior: 'mixture.classPrior',
  weights: 'mixture.weights',
  means: 'mixture.means',
  variances: 'mixture.variances',
} as const;

/**
 * The exact teacher as a network of the run: its output is what a trained teacher of the run's parameterisation
 * would output for the exact x̂ (v = α·ε̂ − σ·x̂, x̂, or ε̂ = (z − α·x̂)/σ), so the samplers and both distillation stages
 * use it unchanged. Its `params` hold the mixture (EXACT_TEACHER_PARAMS: classPrior [K], weights [K·M], means and
 * variances [K·M, D]); nothing trains them, and loading a checkpoint's arrays into them replaces the mixture.
 */
export function exactTeacherNet(m: GaussianMixture, param: Parameterization, kind: Net['kind'] = 'mlp'): Net {
  checkMixture(m);
  const K = m.numClasses;
  const M = m.components;
  const KM = K * M;
  const D = m.dim;
  const params = new Params(new Rng(0, 'exact-teacher'));
  const put = (name: string, shape: number[], values: ArrayLike<number>) => {
    const v = params.constant(name, shape, 0);
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(values), shape, 'float32')));
  };
  put(EXACT_TEACHER_PARAMS.classPrior, [K], m.classPrior);
  put(EXACT_TEACHER_PARAMS.weights, [KM], m.weights);
  put(EXACT_TEACHER_PARAMS.means, [KM, D], m.means);
  put(EXACT_TEACHER_PARAMS.variances, [KM, D], m.variances);
  // Row c keeps class c's components (0) and masks the others (−∞); row K (∅) keeps every component.
  const maskValues = new Float32Array((K + 1) * KM);
  for (let c = 0; c < K; c++)
    for (let j = 0; j < KM; j++) if (Math.floor(j / M) !== c) maskValues[c * KM + j] = -Infinity;
  const mask = tf.tensor2d(maskValues, [K + 1, KM]);
  const componentClass = tf.tensor1d(
    Int32Array.from({ length: KM }, (_, j) => Math.floor(j / M)),
    'int32',
  );
  // The ∅ row adds log p_c; the class rows do not.
  const priorRow = tf.tensor2d(
    Float32Array.from({ length: (K + 1) * KM }, (_, i) => (i >= K * KM ? 1 : 0)),
    [K + 1, KM],
  );
  const tensors = (): MixtureTensors => {
    const logW = tf.log(params.get(EXACT_TEACHER_PARAMS.weights)); // [KM]
    const logPrior = tf.gather(tf.log(params.get(EXACT_TEACHER_PARAMS.classPrior)), componentClass); // [KM]
    return {
      means: tf.reshape(params.get(EXACT_TEACHER_PARAMS.means), [1, KM, D]) as tf.Tensor3D,
      variances: tf.reshape(params.get(EXACT_TEACHER_PARAMS.variances), [1, KM, D]) as tf.Tensor3D,
      logWeights: tf.add(tf.add(mask, logW), tf.mul(priorRow, logPrior)) as tf.Tensor2D,
    };
  };
  return {
    kind,
    params,
    withW: false,
    numClasses: K,
    exampleShape: m.shape.slice(),
    // per component and dimension: about 12 operations for the likelihood and 6 for the posterior mean
    flopsPerExample: 18 * KM * D,
    apply(z, lambda, cls, w) {
      if (w)
        throw new Error(
          'the exact teacher takes no guidance weight: it is guided through its conditional and ∅ predictions',
        );
      return tf.tidy(() => {
        const B = z.shape[0];
        const al = Float32Array.from(lambda, alpha);
        const si = Float32Array.from(lambda, sigma);
        const x = tf.reshape(posteriorMean(tensors(), tf.reshape(z, [B, D]) as tf.Tensor2D, al, si, cls), z.shape);
        if (param === 'x') return x;
        const shape = [B, ...new Array(z.rank - 1).fill(1)];
        const a = tf.tensor(al, shape);
        const s = tf.tensor(si, shape);
        const eps = tf.div(tf.sub(z, tf.mul(a, x)), s);
        return param === 'eps' ? eps : tf.sub(tf.mul(a, eps), tf.mul(s, x));
      });
    },
    dispose() {
      params.dispose();
      tf.dispose([mask, componentClass, priorRow]);
    },
  };
}

/**
 * A mixture of the given sizes with placeholder values (equal weights, zero means, unit variances): the shell an exact
 * teacher is built on before a checkpoint's mixture is loaded into it.
 */
export function placeholderMixture(numClasses: number, components: number, shape: number[]): GaussianMixture {
  const dim = shape.reduce((a, b) => a * b, 1);
  const KM = numClasses * components;
  return {
    dim,
    shape: shape.slice(),
    numClasses,
    components,
    classPrior: new Float64Array(numClasses).fill(1 / numClasses),
    weights: new Float64Array(KM).fill(1 / components),
    means: new Float32Array(KM * dim),
    variances: new Float32Array(KM * dim).fill(1),
  };
}
