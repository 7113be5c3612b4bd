/**
 * Distribution metrics over plain arrays: sliced Wasserstein distance (toy data) and the Fréchet distance between
 * Gaussians fitted to feature sets (classifier-FID).
 */
import { Rng } from '../rng';

/**
 * Sliced Wasserstein-1 distance between point sets a and b (rows of `dim` values), averaged over `projections`
 * random unit directions; uses quantile matching, so the set sizes may differ.
 */
export function slicedWasserstein(a: Float32Array, b: Float32Array, dim: number, { projections = 128, seed = 0 } = {}): number {
  const na = a.length / dim;
  const nb = b.length / dim;
  if (!Number.isInteger(na) || !Number.isInteger(nb) || na === 0 || nb === 0) throw new Error('slicedWasserstein: empty or ragged point sets');
  const rng = new Rng(seed, 'swd');
  const q = Math.max(na, nb);
  const pa = new Float64Array(na);
  const pb = new Float64Array(nb);
  let total = 0;
  for (let p = 0; p < projections; p++) {
    const dir = Array.from({ length: dim }, () => rng.normal());
    const norm = Math.hypot(...dir);
    for (let k = 0; k < dim; k++) dir[k] /= norm;
    for (let i = 0; i < na; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += a[i * dim + k] * dir[k];
      pa[i] = s;
    }
    for (let i = 0; i < nb; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += b[i * dim + k] * dir[k];
      pb[i] = s;
    }
    pa.sort();
    pb.sort();
    let acc = 0;
    for (let j = 0; j < q; j++) {
      const u = (j + 0.5) / q;
      acc += Math.abs(pa[Math.min(na - 1, Math.floor(u * na))] - pb[Math.min(nb - 1, Math.floor(u * nb))]);
    }
    total += acc / q;
  }
  return total / projections;
}

function meanCov(x: Float32Array, n: number, d: number): { mu: Float64Array; cov: Float64Array } {
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mu[k] += x[i * d + k];
  for (let k = 0; k < d; k++) mu[k] /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) row[k] = x[i * d + k] - mu[k];
    for (let a = 0; a < d; a++) {
      const ra = row[a];
      for (let b = a; b < d; b++) cov[a * d + b] += ra * row[b];
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= Math.max(n - 1, 1);
      cov[b * d + a] = cov[a * d + b];
    }
  return { mu, cov };
}

/** Symmetric eigen-decomposition by cyclic Jacobi rotations (d up to a few hundred). */
export function symEig(m: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i];
  return { values, vectors: v };
}

function sqrtPsd(m: Float64Array, d: number): Float64Array {
  const { values, vectors } = symEig(m, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    for (let i = 0; i < d; i++) {
      const vi = vectors[i * d + k] * s;
      for (let j = 0; j < d; j++) out[i * d + j] += vi * vectors[j * d + k];
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  return out;
}

/**
 * Fréchet distance between Gaussians fitted to feature rows x and y (dimension d):
 * ‖μx − μy‖² + Tr(Σx + Σy − 2·(Σx^½ Σy Σx^½)^½).
 */
export function frechetDistance(x: Float32Array, y: Float32Array, d: number): number {
  const nx = x.length / d;
  const ny = y.length / d;
  const a = meanCov(x, nx, d);
  const b = meanCov(y, ny, d);
  let diff = 0;
  for (let k = 0; k < d; k++) diff += (a.mu[k] - b.mu[k]) ** 2;
  const sa = sqrtPsd(a.cov, d);
  const inner = matmul(matmul(sa, b.cov, d), sa, d);
  const { values } = symEig(inner, d);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(v, 0));
  let tr = 0;
  for (let k = 0; k < d; k++) tr += a.cov[k * d + k] + b.cov[k * d + k];
  return diff + tr - 2 * trSqrt;
}

/**
 * Diversity within classes: the trace of the within-class covariance of feature rows (the mean squared distance to
 * the class mean; half the mean pairwise squared distance), averaged over the classes present.
 */
export function withinClassTrace(x: Float32Array, labels: Int32Array, d: number): number {
  const n = labels.length;
  if (x.length !== n * d) throw new Error(`withinClassTrace: ${x.length} values for ${n} rows of ${d}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  let total = 0;
  let classes = 0;
  for (const rows of byClass.values()) {
    if (rows.length < 2) continue;
    const mu = new Float64Array(d);
    for (const i of rows) for (let k = 0; k < d; k++) mu[k] += x[i * d + k];
    for (let k = 0; k < d; k++) mu[k] /= rows.length;
    let ss = 0;
    for (const i of rows) for (let k = 0; k < d; k++) ss += (x[i * d + k] - mu[k]) ** 2;
    total += ss / (rows.length - 1);
    classes++;
  }
  return classes ? total / classes : NaN;
}

/** Rows of `x` (dimension d) whose label is `c`. */
export function rowsOfClass(x: Float32Array, labels: Int32Array, d: number, c: number): Float32Array {
  let m = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === c) m++;
  const out = new Float32Array(m * d);
  let j = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === c) out.set(x.subarray(i * d, (i + 1) * d), d * j++);
  return out;
}

/** Class-conditional sliced Wasserstein distance: the mean over classes present in both sets of SWD(a|c, b|c). */
export function classConditionalSwd(a: Float32Array, la: Int32Array, b: Float32Array, lb: Int32Array, d: number, { seed = 0, projections = 128 } = {}): number {
  const classes = [...new Set(la)].filter((c) => lb.includes(c)).sort((p, q) => p - q);
  if (!classes.length) throw new Error('classConditionalSwd: the two sets share no class');
  let total = 0;
  for (const c of classes) total += slicedWasserstein(rowsOfClass(a, la, d, c), rowsOfClass(b, lb, d, c), d, { seed, projections });
  return total / classes.length;
}
