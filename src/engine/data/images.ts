import { Resizer } from './resize';

/** One decoded source image: 8-bit values (0..255), HWC. */
export interface RawImage {
  data: ArrayLike<number>;
  h: number;
  w: number;
  c: number;
}

/** Validates an image size field: a positive integer. */
export function checkImageSize(size: unknown, field = 'imageSize'): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
    throw new Error(`${field} must be a positive integer, got ${JSON.stringify(size)}`);
  }
  return size;
}

/**
 * Resizes `count` 8-bit images (obtained lazily from `get`) to size×size×c and
 * scales them to [-1, 1] via x/127.5 - 1, packed NHWC into one Float32Array.
 */
export function assembleImages(count: number, get: (j: number) => RawImage, size: number, c: number): Float32Array {
  const resizer = new Resizer(size);
  const d = size * size * c;
  const out = new Float32Array(count * d);
  for (let j = 0; j < count; j++) {
    const img = get(j);
    if (img.c !== c) throw new Error(`internal: image ${j} has ${img.c} channels, expected ${c}`);
    resizer.resizeInto(img.data, img.h, img.w, c, out, j * d, 1 / 127.5, -1);
  }
  // Guard against tiny float excursions outside [-1, 1].
  for (let i = 0; i < out.length; i++) {
    if (out[i] > 1) out[i] = 1;
    else if (out[i] < -1) out[i] = -1;
  }
  return out;
}

/**
 * Converts RGBA bytes to 1 (luma, ITU-R BT.601) or 3 (RGB) channels.
 * Transparent pixels are composited over `background` (RGB bytes; default black): c·α + bg·(1 − α).
 */
export function fromRgba(
  rgba: ArrayLike<number>,
  w: number,
  h: number,
  channels: 1 | 3,
  background: readonly [number, number, number] = [0, 0, 0],
): Uint8Array {
  const n = w * h;
  const out = new Uint8Array(n * channels);
  const [br, bg, bb] = background;
  for (let p = 0; p < n; p++) {
    const a = rgba[4 * p + 3] / 255;
    const r = rgba[4 * p] * a + br * (1 - a);
    const g = rgba[4 * p + 1] * a + bg * (1 - a);
    const b = rgba[4 * p + 2] * a + bb * (1 - a);
    if (channels === 1) {
      out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    } else {
      out[3 * p] = Math.round(r);
      out[3 * p + 1] = Math.round(g);
      out[3 * p + 2] = Math.round(b);
    }
  }
  return out;
}
