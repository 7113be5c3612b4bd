import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import {
  decodePng,
  encodePng,
  gridOfScatters,
  imageGridPng,
  scatterPng,
  toByte,
  CLASS_COLORS,
} from '../../src/engine/io/png';
import { decodeNpy, encodeNpy } from '../../src/engine/io/npy';

test('encodePng round-trips grey, RGB and RGBA through pngjs and decodePng', () => {
  const w = 5;
  const h = 3;
  for (const c of [1, 3, 4] as const) {
    const px = new Uint8Array(w * h * c);
    for (let i = 0; i < px.length; i++) px[i] = (i * 37 + 11) & 0xff;
    const buf = encodePng(px, w, h, c);
    const dec = decodePng(buf);
    assert.equal(dec.width, w);
    assert.equal(dec.height, h);
    assert.equal(dec.channels, c);
    assert.deepEqual(Array.from(dec.data), Array.from(px));
    // pngjs (independent CRC/zlib checks) also accepts it.
    const ref = PNG.sync.read(buf);
    assert.equal(ref.width, w);
    assert.equal(ref.data[0], px[0]);
  }
  assert.throws(() => encodePng(new Uint8Array(10), 5, 3, 1), /expected 5×3×1 = 15 bytes, got 10/);
});

test('toByte maps [-1, 1] to 0..255 with clamping', () => {
  assert.equal(toByte(-1), 0);
  assert.equal(toByte(1), 255);
  assert.equal(toByte(0), 128);
  assert.equal(toByte(-3), 0);
  assert.equal(toByte(7), 255);
  assert.equal(toByte(NaN), 0);
});

test('imageGridPng: dimensions, row-major placement, scaling and padding', () => {
  // 2 rows × 3 cols, 5 images of 2×2 grey; image i has constant value v_i.
  const n = 5;
  const vals = [-1, -0.5, 0, 0.5, 1];
  const images = new Float32Array(n * 4);
  vals.forEach((v, i) => images.fill(v, i * 4, i * 4 + 4));
  images[0] = 1; // top-left pixel of image 0 is white
  const buf = imageGridPng(images, { n, h: 2, w: 2, c: 1, rows: 2, cols: 3, pad: 1, scale: 2 });
  const png = decodePng(buf);
  // width = 3·(2·2) + 4·1 = 16, height = 2·4 + 3 = 11
  assert.equal(png.width, 16);
  assert.equal(png.height, 11);
  assert.equal(png.channels, 1);
  const at = (x: number, y: number) => png.data[y * png.width + x];
  assert.equal(at(0, 0), 128); // padding
  assert.equal(at(1, 1), 255); // image 0 pixel (0,0) scaled ×2 → (1..2, 1..2)
  assert.equal(at(2, 2), 255);
  assert.equal(at(3, 1), 0); // image 0 pixel (1,0)
  assert.equal(at(5, 1), 128); // gap between columns
  assert.equal(at(6, 1), toByte(-0.5)); // image 1 at column 1
  assert.equal(at(11, 4), toByte(0)); // image 2, bottom row of cell
  assert.equal(at(1, 6), toByte(0.5)); // image 3 → row 1, col 0
  assert.equal(at(6, 9), 255); // image 4 → row 1, col 1
  assert.equal(at(11, 6), 128); // empty cell (row 1, col 2) filled with padding
  assert.throws(
    () => imageGridPng(images, { n, h: 2, w: 2, c: 1, rows: 2, cols: 2 }),
    /5 images do not fit a 2×2 grid/,
  );
  assert.throws(
    () => imageGridPng(images, { n, h: 2, w: 2, c: 1, rows: 2, cols: 3, scale: 1.5 }),
    /scale must be a positive integer/,
  );
});

test('imageGridPng: RGB images keep channel order', () => {
  // 2×2 RGB image: red, green / blue, white.
  const img = new Float32Array([1, -1, -1, -1, 1, -1, -1, -1, 1, 1, 1, 1]);
  const buf = imageGridPng(img, { n: 1, h: 2, w: 2, c: 3, rows: 1, cols: 1, pad: 0 });
  const png = decodePng(buf);
  assert.equal(png.width, 2);
  assert.equal(png.height, 2);
  assert.equal(png.channels, 3);
  assert.deepEqual(Array.from(png.data), [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
});

test('scatterPng draws class-coloured dots with the y axis up', () => {
  const points = new Float32Array([-1, 1, 1, -1]);
  const labels = new Int32Array([0, 1]);
  const png = decodePng(scatterPng(points, labels, { size: 100, range: 1.25, radius: 2, alpha: 1 }));
  assert.equal(png.width, 100);
  assert.equal(png.height, 100);
  assert.equal(png.channels, 3);
  const px = (x: number, y: number) => Array.from(png.data.subarray((y * 100 + x) * 3, (y * 100 + x) * 3 + 3));
  // (-1, 1) → pixel (10, 10) top-left; (1, -1) → (90, 90) bottom-right.
  assert.deepEqual(px(10, 10), Array.from(CLASS_COLORS[0]));
  assert.deepEqual(px(90, 90), Array.from(CLASS_COLORS[1]));
  assert.deepEqual(px(30, 70), [255, 255, 255]); // background
  assert.throws(() => scatterPng(points, new Int32Array(1), { size: 10 }), /2 points but only 1 labels/);
});

test('gridOfScatters lays out panels row-major', () => {
  const panel = (x: number) => ({ points: new Float32Array([x, 0]), labels: new Int32Array([2]) });
  const buf = gridOfScatters([panel(0), panel(0.5), panel(-0.5)], {
    rows: 2,
    cols: 2,
    size: 40,
    pad: 4,
    radius: 1,
    alpha: 1,
  });
  const png = decodePng(buf);
  assert.equal(png.width, 2 * 40 + 3 * 4);
  assert.equal(png.height, 2 * 40 + 3 * 4);
  const px = (x: number, y: number) =>
    Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3));
  assert.deepEqual(px(0, 0), [160, 160, 160]); // gap
  assert.deepEqual(px(4 + 20, 4 + 20), Array.from(CLASS_COLORS[2])); // panel 0 centre
  assert.deepEqual(px(4 + 40 + 4 + 28, 4 + 20), Array.from(CLASS_COLORS[2])); // panel 1 at x = 0.5
  assert.deepEqual(px(4 + 12, 48 + 20), Array.from(CLASS_COLORS[2])); // panel 2 (row 1) at x = -0.5
  assert.deepEqual(px(48 + 5, 48 + 5), [160, 160, 160]); // 4th cell empty
});

test('encodeNpy writes a byte-exact v1.0 header padded to 64 bytes', () => {
  const buf = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const header = dict + ' '.repeat(128 - 10 - dict.length - 1) + '\n';
  const expected = Buffer.concat([
    Buffer.from([0x93]),
    Buffer.from('NUMPY'),
    Buffer.from([1, 0, 118, 0]),
    Buffer.from(header, 'latin1'),
  ]);
  assert.equal(expected.length, 128);
  assert.deepEqual(buf.subarray(0, 128), expected);
  assert.equal(buf.length, 128 + 24);
  assert.equal(buf.readFloatLE(128 + 4 * 5), 6);
  for (const shape of [[], [7], [1, 2, 3, 4], [123456789012345, 0]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const b = encodeNpy(new Int32Array(n), shape);
    const hl = b.readUInt16LE(8);
    assert.equal((10 + hl) % 64, 0, `shape ${shape}`);
    assert.equal(b[10 + hl - 1], 0x0a);
  }
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /holds 6 elements but data has 5/);
});

test('decodeNpy inverts encodeNpy for f4 and i4', () => {
  const f = new Float32Array([0.1, -2.5, Math.PI, 1e-30, -0]);
  const df = decodeNpy(encodeNpy(f, [5]));
  assert.equal(df.dtype, '<f4');
  assert.deepEqual(df.shape, [5]);
  assert.deepEqual(Array.from(df.data), Array.from(f));
  const i = new Int32Array([1, -2, 2147483647, -2147483648, 0, 9]);
  const di = decodeNpy(encodeNpy(i, [3, 1, 2]));
  assert.equal(di.dtype, '<i4');
  assert.deepEqual(di.shape, [3, 1, 2]);
  assert.deepEqual(Array.from(di.data), Array.from(i));
  assert.deepEqual(decodeNpy(encodeNpy(new Float32Array([4]), [])).shape, []);
});
