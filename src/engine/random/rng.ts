/**
 * Every seeded random number of the engine comes from this module (never Math.random). It holds two generators, each
 * with its own users, and both must stay as they are: the numbers they draw are part of what existing runs, datasets
 * and sweeps contain.
 *
 *  - `Rng` (sfc32: 128-bit state with a counter, period at least 2^32, about 2^127 on average): training and
 *    sampling — batches, noise, λ/t, classes and w of every step, the samplers' starting noise and re-noising. Its
 *    state is serialisable (`state()`), so a checkpoint stores it and a resumed unit draws exactly the numbers the
 *    uninterrupted one would have; a stream name (`new Rng(seed, 'train-teacher')`) gives each purpose an
 *    independent sequence from one seed. The exported student (tasks/export/student-module.ts) carries a verbatim
 *    copy, so a browser draws the same samples.
 *  - `Mulberry32` (32-bit state, period 2^32): the generated toy 2-D datasets (train split from the seed, test split
 *    from `deriveSeed(seed, 1)`) and the random draws of sweeps (`random.seed`), plus its Fisher–Yates `shuffle`.
 *    These are short streams drawn once, for which 32 bits of state are plenty; switching them to sfc32 would
 *    silently change every existing toy dataset and every sweep's variants, so they keep their own generator.
 *
 * The image datasets' train/test splits use no random numbers at all (data/split.ts: a fixed per-class holdout).
 *
 * Both use only 32-bit integer arithmetic and IEEE doubles: the same seed gives the same numbers on every platform.
 */
export type RngState = [number, number, number, number];

/** 32-bit string hash (FNV-1a), used to derive independent streams from (seed, purpose). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** sfc32 for training and sampling (see the module header); `stream` names an independent sequence of the same seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(seed: number | RngState, stream = '') {
    if (Array.isArray(seed)) {
      [this.a, this.b, this.c, this.d] = seed;
    } else {
      this.a = hash32(`a${stream}`) ^ (seed >>> 0);
      this.b = hash32(`b${stream}`) ^ Math.floor(seed / 4294967296);
      this.c = hash32(`c${stream}`);
      this.d = 1;
      for (let i = 0; i < 15; i++) this.nextUint32();
    }
  }

  /** The state after which the sequence continues identically (a pending Box–Muller spare is dropped first). */
  state(): RngState {
    this.spare = undefined;
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    this.spare = undefined; // keep the stream independent of n's parity
    return out;
  }

  uniforms(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}

/**
 * Small seeded generator (mulberry32) with uniform / normal draws and shuffling, for the toy datasets, shuffles and
 * sweep draws (see the module header). Any finite seed works: it is mixed into the 32-bit state by `hashSeed`.
 */
export class Mulberry32 {
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

/** Derives an independent sub-seed from a base seed and a stream id (the toy test split uses stream 1). */
export function deriveSeed(seed: number, stream: number): number {
  return hashSeed((hashSeed(seed) ^ Math.imul(stream + 1, 0x9e3779b1)) | 0);
}
