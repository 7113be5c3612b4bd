/**
 * Small, self-contained seeded pseudo-random number generator (mulberry32)
 * with helpers for uniform / normal draws and shuffling. Deterministic across
 * platforms: only 32-bit integer arithmetic and IEEE doubles are used.
 */
export class Prng {
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.state = hashSeed(seed);
  }

  /** Uniform float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal draw (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }
}

/** Mixes an arbitrary (possibly non-integer or negative) seed into a 32-bit state. */
export function hashSeed(seed: number): number {
  let h = Math.floor(Number.isFinite(seed) ? seed : 0) | 0;
  // Fold in the high bits of large seeds.
  h ^= Math.floor(Math.abs(seed) / 4294967296) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Derives an independent sub-seed from a base seed and a stream id. */
export function deriveSeed(seed: number, stream: number): number {
  return hashSeed((hashSeed(seed) ^ Math.imul(stream + 1, 0x9e3779b1)) | 0);
}
