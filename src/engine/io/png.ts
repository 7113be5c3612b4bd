import * as zlib from 'zlib';
import { PNG } from 'pngjs';

// ---------------------------------------------------------------------------
// Encoding / decoding
// ---------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 3: 2, 4: 6 };
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encodes 8-bit pixels (row-major, `channels` interleaved: 1 = grey, 3 = RGB,
 * 4 = RGBA) as a non-interlaced PNG.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Buffer {
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new Error(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  }
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new Error(`encodePng: channels must be 1, 3 or 4, got ${channels}`);
  const stride = width * channels;
  if (pixels.length !== stride * height) {
    throw new Error(
      `encodePng: expected ${width}×${height}×${channels} = ${stride * height} bytes, got ${pixels.length}`,
    );
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = colorType;
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  // Filter type 1 (Sub) on every row: cheap and compresses smooth images well.
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const s = y * stride;
    raw[o] = 1;
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[s + i - channels] : 0;
      raw[o + 1 + i] = (pixels[s + i] - left) & 0xff;
    }
  }
  const idat = zlib.deflateSync(raw, { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Decodes any PNG. `channels` reflects the file's colour type: 1 (grey),
 * 2 (grey + alpha), 3 (RGB, or palette without transparency), 4 (RGBA, or
 * palette with transparency); `data` holds that many bytes per pixel.
 * 16-bit images are reduced to 8 bits.
 */
export function decodePng(buf: Buffer): { width: number; height: number; channels: number; data: Uint8Array } {
  if (buf.length < 33 || !buf.subarray(0, 8).equals(PNG_SIGNATURE))
    throw new Error('decodePng: not a PNG (bad signature)');
  const colorType = buf[25];
  const png = PNG.sync.read(buf);
  const { width, height } = png;
  const hasTrns = colorType === 3 && buf.indexOf('tRNS', 33, 'ascii') >= 0;
  const channels = colorType === 0 ? 1 : colorType === 4 ? 2 : colorType === 2 || (colorType === 3 && !hasTrns) ? 3 : 4;
  const rgba = png.data;
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const s = 4 * p;
    const d = channels * p;
    if (channels === 1) data[d] = rgba[s];
    else if (channels === 2) {
      data[d] = rgba[s];
      data[d + 1] = rgba[s + 3];
    } else {
      data[d] = rgba[s];
      data[d + 1] = rgba[s + 1];
      data[d + 2] = rgba[s + 2];
      if (channels === 4) data[d + 3] = rgba[s + 3];
    }
  }
  return { width, height, channels, data };
}

// ---------------------------------------------------------------------------
// Image grids
// ---------------------------------------------------------------------------

function checkPosInt(v: unknown, field: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new Error(`${field} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Maps a value in [-1, 1] to a byte (clamped, rounded). NaN maps to 0. */
export function toByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b > 255 ? 255 : b >= 0 ? b : 0;
}

export interface GridOptions {
  /** Number of images in `images`. */
  n: number;
  h: number;
  w: number;
  /** Channels per image: 1 (grey) or 3 (RGB). */
  c: number;
  rows: number;
  cols: number;
  /** Pixels of separation between (and around) cells, before scaling; default 2. */
  pad?: number;
  /** Integer upscaling factor for each image pixel (nearest); default 1. */
  scale?: number;
  /** Byte value of padding / empty cells; default 128 (mid grey). */
  padValue?: number;
}

/**
 * Lays out N images (N·H·W·C in [-1, 1], row-major cell order: image i goes to
 * row floor(i / cols), column i mod cols) as one PNG grid. Output size is
 * (cols·w·scale + (cols+1)·pad) × (rows·h·scale + (rows+1)·pad); empty cells
 * are filled with `padValue`.
 */
export function imageGridPng(images: Float32Array, opts: GridOptions): Buffer {
  const n = checkPosInt(opts.n, 'imageGridPng n');
  const h = checkPosInt(opts.h, 'imageGridPng h');
  const w = checkPosInt(opts.w, 'imageGridPng w');
  const rows = checkPosInt(opts.rows, 'imageGridPng rows');
  const cols = checkPosInt(opts.cols, 'imageGridPng cols');
  const pad = checkPosInt(opts.pad ?? 2, 'imageGridPng pad', true);
  const scale = checkPosInt(opts.scale ?? 1, 'imageGridPng scale');
  const padValue = opts.padValue ?? 128;
  if (!Number.isInteger(padValue) || padValue < 0 || padValue > 255) {
    throw new Error(`imageGridPng padValue must be an integer in 0..255, got ${padValue}`);
  }
  const c = opts.c;
  if (c !== 1 && c !== 3) throw new Error(`imageGridPng c must be 1 or 3, got ${JSON.stringify(c)}`);
  if (n > rows * cols) throw new Error(`imageGridPng: ${n} images do not fit a ${rows}×${cols} grid`);
  const d = h * w * c;
  if (images.length < n * d) {
    throw new Error(`imageGridPng: expected ${n}×${h}×${w}×${c} = ${n * d} values, got ${images.length}`);
  }
  const cw = w * scale;
  const ch = h * scale;
  const W = cols * cw + (cols + 1) * pad;
  const H = rows * ch + (rows + 1) * pad;
  const out = new Uint8Array(W * H * c).fill(padValue);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / cols);
    const col = i % cols;
    const x0 = pad + col * (cw + pad);
    const y0 = pad + r * (ch + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = i * d + (y * w + x) * c;
        for (let dy = 0; dy < scale; dy++) {
          const rowBase = ((y0 + y * scale + dy) * W + x0 + x * scale) * c;
          for (let dx = 0; dx < scale; dx++) {
            for (let k = 0; k < c; k++) out[rowBase + dx * c + k] = toByte(images[s + k]);
          }
        }
      }
    }
  }
  return encodePng(out, W, H, c);
}

// ---------------------------------------------------------------------------
// Scatter plots of 2-D toy samples
// ---------------------------------------------------------------------------

/** Tableau-10 palette; class k uses colour k mod 10. */
export const CLASS_COLORS: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export interface ScatterOptions {
  /** Panel width and height in pixels. */
  size: number;
  /** Plotted square is [-range, range]²; default 1.25. */
  range?: number;
  /** Dot radius in pixels; default max(1, size / 200). */
  radius?: number;
  /** Dot opacity in (0, 1]; default 0.7. */
  alpha?: number;
}

function drawScatter(
  canvas: Uint8Array,
  canvasW: number,
  ox: number,
  oy: number,
  points: Float32Array,
  labels: ArrayLike<number>,
  opts: ScatterOptions,
): void {
  const size = opts.size;
  const range = opts.range ?? 1.25;
  if (!(range > 0)) throw new Error(`scatter range must be a positive number, got ${range}`);
  const radius = opts.radius ?? Math.max(1, size / 200);
  const alpha = opts.alpha ?? 0.7;
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`scatter alpha must be in (0, 1], got ${alpha}`);
  const n = Math.floor(points.length / 2);
  if (labels.length < n) throw new Error(`scatter: ${n} points but only ${labels.length} labels`);
  // Background white, faint axes through the origin and a frame at ±1.
  for (let y = 0; y < size; y++) {
    canvas.fill(255, ((oy + y) * canvasW + ox) * 3, ((oy + y) * canvasW + ox + size) * 3);
  }
  const toPx = (v: number) => ((v + range) / (2 * range)) * size;
  const setPx = (x: number, y: number, rgb: readonly number[]) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    const o = ((oy + y) * canvasW + ox + x) * 3;
    canvas[o] = rgb[0];
    canvas[o + 1] = rgb[1];
    canvas[o + 2] = rgb[2];
  };
  const axis = [225, 225, 225];
  const frame = [200, 200, 200];
  const z = Math.floor(toPx(0));
  for (let t = 0; t < size; t++) {
    setPx(z, t, axis);
    setPx(t, z, axis);
  }
  if (range > 1) {
    const lo = Math.floor(toPx(-1));
    const hi = Math.min(size - 1, Math.floor(toPx(1)));
    for (let t = lo; t <= hi; t++) {
      setPx(lo, t, frame);
      setPx(hi, t, frame);
      setPx(t, lo, frame);
      setPx(t, hi, frame);
    }
  }
  const r = Math.ceil(radius);
  for (let i = 0; i < n; i++) {
    const px = points[2 * i];
    const py = points[2 * i + 1];
    if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
    const cx = toPx(px);
    const cy = size - toPx(py); // y axis points up
    const lab = labels[i];
    const col = lab >= 0 ? CLASS_COLORS[lab % CLASS_COLORS.length] : ([0, 0, 0] as const);
    const ix = Math.floor(cx);
    const iy = Math.floor(cy);
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        const x = ix + dx;
        const y = iy + dy;
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        const ddx = x + 0.5 - cx;
        const ddy = y + 0.5 - cy;
        if (ddx * ddx + ddy * ddy > radius * radius + 0.25) continue;
        const o = ((oy + y) * canvasW + ox + x) * 3;
        for (let k = 0; k < 3; k++) canvas[o + k] = Math.round(canvas[o + k] * (1 - alpha) + col[k] * alpha);
      }
    }
  }
}

/**
 * Renders 2-D points (N·2, x then y) as coloured dots, one colour per class
 * label (Tableau-10 palette), on a white size×size RGB PNG covering
 * [-range, range]² with the y axis pointing up.
 */
export function scatterPng(points: Float32Array, labels: Int32Array, opts: ScatterOptions): Buffer {
  const size = checkPosInt(opts.size, 'scatterPng size');
  const canvas = new Uint8Array(size * size * 3);
  drawScatter(canvas, size, 0, 0, points, labels, { ...opts, size });
  return encodePng(canvas, size, size, 3);
}

export interface ScatterGridOptions extends ScatterOptions {
  rows: number;
  cols: number;
  /** Grey gap between (and around) panels in pixels; default 4. */
  pad?: number;
}

/**
 * Renders rows × cols scatter panels (row-major order in `panels`, e.g. rows =
 * classes or runs, cols = guidance weights) into one RGB PNG of size
 * (cols·size + (cols+1)·pad) × (rows·size + (rows+1)·pad).
 */
export function gridOfScatters(
  panels: ReadonlyArray<{ points: Float32Array; labels: Int32Array }>,
  opts: ScatterGridOptions,
): Buffer {
  const size = checkPosInt(opts.size, 'gridOfScatters size');
  const rows = checkPosInt(opts.rows, 'gridOfScatters rows');
  const cols = checkPosInt(opts.cols, 'gridOfScatters cols');
  const pad = checkPosInt(opts.pad ?? 4, 'gridOfScatters pad', true);
  if (panels.length > rows * cols)
    throw new Error(`gridOfScatters: ${panels.length} panels do not fit a ${rows}×${cols} grid`);
  const W = cols * size + (cols + 1) * pad;
  const H = rows * size + (rows + 1) * pad;
  const canvas = new Uint8Array(W * H * 3).fill(160);
  panels.forEach((p, i) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    drawScatter(canvas, W, pad + c * (size + pad), pad + r * (size + pad), p.points, p.labels, { ...opts, size });
  });
  return encodePng(canvas, W, H, 3);
}
