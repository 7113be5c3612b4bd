/**
 * The scores of one set of generated samples against the held-out real data, shared by `distill eval` and the
 * quick-start's final table: classifier-FID, accuracy on the requested class, and the diversity-sensitive measures —
 * class-conditional precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020) in the
 * judge's feature space, and within-class diversity (mean within-class variance in features and in pixels) that the
 * reader compares with the real data's own.
 *
 * Reference sets: FID is taken against the whole held-out split (as before); the k-NN manifold metrics against one
 * class-balanced half of it ("half A"), so that rows of the other half ("half B") scored the same way give their
 * real-data value. k-NN metrics depend on the set sizes, so the real value is taken from as many rows per class as the
 * samples have (up to half B's size), and rows are compared at the same number of samples.
 */
import {
  classConditionalManifold,
  FittedGaussian,
  fitGaussian,
  frechetDistance,
  ManifoldMetrics,
  withinClassTrace,
} from './metrics';

export interface SampleScores extends ManifoldMetrics {
  /** Fréchet distance in feature space to the whole held-out split (null where there is no judge: toy data). */
  fid: number | null;
  /** Judge's accuracy on the requested class (null without a judge). */
  accuracy: number | null;
  /** Mean within-class variance in feature space (sum over dimensions). */
  diversity: number;
  /** Mean within-class variance in pixel space (images only). */
  pixelDiversity: number | null;
}

export const K_PR = 3;
export const K_DC = 5;

interface Rows {
  x: Float32Array;
  labels: Int32Array;
}

/** Splits rows into two halves alternating within each class (so both halves are class-balanced). */
export function halves(x: Float32Array, labels: Int32Array, d: number): [Rows, Rows] {
  const seen = new Map<number, number>();
  const side: number[][] = [[], []];
  for (let i = 0; i < labels.length; i++) {
    const k = seen.get(labels[i]) ?? 0;
    seen.set(labels[i], k + 1);
    side[k % 2].push(i);
  }
  return side.map((idx) => {
    const out = new Float32Array(idx.length * d);
    idx.forEach((i, j) => out.set(x.subarray(i * d, (i + 1) * d), j * d));
    return { x: out, labels: Int32Array.from(idx, (i) => labels[i]) };
  }) as [Rows, Rows];
}

/** The first `perClass` rows of every class (all of a class with fewer), and the smallest count taken. */
function firstPerClass(rows: Rows, d: number, perClass: number): Rows & { perClass: number } {
  const seen = new Map<number, number>();
  const keep: number[] = [];
  rows.labels.forEach((c, i) => {
    const k = seen.get(c) ?? 0;
    seen.set(c, k + 1);
    if (k < perClass) keep.push(i);
  });
  const x = new Float32Array(keep.length * d);
  keep.forEach((i, j) => x.set(rows.x.subarray(i * d, (i + 1) * d), j * d));
  const counts = new Map<number, number>();
  for (const i of keep) counts.set(rows.labels[i], (counts.get(rows.labels[i]) ?? 0) + 1);
  return { x, labels: Int32Array.from(keep, (i) => rows.labels[i]), perClass: Math.min(...counts.values()) };
}

/** The held-out real data in the judge's feature space (and in pixels), and its own scores: the floor of each metric. */
export class RealReference {
  readonly halfA: Rows;
  readonly halfB: Rows;
  /**
   * What real data gets: up to `perClass` rows per class of half B scored against half A (k-NN measures), half B vs
   * half A (FID), the judge's held-out accuracy, and the within-class diversity of the whole held-out split.
   */
  readonly floor: SampleScores;
  /** Real rows per class behind the floor's k-NN measures (the smallest class's count). */
  readonly floorPerClass: number;
  private gaussian?: FittedGaussian;

  /**
   * @param feats   feature rows of the held-out split (`dim` wide)
   * @param labels  their classes
   * @param pixels  the held-out images themselves (`pixelDim` wide), for pixel diversity; omitted for toy data
   * @param withFid whether FID is meaningful (a judge's features) — false for raw toy points
   * @param accuracy the judge's accuracy on the held-out split, if any
   */
  constructor(
    readonly feats: Float32Array,
    readonly labels: Int32Array,
    readonly dim: number,
    private readonly opts: {
      pixels?: Float32Array;
      pixelDim?: number;
      withFid: boolean;
      accuracy?: number | null;
      perClass?: number;
    },
  ) {
    [this.halfA, this.halfB] = halves(feats, labels, dim);
    const capped = firstPerClass(this.halfB, dim, opts.perClass ?? Infinity);
    this.floorPerClass = capped.perClass;
    const m = classConditionalManifold(this.halfA.x, this.halfA.labels, capped.x, capped.labels, dim, {
      kPr: K_PR,
      kDc: K_DC,
    });
    this.floor = {
      fid: opts.withFid ? frechetDistance(this.halfA.x, this.halfB.x, dim) : null,
      accuracy: opts.accuracy ?? null,
      ...m,
      diversity: withinClassTrace(feats, labels, dim),
      pixelDiversity: opts.pixels ? withinClassTrace(opts.pixels, labels, opts.pixelDim!) : null,
    };
  }

  /** The held-out features as one Gaussian, fitted on first use: the reference of every row's FID. */
  private fitted(): FittedGaussian {
    this.gaussian ??= fitGaussian(this.feats, this.dim);
    return this.gaussian;
  }

  /**
   * Scores of generated rows: `feats` (`dim` wide) of samples asked for classes `labels`, the judge's predictions
   * `pred` (if any) and the samples' pixels (images).
   */
  score(
    feats: Float32Array,
    labels: Int32Array,
    { pred, pixels }: { pred?: Int32Array; pixels?: Float32Array } = {},
  ): SampleScores {
    let accuracy: number | null = null;
    if (pred) {
      let ok = 0;
      for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) ok++;
      accuracy = ok / labels.length;
    }
    return {
      fid: this.opts.withFid ? frechetDistance(feats, this.fitted(), this.dim) : null,
      accuracy,
      ...classConditionalManifold(this.halfA.x, this.halfA.labels, feats, labels, this.dim, { kPr: K_PR, kDc: K_DC }),
      diversity: withinClassTrace(feats, labels, this.dim),
      pixelDiversity: pixels && this.opts.pixelDim ? withinClassTrace(pixels, labels, this.opts.pixelDim) : null,
    };
  }
}
