/**
 * Seeded pseudo-random numbers with a serialisable state (sfc32), so a resumed stage draws exactly the numbers the
 * uninterrupted one would have. All randomness of training and sampling comes from here (never Math.random).
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
