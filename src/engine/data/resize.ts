/**
 * Image resampling on plain typed arrays (HWC, channels last).
 *
 * - Non-square inputs are centre-cropped to a square first (side = min(h, w)).
 * - Shrinking uses a true area average: each output pixel is the mean of the
 *   input area it covers, with fractional pixel overlaps weighted exactly.
 * - Enlarging uses bilinear interpolation with half-pixel centres
 *   (align_corners = false), clamped at the borders.
 * - Equal sizes copy the (cropped) input unchanged.
 *
 * The resampling is separable: horizontal pass, then vertical pass.
 */

/** Sparse 1-D resampling weights: for output i, taps idx[off[i]..off[i+1]) with weights w. */
export interface AxisWeights {
  off: Int32Array;
  idx: Int32Array;
  w: Float64Array;
}

/** Computes 1-D weights mapping `inSize` samples to `outSize` samples. */
export function axisWeights(inSize: number, outSize: number): AxisWeights {
  if (!Number.isInteger(inSize) || inSize <= 0)
    throw new Error(`resize: input size must be a positive integer, got ${inSize}`);
  if (!Number.isInteger(outSize) || outSize <= 0)
    throw new Error(`resize: output size must be a positive integer, got ${outSize}`);
  const off: number[] = [0];
  const idx: number[] = [];
  const w: number[] = [];
  if (outSize === inSize) {
    for (let i = 0; i < outSize; i++) {
      idx.push(i);
      w.push(1);
      off.push(idx.length);
    }
  } else if (outSize < inSize) {
    const scale = inSize / outSize;
    for (let i = 0; i < outSize; i++) {
      const start = i * scale;
      const end = i === outSize - 1 ? inSize : (i + 1) * scale;
      const j0 = Math.floor(start);
      const j1 = Math.min(inSize, Math.ceil(end));
      for (let j = j0; j < j1; j++) {
        const overlap = Math.min(end, j + 1) - Math.max(start, j);
        if (overlap > 1e-12) {
          idx.push(j);
          w.push(overlap / (end - start));
        }
      }
      off.push(idx.length);
    }
  } else {
    const scale = inSize / outSize;
    for (let i = 0; i < outSize; i++) {
      let src = (i + 0.5) * scale - 0.5;
      if (src < 0) src = 0;
      if (src > inSize - 1) src = inSize - 1;
      const j0 = Math.floor(src);
      const f = src - j0;
      const j1 = Math.min(j0 + 1, inSize - 1);
      if (f === 0 || j1 === j0) {
        idx.push(j0);
        w.push(1);
      } else {
        idx.push(j0, j1);
        w.push(1 - f, f);
      }
      off.push(idx.length);
    }
  }
  return { off: Int32Array.from(off), idx: Int32Array.from(idx), w: Float64Array.from(w) };
}

/** Resizes square-cropped HWC images to size×size; caches weights for repeated input shapes. */
export class Resizer {
  private cache = new Map<string, AxisWeights>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size <= 0) {
      throw new Error(`imageSize must be a positive integer, got ${JSON.stringify(size)}`);
    }
  }

  private weights(inSize: number): AxisWeights {
    const key = String(inSize);
    let w = this.cache.get(key);
    if (!w) {
      w = axisWeights(inSize, this.size);
      this.cache.set(key, w);
    }
    return w;
  }

  /**
   * Resizes `src` (h×w×c, any numeric range) into `out` at `outOffset`
   * (size×size×c), mapping each value v to v * mul + add on the way out.
   */
  resizeInto(
    src: ArrayLike<number>,
    h: number,
    w: number,
    c: number,
    out: Float32Array,
    outOffset = 0,
    mul = 1,
    add = 0,
  ): void {
    if (src.length < h * w * c) {
      throw new Error(`resize: source has ${src.length} values, expected ${h}×${w}×${c} = ${h * w * c}`);
    }
    const side = Math.min(h, w);
    const y0 = Math.floor((h - side) / 2);
    const x0 = Math.floor((w - side) / 2);
    const s = this.size;
    const wt = this.weights(side);
    // Horizontal pass: side rows × s columns × c.
    const tmp = new Float64Array(side * s * c);
    for (let y = 0; y < side; y++) {
      const rowBase = ((y0 + y) * w + x0) * c;
      for (let ox = 0; ox < s; ox++) {
        const tBase = (y * s + ox) * c;
        for (let k = wt.off[ox]; k < wt.off[ox + 1]; k++) {
          const sBase = rowBase + wt.idx[k] * c;
          const wk = wt.w[k];
          for (let ch = 0; ch < c; ch++) tmp[tBase + ch] += wk * src[sBase + ch];
        }
      }
    }
    // Vertical pass: s rows × s columns × c.
    const acc = new Float64Array(s * c);
    for (let oy = 0; oy < s; oy++) {
      acc.fill(0);
      for (let k = wt.off[oy]; k < wt.off[oy + 1]; k++) {
        const tBase = wt.idx[k] * s * c;
        const wk = wt.w[k];
        for (let i = 0; i < s * c; i++) acc[i] += wk * tmp[tBase + i];
      }
      const oBase = outOffset + oy * s * c;
      for (let i = 0; i < s * c; i++) out[oBase + i] = acc[i] * mul + add;
    }
  }
}

/**
 * Resizes one HWC image (centre-cropped to square) to size×size×c.
 * Values keep their numeric scale (e.g. bytes in stay 0..255 floats out).
 */
export function resizeImage(src: ArrayLike<number>, h: number, w: number, c: number, size: number): Float32Array {
  const out = new Float32Array(size * size * c);
  new Resizer(size).resizeInto(src, h, w, c, out, 0);
  return out;
}

/**
 * Nearest-neighbour resize of one HWC image (centre-cropped to a square, like `Resizer`) to size×size×c: every output
 * pixel copies the input pixel under its centre, so hard-edged values (masks, labels) stay exactly what they were.
 */
export function resizeNearest(src: ArrayLike<number>, h: number, w: number, c: number, size: number): Float32Array {
  if (!Number.isInteger(size) || size <= 0)
    throw new Error(`resize: output size must be a positive integer, got ${size}`);
  if (src.length < h * w * c)
    throw new Error(`resize: source has ${src.length} values, expected ${h}×${w}×${c} = ${h * w * c}`);
  const side = Math.min(h, w);
  const y0 = Math.floor((h - side) / 2);
  const x0 = Math.floor((w - side) / 2);
  const at = (o: number) => Math.min(side - 1, Math.floor(((o + 0.5) * side) / size));
  const out = new Float32Array(size * size * c);
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      const s = ((y0 + at(oy)) * w + x0 + at(ox)) * c;
      for (let k = 0; k < c; k++) out[(oy * size + ox) * c + k] = src[s + k];
    }
  }
  return out;
}
