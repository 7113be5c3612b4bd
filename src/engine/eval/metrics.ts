/**
 * Distribution metrics over plain arrays: sliced Wasserstein distance (toy data) and the Fréchet distance between
 * Gaussians fitted to feature sets (classifier-FID).
 */
import { Rng } from '../random/rng';

/**
 * Sliced Wasserstein-1 distance between point sets a and b (rows of `dim` values), averaged over `projections`
 * random unit directions; uses quantile matching, so the set sizes may differ.
 */
export function slicedWasserstein(
  a: Float32Array,
  b: Float32Array,
  dim: number,
  { projections = 128, seed = 0 } = {},
): number {
  const na = a.length / dim;
  const nb = b.length / dim;
  if (!Number.isInteger(na) || !Number.isInteger(nb) || na === 0 || nb === 0)
    throw new Error('slicedWasserstein: empty or ragged point sets');
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

/**
 * Symmetric eigen-decomposition: Householder reduction to tridiagonal form, then the implicit QL algorithm (the
 * EISPACK tred2/tql2 pair, as in JAMA). O(d³) with a small constant: a 288-d covariance takes a few tens of ms, where
 * cyclic Jacobi rotations took seconds. Column k of `vectors` (vectors[i·d + k]) is the eigenvector of values[k].
 */
export function symEig(m: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const n = d;
  const V = Float64Array.from(m);
  const e = new Float64Array(n);
  const dd = new Float64Array(n);
  // symmetrise (guards against float asymmetry in the input)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) V[i * n + j] = V[j * n + i] = 0.5 * (V[i * n + j] + V[j * n + i]);
  // tred2
  for (let j = 0; j < n; j++) dd[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(dd[k]);
    if (scale === 0) {
      e[i] = dd[i - 1];
      for (let j = 0; j < i; j++) {
        dd[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        dd[k] /= scale;
        h += dd[k] * dd[k];
      }
      let f = dd[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      dd[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = dd[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * dd[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * dd[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * dd[j];
      for (let j = 0; j < i; j++) {
        f = dd[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * dd[k];
        dd[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    dd[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = dd[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) dd[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * dd[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    dd[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
  // tql2
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(dd[l]) + Math.abs(e[l]));
    let mm = l;
    while (mm < n) {
      if (Math.abs(e[mm]) <= eps * tst1) break;
      mm++;
    }
    if (mm > l) {
      for (let iter = 0; iter < 100; iter++) {
        let g = dd[l];
        let p = (dd[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        dd[l] = e[l] / (p + r);
        dd[l + 1] = e[l] * (p + r);
        const dl1 = dd[l + 1];
        let h = g - dd[l];
        for (let i = l + 2; i < n; i++) dd[i] -= h;
        f += h;
        p = dd[mm];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = mm - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * dd[i] - s * g;
          dd[i + 1] = h + s * (c * g + s * dd[i]);
          for (let k = 0; k < n; k++) {
            h = V[k * n + i + 1];
            V[k * n + i + 1] = s * V[k * n + i] + c * h;
            V[k * n + i] = c * V[k * n + i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        dd[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    dd[l] += f;
    e[l] = 0;
  }
  return { values: dd, vectors: V };
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

/** Feature rows fitted as a Gaussian once (mean, covariance and its square root), to measure many sets against. */
export interface FittedGaussian {
  d: number;
  mu: Float64Array;
  cov: Float64Array;
  sqrtCov: Float64Array;
}

/** The Gaussian of feature rows `y` (dimension d), with the square root of its covariance. */
export function fitGaussian(y: Float32Array, d: number): FittedGaussian {
  const { mu, cov } = meanCov(y, y.length / d, d);
  return { d, mu, cov, sqrtCov: sqrtPsd(cov, d) };
}

/**
 * Fréchet distance between Gaussians fitted to feature rows x and y (dimension d):
 * ‖μx − μy‖² + Tr(Σx + Σy − 2·(Σy^½ Σx Σy^½)^½). `y` may be fitted once (fitGaussian) and reused: a report measures
 * every row against the same reference.
 */
export function frechetDistance(x: Float32Array, y: Float32Array | FittedGaussian, d: number): number {
  const b = y instanceof Float32Array ? fitGaussian(y, d) : y;
  if (b.d !== d) throw new Error(`frechetDistance: a ${b.d}-d reference for ${d}-d rows`);
  const a = meanCov(x, x.length / d, d);
  let diff = 0;
  for (let k = 0; k < d; k++) diff += (a.mu[k] - b.mu[k]) ** 2;
  const inner = matmul(matmul(b.sqrtCov, a.cov, d), b.sqrtCov, d);
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
export function classConditionalSwd(
  a: Float32Array,
  la: Int32Array,
  b: Float32Array,
  lb: Int32Array,
  d: number,
  { seed = 0, projections = 128 } = {},
): number {
  const classes = [...new Set(la)].filter((c) => lb.includes(c)).sort((p, q) => p - q);
  if (!classes.length) throw new Error('classConditionalSwd: the two sets share no class');
  let total = 0;
  for (const c of classes)
    total += slicedWasserstein(rowsOfClass(a, la, d, c), rowsOfClass(b, lb, d, c), d, { seed, projections });
  return total / classes.length;
}

// ───────────────────────────── k-NN manifold metrics ─────────────────────────────

/** Squared Euclidean distances between the rows of a (na × d) and of b (nb × d), as an na × nb matrix. */
export function pairwiseSqDist(a: Float32Array, b: Float32Array, d: number): Float64Array {
  const na = a.length / d;
  const nb = b.length / d;
  const out = new Float64Array(na * nb);
  const nbq = new Float64Array(nb);
  for (let j = 0; j < nb; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += b[j * d + k] * b[j * d + k];
    nbq[j] = s;
  }
  for (let i = 0; i < na; i++) {
    let ai = 0;
    for (let k = 0; k < d; k++) ai += a[i * d + k] * a[i * d + k];
    for (let j = 0; j < nb; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a[i * d + k] * b[j * d + k];
      out[i * nb + j] = Math.max(0, ai + nbq[j] - 2 * dot);
    }
  }
  return out;
}

/** Squared distance from each row of x to its k-th nearest other row (the radius of its k-NN ball). */
export function kthNeighbourSqDist(x: Float32Array, d: number, k: number): Float64Array {
  const n = x.length / d;
  if (n <= k) throw new Error(`k-NN radii: ${n} points cannot have a ${k}-th nearest neighbour`);
  const dist = pairwiseSqDist(x, x, d);
  const out = new Float64Array(n);
  const row = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[m++] = dist[i * n + j];
    row.sort();
    out[i] = row[k - 1];
  }
  return out;
}

export interface ManifoldMetrics {
  /** Kynkäänniemi et al. 2019: the share of samples inside the real k-NN manifold (fidelity). */
  precision: number;
  /** The share of real points inside the samples' k-NN manifold (diversity: which real variations are produced). */
  recall: number;
  /** Naeem et al. 2020: how many real k-NN balls hold each sample on average, ÷ k (1 for samples distributed like the data). */
  density: number;
  /** The share of real points whose k-NN ball holds at least one sample (robust to outliers; drops with lost modes). */
  coverage: number;
}

/**
 * Precision and recall (Kynkäänniemi et al., k = `kPr`) and density and coverage (Naeem et al., k = `kDc`) of the
 * sample rows `fake` against the real rows `real` (both `d` wide). Exact, deterministic, O(n²·d).
 */
export function manifoldMetrics(
  real: Float32Array,
  fake: Float32Array,
  d: number,
  { kPr = 3, kDc = 5 } = {},
): ManifoldMetrics {
  const nr = real.length / d;
  const nf = fake.length / d;
  const realPr = kthNeighbourSqDist(real, d, kPr);
  const realDc = kPr === kDc ? realPr : kthNeighbourSqDist(real, d, kDc);
  const fakePr = kthNeighbourSqDist(fake, d, kPr);
  const cross = pairwiseSqDist(fake, real, d); // nf × nr
  let inReal = 0;
  let densitySum = 0;
  for (let j = 0; j < nf; j++) {
    let hit = false;
    for (let i = 0; i < nr; i++) {
      const s = cross[j * nr + i];
      if (s <= realPr[i]) hit = true;
      if (s <= realDc[i]) densitySum++;
    }
    if (hit) inReal++;
  }
  let recalled = 0;
  let covered = 0;
  for (let i = 0; i < nr; i++) {
    let r = false;
    let c = false;
    for (let j = 0; j < nf && !(r && c); j++) {
      const s = cross[j * nr + i];
      if (s <= fakePr[j]) r = true;
      if (s <= realDc[i]) c = true;
    }
    if (r) recalled++;
    if (c) covered++;
  }
  return { precision: inReal / nf, recall: recalled / nr, density: densitySum / (kDc * nf), coverage: covered / nr };
}

/**
 * The manifold metrics computed within each class (samples of class c against real rows of class c) and averaged
 * over the classes present in both sets: a class-conditional model should cover every class's own variations.
 * Classes with too few rows for the k-NN radii are skipped.
 */
export function classConditionalManifold(
  real: Float32Array,
  realLabels: Int32Array,
  fake: Float32Array,
  fakeLabels: Int32Array,
  d: number,
  opts: { kPr?: number; kDc?: number } = {},
): ManifoldMetrics {
  const kMax = Math.max(opts.kPr ?? 3, opts.kDc ?? 5);
  const classes = [...new Set(fakeLabels)].sort((a, b) => a - b);
  const sum: ManifoldMetrics = { precision: 0, recall: 0, density: 0, coverage: 0 };
  let used = 0;
  for (const c of classes) {
    const r = rowsOfClass(real, realLabels, d, c);
    const f = rowsOfClass(fake, fakeLabels, d, c);
    if (r.length / d <= kMax || f.length / d <= kMax) continue;
    const m = manifoldMetrics(r, f, d, opts);
    sum.precision += m.precision;
    sum.recall += m.recall;
    sum.density += m.density;
    sum.coverage += m.coverage;
    used++;
  }
  if (!used) throw new Error(`manifold metrics: no class has more than ${kMax} real and generated rows`);
  return {
    precision: sum.precision / used,
    recall: sum.recall / used,
    density: sum.density / used,
    coverage: sum.coverage / used,
  };
}

/**
 * k-means (Lloyd) of the rows of x with a deterministic k-means++ start drawn from `seed`: the cluster id of every row.
 * Used to build mode-dropped reference sets for the tests and the report's sanity checks.
 */
export function kMeans(x: Float32Array, d: number, k: number, { seed = 0, iterations = 50 } = {}): Int32Array {
  const n = x.length / d;
  if (k < 1 || k > n) throw new Error(`kMeans: k = ${k} for ${n} rows`);
  const rng = new Rng(seed, 'kmeans');
  const centres = new Float64Array(k * d);
  const nearest = new Float64Array(n).fill(Infinity);
  const sq = (i: number, c: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += (x[i * d + t] - centres[c * d + t]) ** 2;
    return s;
  };
  let first = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let t = 0; t < d; t++) centres[c * d + t] = x[first * d + t];
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i], sq(i, c));
      total += nearest[i];
    }
    let u = rng.uniform() * total;
    first = n - 1;
    for (let i = 0; i < n; i++) {
      u -= nearest[i];
      if (u <= 0) {
        first = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n).fill(-1);
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const s = sq(i, c);
        if (s < bestD) {
          bestD = s;
          best = c;
        }
      }
      if (assign[i] !== best) {
        assign[i] = best;
        changed = true;
      }
    }
    if (!changed) break;
    centres.fill(0);
    const count = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      count[assign[i]]++;
      for (let t = 0; t < d; t++) centres[assign[i] * d + t] += x[i * d + t];
    }
    for (let c = 0; c < k; c++)
      for (let t = 0; t < d; t++) centres[c * d + t] = count[c] ? centres[c * d + t] / count[c] : centres[c * d + t];
  }
  return assign;
}

/** Mean squared error per value between two sample sets of the same size (same seeds, so row i against row i). */
export function meanSquaredError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`meanSquaredError: ${a.length} values against ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}
