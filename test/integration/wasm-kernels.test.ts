/**
 * The wasm training kernels (src/engine/backend/wasm) against the reference cpu backend, and a
 * tensor-leak check of a training loop on wasm.
 *
 * Tolerance: max |wasm − cpu| ≤ 1e-4 · (1 + max |cpu|) per output tensor (float32 sums of up to a few
 * hundred products, computed in a different order by XNNPACK).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend/select';
import { groupNorm, groupNormComposite } from '../../src/engine/backend/group-norm';
import { wasmKernelOptions } from '../../src/engine/backend/wasm/kernels';
import { filterGradOptions } from '../../src/engine/backend/wasm/filter-grad';
import { winogradHooks } from '../../src/engine/backend/wasm/winograd';
import * as fs from 'fs';
import * as path from 'path';

const TOL = 1e-4;

/** Deterministic pseudo-random normals (so both backends see the same inputs). */
function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

async function runOn(backend: 'cpu' | 'wasm', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await selectBackend({ backend, threads: 1 });
  const outs = tf.tidy(fn);
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxRef = 0,
    maxErr = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
  }
  assert.ok(
    Number.isFinite(maxErr) && maxErr <= TOL * (1 + maxRef),
    `${what}: max err ${maxErr} (max |ref| ${maxRef})`,
  );
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  s: [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { n: 1, h: 5, w: 5, ci: 1, co: 1, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  { n: 2, h: 7, w: 6, ci: 3, co: 5, kh: 3, kw: 3, s: [2, 2], pad: 'same' },
  { n: 3, h: 8, w: 8, ci: 5, co: 3, kh: 3, kw: 3, s: [2, 2], pad: 'same' },
  { n: 2, h: 9, w: 7, ci: 3, co: 4, kh: 3, kw: 3, s: [2, 2], pad: 'valid' },
  { n: 1, h: 6, w: 9, ci: 7, co: 2, kh: 2, kw: 3, s: [1, 2], pad: 'valid' },
  { n: 2, h: 7, w: 7, ci: 3, co: 3, kh: 5, kw: 5, s: [1, 1], pad: 2 },
  {
    n: 1,
    h: 9,
    w: 8,
    ci: 2,
    co: 6,
    kh: 3,
    kw: 3,
    s: [2, 2],
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { n: 4, h: 4, w: 4, ci: 8, co: 8, kh: 1, kw: 1, s: [1, 1], pad: 'same' },
  { n: 2, h: 11, w: 5, ci: 1, co: 3, kh: 4, kw: 2, s: [3, 1], pad: 'same' },
  { n: 3, h: 10, w: 10, ci: 16, co: 9, kh: 3, kw: 3, s: [1, 1], pad: 'valid' },
  // Co < 8 < Ci, stride 1: with filterGrad 'conv' the swapped-roles path, with 'gemm' the taps-stacked GEMM when kh·kw·Co ≤ 32
  { n: 2, h: 7, w: 6, ci: 9, co: 2, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  { n: 3, h: 8, w: 9, ci: 12, co: 3, kh: 5, kw: 3, s: [1, 1], pad: 'valid' },
  {
    n: 1,
    h: 6,
    w: 7,
    ci: 10,
    co: 1,
    kh: 3,
    kw: 2,
    s: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 0],
    ],
  },
  // GEMM filter gradient: padding larger than the kernel reach, asymmetric pads, 1×N / N×1 kernels, wide outputs
  {
    n: 2,
    h: 5,
    w: 4,
    ci: 3,
    co: 9,
    kh: 2,
    kw: 2,
    s: [1, 1],
    pad: [
      [0, 0],
      [3, 1],
      [0, 2],
      [0, 0],
    ],
  },
  { n: 3, h: 1, w: 9, ci: 4, co: 16, kh: 1, kw: 5, s: [1, 1], pad: 'same' },
  { n: 2, h: 9, w: 1, ci: 17, co: 8, kh: 4, kw: 1, s: [1, 1], pad: 'same' },
  { n: 5, h: 3, w: 3, ci: 2, co: 3, kh: 3, kw: 3, s: [1, 1], pad: 'valid' },
  { n: 1, h: 12, w: 10, ci: 33, co: 40, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  // strided GEMM filter gradient (phase grids): 1×1 stride 2, stride 3 with 5×5, mixed strides, odd sizes
  { n: 3, h: 9, w: 8, ci: 6, co: 10, kh: 1, kw: 1, s: [2, 2], pad: 'same' },
  { n: 2, h: 11, w: 13, ci: 5, co: 9, kh: 5, kw: 5, s: [3, 3], pad: 'same' },
  {
    n: 2,
    h: 10,
    w: 9,
    ci: 9,
    co: 12,
    kh: 3,
    kw: 4,
    s: [2, 3],
    pad: [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
  },
  { n: 4, h: 16, w: 16, ci: 16, co: 24, kh: 3, kw: 3, s: [2, 2], pad: 'same' },
  { n: 1, h: 2, w: 7, ci: 3, co: 4, kh: 2, kw: 3, s: [2, 2], pad: 'valid' },
  // Winograd F(2×2,3×3) (3×3, stride 1, channels multiples of 4; the 'winograd' variant lowers the channel
  // threshold to 4): odd output sizes, batch 1, valid, asymmetric and over-wide explicit pads, Ci ≠ Co
  { n: 2, h: 8, w: 8, ci: 4, co: 8, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  { n: 1, h: 7, w: 5, ci: 8, co: 4, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
  { n: 3, h: 9, w: 6, ci: 4, co: 12, kh: 3, kw: 3, s: [1, 1], pad: 'valid' },
  {
    n: 2,
    h: 6,
    w: 7,
    ci: 12,
    co: 8,
    kh: 3,
    kw: 3,
    s: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  },
  {
    n: 1,
    h: 5,
    w: 4,
    ci: 4,
    co: 4,
    kh: 3,
    kw: 3,
    s: [1, 1],
    pad: [
      [0, 0],
      [3, 1],
      [0, 3],
      [0, 0],
    ],
  },
  { n: 2, h: 12, w: 10, ci: 32, co: 40, kh: 3, kw: 3, s: [1, 1], pad: 'same' },
];

// Stride-1 filter gradients take the GEMM-on-shifted-views path (wasm/filter-grad.ts) by default; every
// case also runs with the batch cut into one-image chunks whose partial GEMMs are summed
// (filterGradOptions.chunkFloats = 1), with the XNNPACK-conv formulation (wasmKernelOptions.filterGrad = 'conv'),
// with Winograd for every eligible conv ('winograd': winogradMinChannels = 4) and with Winograd off ('stock').
for (const [i, c] of CASES.entries())
  for (const variant of ['gemm', 'gemm-chunked', 'conv', 'winograd', 'stock'] as const) {
    test(`conv2d grads wasm == cpu #${i} (filterGrad ${variant}): ${JSON.stringify(c)}`, async () => {
      const out = tf.backend_util.computeConv2DInfo(
        [c.n, c.h, c.w, c.ci],
        [c.kh, c.kw, c.ci, c.co],
        c.s,
        1,
        c.pad as 'same',
        undefined,
        false,
        'channelsLast',
      );
      const xv = randn(c.n * c.h * c.w * c.ci, 11 + i);
      const wv = randn(c.kh * c.kw * c.ci * c.co, 23 + i);
      const dyv = randn(c.n * out.outHeight * out.outWidth * c.co, 37 + i);
      const compute = () => {
        const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
        const w = tf.tensor4d(wv, [c.kh, c.kw, c.ci, c.co]);
        const dy = tf.tensor4d(dyv, [c.n, out.outHeight, out.outWidth, c.co]);
        const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
        const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
          ...attrs,
          filterShape: w.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, {
          ...attrs,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        // Same gradients through the public op + autodiff path.
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad as 'same'), dy)),
        )([x, w]);
        return [dw, dx, ...g, tf.conv2d(x, w, c.s, c.pad as 'same')];
      };
      const want = await runOn('cpu', compute);
      const chunkFloats = filterGradOptions.chunkFloats;
      const { conv, winogradMinChannels } = wasmKernelOptions;
      wasmKernelOptions.filterGrad = variant === 'conv' ? 'conv' : 'gemm';
      if (variant === 'gemm-chunked') filterGradOptions.chunkFloats = 1;
      if (variant === 'winograd') wasmKernelOptions.winogradMinChannels = 4;
      if (variant === 'stock') wasmKernelOptions.conv = 'stock';
      let got: Float32Array[];
      try {
        got = await runOn('wasm', compute);
      } finally {
        wasmKernelOptions.filterGrad = 'gemm';
        filterGradOptions.chunkFloats = chunkFloats;
        Object.assign(wasmKernelOptions, { conv, winogradMinChannels });
      }
      assertClose(got[0], want[0], 'Conv2DBackpropFilter');
      assertClose(got[1], want[1], 'Conv2DBackpropInput');
      assertClose(got[2], want[2], 'grad x via tf.grads');
      assertClose(got[3], want[3], 'grad w via tf.grads');
      assertClose(got[4], want[4], 'Conv2D');
    });
  }

test('Winograd: the forward conv and the input gradient take the Winograd path exactly when they should', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  let calls = 0;
  const restore = winogradHooks.onCall;
  winogradHooks.onCall = () => {
    calls++;
  };
  try {
    const run = (xs: number[], co: number, stride: number) =>
      tf.tidy(() => {
        const x = tf.randomNormal(xs as [number, number, number, number]) as tf.Tensor4D;
        const w = tf.randomNormal([3, 3, xs[3], co] as [number, number, number, number]) as tf.Tensor4D;
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, 'same')))(
          [x, w],
        );
      });
    run([2, 8, 8, 32], 32, 1);
    assert.equal(calls, 2, 'the forward conv and the input gradient (a conv of dy with the flipped filter)');
    run([2, 8, 8, 20], 32, 1); // below winogradMinChannels (24)
    run([2, 8, 8, 33], 32, 1); // not a multiple of 4
    assert.equal(calls, 2);
    // strided: only the input gradient, a stride-1 conv of the zero-inserted dy, qualifies
    run([2, 8, 8, 32], 32, 2);
    assert.equal(calls, 3);
  } finally {
    winogradHooks.onCall = restore;
  }
});

test('Winograd conv stays correct when its allocations grow the wasm heap, and frees them', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const conv = wasmKernelOptions.conv;
  try {
    // Each call needs more scratch memory than anything before, so the heap grows inside the kernels.
    for (const n of [8, 40, 120]) {
      const xv = randn(n * 12 * 12 * 32, n),
        wv = randn(9 * 32 * 32, n + 1),
        dyv = randn(n * 12 * 12 * 32, n + 2);
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
      const compute = () => {
        const x = tf.tensor4d(xv, [n, 12, 12, 32]),
          w = tf.tensor4d(wv, [3, 3, 32, 32]),
          dy = tf.tensor4d(dyv, [n, 12, 12, 32]);
        return [
          tf.conv2d(x, w, 1, 'same'),
          tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, {
            ...attrs,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      };
      wasmKernelOptions.conv = 'stock';
      const want = await runOn('wasm', compute);
      wasmKernelOptions.conv = 'winograd';
      const t0 = tf.memory().numTensors,
        d0 = backend.numDataIds();
      const got = await runOn('wasm', compute);
      assert.equal(tf.memory().numTensors, t0, `n=${n}: tensors`);
      assert.equal(backend.numDataIds(), d0, `n=${n}: wasm data ids`);
      assertClose(got[0], want[0], `n=${n} conv`);
      assertClose(got[1], want[1], `n=${n} input gradient`);
    }
  } finally {
    wasmKernelOptions.conv = conv;
  }
});

test('the embedded Winograd wasm module is exactly what winograd-wat.ts assembles to (npm run gen:winograd)', async () => {
  const { assembleWinograd, winogradModuleSource } = await import('../../tools/gen-winograd');
  const embedded = fs.readFileSync(path.resolve(__dirname, '../../src/engine/backend/wasm/winograd-wasm.ts'), 'utf8');
  assert.equal(embedded, winogradModuleSource(await assembleWinograd(false), await assembleWinograd(true)));
});

test('conv2dTranspose (stride 2) and its grads wasm == cpu', async () => {
  const xv = randn(2 * 4 * 5 * 6, 5),
    wv = randn(3 * 3 * 4 * 6, 6),
    gv = randn(2 * 8 * 10 * 4, 7);
  const compute = () => {
    const x = tf.tensor4d(xv, [2, 4, 5, 6]);
    const w = tf.tensor4d(wv, [3, 3, 4, 6]);
    const gy = tf.tensor4d(gv, [2, 8, 10, 4]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 8, 10, 4], 2, 'same');
    const y = f(x, w);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), gy)))([x, w]);
    return [y, ...g];
  };
  const want = await runOn('cpu', compute);
  const got = await runOn('wasm', compute);
  want.forEach((wv2, k) => assertClose(got[k], wv2, `output ${k}`));
});

test('ResizeNearestNeighbor grad (wasm and fixed cpu) == independent JS reference', async () => {
  const cfgs: Array<[number[], [number, number], boolean, boolean]> = [
    [[2, 3, 4, 3], [6, 8], false, false],
    [[3, 4, 4, 5], [7, 9], false, false],
    [[2, 4, 3, 2], [7, 5], true, false],
    [[2, 4, 4, 3], [7, 9], false, true],
    [[1, 5, 6, 2], [3, 4], false, true],
  ];
  for (const [k, [shape, size, ac, hp]] of cfgs.entries()) {
    const [n, h, w, c] = shape;
    const [oh, ow] = size;
    const gv = randn(n * oh * ow * c, 300 + k);
    // Reference: dx[src] += dy, with the forward index map probed by resizing an index image.
    const idx = new Float32Array(h * w).map((_, i) => i);
    await selectBackend({ backend: 'cpu' });
    const map = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor4d(idx, [1, h, w, 1]), size, ac, hp).dataSync());
    const ref = new Float32Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < oh * ow; p++)
        for (let ch = 0; ch < c; ch++) {
          ref[(b * h * w + map[p]) * c + ch] += gv[(b * oh * ow + p) * c + ch];
        }
    const compute = () => [
      tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, ac, hp), tf.tensor4d(gv, [n, oh, ow, c]))),
      )(tf.zeros(shape)),
    ];
    assertClose((await runOn('wasm', compute))[0], ref, `wasm cfg ${k}`);
    assertClose((await runOn('cpu', compute))[0], ref, `cpu cfg ${k}`);
  }
});

for (const silu of [false, true]) {
  test(`fused groupNorm${silu ? '+SiLU' : ''} (wasm, cpu) == composite ops on cpu: value and grads`, async () => {
    for (const [k, [shape, groups]] of (
      [
        [[2, 5, 3, 8], 4],
        [[3, 4, 4, 6], 2],
        [[1, 3, 5, 4], 1],
        [[2, 2, 2, 6], 6],
      ] as Array<[number[], number]>
    ).entries()) {
      const n = shape.reduce((a, b) => a * b, 1),
        c = shape[3];
      const xv = randn(n, 400 + k).map((v) => 2 * v + 0.5),
        gv = randn(c, 410 + k),
        bv = randn(c, 420 + k),
        dv = randn(n, 430 + k);
      const run = (fused: boolean) => () => {
        const x = tf.tensor4d(xv, shape as [number, number, number, number]);
        const gamma = tf.tensor1d(gv),
          beta = tf.tensor1d(bv),
          dy = tf.tensor(dv, shape);
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          fused
            ? groupNorm(a as tf.Tensor4D, groups, g, b, { silu })
            : groupNormComposite(a as tf.Tensor4D, groups, g, b, 1e-5, silu);
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(f(a, g, b), dy)),
        )([x, gamma, beta]);
        return [f(x, gamma, beta), value, ...grads];
      };
      const want = await runOn('cpu', run(false));
      for (const be of ['wasm', 'cpu'] as const) {
        const got = await runOn(be, run(true));
        ['y', 'loss', 'dx', 'dgamma', 'dbeta'].forEach((name, i) =>
          assertClose(got[i], want[i], `${be} case ${k} ${name}`),
        );
      }
    }
  });
}

test('kernels composed of tf ops dispose their intermediates (tensors and wasm data ids)', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const x = tf.randomNormal([2, 9, 9, 3]),
    dy = tf.randomNormal([2, 5, 5, 4]),
    w = tf.randomNormal([3, 3, 3, 4]);
  const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const t0 = tf.memory().numTensors,
    d0 = backend.numDataIds();
  const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
    ...attrs,
    filterShape: [3, 3, 3, 4],
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, {
    ...attrs,
    inputShape: [2, 9, 9, 3],
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  assert.equal(tf.memory().numTensors, t0 + 2);
  assert.equal(backend.numDataIds(), d0 + 2);
  tf.dispose([dw, dx, x, dy, w]);
});

test('GEMM filter gradient stays correct when its allocations grow the wasm heap, and frees them', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  const backend = tf.backend() as unknown as { numDataIds(): number };
  // Each call needs more scratch memory than anything before, so the heap grows inside the kernel.
  for (const n of [8, 40, 120]) {
    const xv = randn(n * 12 * 12 * 24, n),
      dyv = randn(n * 12 * 12 * 16, n + 1);
    const compute = () => {
      const x = tf.tensor4d(xv, [n, 12, 12, 24]),
        dy = tf.tensor4d(dyv, [n, 12, 12, 16]);
      return [
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
          strides: 1,
          pad: 'same',
          dataFormat: 'NHWC',
          filterShape: [3, 3, 24, 16],
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ];
    };
    const want = await runOn('cpu', compute);
    await selectBackend({ backend: 'wasm', threads: 1 });
    const t0 = tf.memory().numTensors,
      d0 = backend.numDataIds();
    const got = await runOn('wasm', compute);
    assert.equal(tf.memory().numTensors, t0);
    assert.equal(backend.numDataIds(), d0);
    assertClose(got[0], want[0], `n=${n}`);
  }
});

test('fused groupNorm on wasm stays correct when its output allocation grows the wasm heap', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  // Each call allocates outputs larger than anything before, so the heap keeps growing mid-kernel.
  for (const n of [16, 48, 96]) {
    const [got, want] = tf.tidy(() => {
      const x = tf.randomNormal([n, 16, 16, 32], 0, 1, 'float32', n);
      const g = tf.randomNormal([32], 1, 0.1, 'float32', 1),
        b = tf.randomNormal([32], 0, 0.1, 'float32', 2);
      const dy = tf.randomNormal([n, 16, 16, 32], 0, 1, 'float32', n + 1);
      const loss = (fused: boolean) => (a: tf.Tensor) =>
        tf.sum(
          tf.mul(
            fused
              ? groupNorm(a as tf.Tensor4D, 8, g, b, { silu: true })
              : groupNormComposite(a as tf.Tensor4D, 8, g, b, 1e-5, true),
            dy,
          ),
        );
      return [tf.grad(loss(true))(x).dataSync() as Float32Array, tf.grad(loss(false))(x).dataSync() as Float32Array];
    });
    assertClose(got, want, `n=${n}`);
  }
});

test('Transpose (JS fast paths 3,1,2,0 and 1,2,0,3, and stock perms): wasm == cpu', async () => {
  for (const [k, shape] of [
    [1, 1, 1, 1],
    [3, 5, 7, 2],
    [17, 3, 4, 33],
    [2, 1, 9, 1],
    [40, 2, 3, 18],
  ].entries()) {
    const xv = randn(
      shape.reduce((a, b) => a * b, 1),
      500 + k,
    );
    const compute = () => {
      const x = tf.tensor(xv, shape);
      return [
        tf.transpose(x, [3, 1, 2, 0]),
        tf.transpose(x, [1, 2, 0, 3]),
        tf.transpose(x, [0, 3, 1, 2]),
        tf.transpose(x, [2, 0, 3, 1]),
      ];
    };
    const want = await runOn('cpu', compute);
    const got = await runOn('wasm', compute);
    want.forEach((w, i) => assert.deepEqual(got[i], w, `shape ${shape} transpose ${i}`));
  }
});

test('Sum over leading axes (bias gradients; JS kernel) and other axes (stock): wasm == cpu', async () => {
  const xv = randn(3 * 5 * 4 * 6, 77);
  const compute = () => {
    const x = tf.tensor4d(xv, [3, 5, 4, 6]);
    return [
      tf.sum(x, [0, 1, 2]),
      tf.sum(x, [0, 1], true),
      tf.sum(x, 0),
      tf.sum(x, [2, 0, 1]),
      tf.sum(x, [1, 2]),
      tf.sum(x),
      tf.sum(x, -1, true),
      tf.sum(tf.reshape(x, [60, 6]), 0),
      // JS path (leading axes, ≤ 128 columns) with column counts not divisible by 4, and a stock fallback (> 128)
      tf.sum(tf.reshape(x, [72, 5]), 0),
      tf.sum(tf.reshape(x, [40, 9]), [0], true),
      tf.sum(tf.reshape(x, [2, 180]), 0),
      tf.sum(tf.reshape(x, [360, 1]), 0),
      tf.sum(tf.reshape(x, [3, 20, 6]), [0, 1], true),
    ];
  };
  const want = await runOn('cpu', compute);
  const got = await runOn('wasm', compute);
  want.forEach((w, i) => assertClose(got[i], w, `sum ${i}`));
  await selectBackend({ backend: 'wasm', threads: 1 });
  const shapes = tf.tidy(() => {
    const x = tf.zeros([3, 5, 4, 6]);
    return [tf.sum(x, [0, 1], true).shape, tf.sum(x, [0, 1, 2]).shape];
  });
  assert.deepEqual(shapes, [[1, 1, 4, 6], [6]]);
});

test('Concat and SplitV (JS kernels for float32, any axis; stock for int32): wasm == cpu', async () => {
  const av = randn(2 * 3 * 4 * 5, 61),
    bv = randn(2 * 3 * 4 * 7, 62),
    cv = randn(2 * 3 * 4 * 70, 63),
    dv = randn(2 * 6 * 4 * 5, 64);
  const compute = () => {
    const a = tf.tensor4d(av, [2, 3, 4, 5]),
      b = tf.tensor4d(bv, [2, 3, 4, 7]),
      c = tf.tensor4d(cv, [2, 3, 4, 70]);
    const d = tf.tensor4d(dv, [2, 6, 4, 5]),
      e = tf.zeros([2, 3, 4, 0]);
    const x = tf.concat([a, b, c], 3);
    return [
      x,
      tf.concat([a, d], 1),
      tf.concat([a, a, d], 1),
      tf.concat([a, b], -1),
      tf.concat([a, e, b], 3),
      tf.concat([a, a], 0),
      ...tf.split(x, [5, 7, 70], 3),
      ...tf.split(x, 2, 0),
      ...tf.split(d, [1, -1, 2], 1),
      ...tf.split(tf.reshape(x, [24, 82]), [80, 2], 1),
      tf.cast(tf.concat([tf.cast(a, 'int32'), tf.cast(b, 'int32')], 3), 'float32'),
      ...tf.split(tf.cast(x, 'int32'), 2, 3).map((t) => tf.cast(t, 'float32')),
    ];
  };
  const want = await runOn('cpu', compute);
  const got = await runOn('wasm', compute);
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.deepEqual(Array.from(got[i]), Array.from(w), `output ${i}`));
});

/** Small U-Net-like block: GroupNorm, SiLU, stride-2 conv, avg-pool, nearest upsample, dense, softmax. */
function blockLoss(params: tf.Tensor[], x: tf.Tensor4D, temb: tf.Tensor2D, fusedNorm = false): tf.Scalar {
  const [c1, gamma, beta, down, emb, out] = params;
  const [n, h, w] = x.shape;
  let y = tf.conv2d(x, c1 as tf.Tensor4D, 1, 'same');
  if (fusedNorm) {
    y = groupNorm(y, 2, gamma, beta, { silu: true });
  } else {
    const yg = tf.reshape(y, [n, h, w, 2, 3]);
    const { mean, variance } = tf.moments(yg, [1, 2, 4], true);
    y = tf.reshape(tf.div(tf.sub(yg, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, 6]);
    y = tf.add(tf.mul(y, gamma), beta) as tf.Tensor4D;
    y = tf.mul(y, tf.sigmoid(y)) as tf.Tensor4D;
  }
  let d = tf.conv2d(y, down as tf.Tensor4D, 2, 'same');
  d = tf.add(d, tf.reshape(tf.softmax(tf.matMul(temb, emb)), [n, 1, 1, 5])) as tf.Tensor4D;
  const p = tf.avgPool(d, 2, 2, 'same');
  const u = tf.image.resizeNearestNeighbor(p, [h, w]);
  const o = tf.conv2d(tf.concat([u, y], 3), out as tf.Tensor4D, 1, 'same');
  return tf.mean(tf.square(tf.sub(o, x)));
}

test('fwd+bwd of a GroupNorm/SiLU/down/up block: wasm == cpu', async () => {
  const shapes = [[3, 3, 2, 6], [6], [6], [3, 3, 6, 5], [4, 5], [3, 3, 11, 2]];
  const pv = shapes.map((s, k) =>
    randn(
      s.reduce((a, b) => a * b, 1),
      100 + k,
    ).map((v) => v * 0.3),
  );
  const xv = randn(3 * 7 * 7 * 2, 99),
    tv = randn(3 * 4, 98);
  const compute = () => {
    const params = shapes.map((s, k) => tf.tensor(pv[k], s));
    const x = tf.tensor4d(xv, [3, 7, 7, 2]);
    const t = tf.tensor2d(tv, [3, 4]);
    const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => blockLoss(ps, x, t))(params);
    return [value, ...grads];
  };
  const want = await runOn('cpu', compute);
  const got = await runOn('wasm', compute);
  want.forEach((wv, k) => assertClose(got[k], wv, k === 0 ? 'loss' : `grad ${k - 1}`));
});

test('no tensor leak: numTensors equal after training step 10 and 200 on wasm (composite and fused GroupNorm)', async () => {
  await selectBackend({ backend: 'wasm', threads: 1 });
  const before = tf.memory().numTensors;
  const shapes = [[3, 3, 2, 6], [6], [6], [3, 3, 6, 5], [4, 5], [3, 3, 11, 2]];
  const vars = shapes.map((s, k) => {
    const init = tf.tensor(
      randn(
        s.reduce((a, b) => a * b, 1),
        200 + k,
      ).map((v) => v * 0.3),
      s,
    );
    const v = tf.variable(init);
    init.dispose();
    return v;
  });
  const x = tf.tensor4d(randn(4 * 8 * 8 * 2, 1), [4, 8, 8, 2]);
  const t = tf.tensor2d(randn(4 * 4, 2), [4, 4]);
  const opt = tf.train.adam(1e-3);
  const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  let at10 = -1,
    first = 0,
    last = 0,
    heapAt100 = -1;
  for (let step = 1; step <= 200; step++) {
    const loss = opt.minimize(() => blockLoss(vars, x, t, step % 2 === 0), true) as tf.Scalar;
    const v = loss.dataSync()[0];
    loss.dispose();
    if (step === 1) first = v;
    last = v;
    if (step === 10) at10 = tf.memory().numTensors;
    if (step === 100) heapAt100 = heapBytes();
  }
  assert.equal(heapBytes(), heapAt100, 'wasm heap keeps growing (leaked XNNPACK operators or buffers?)');
  const at200 = tf.memory().numTensors;
  assert.equal(at200, at10, `numTensors at step 10 = ${at10}, at step 200 = ${at200}`);
  assert.ok(last < first, `loss should decrease (${first} -> ${last})`);
  opt.dispose();
  tf.dispose([x, t, ...vars]);
  assert.equal(tf.memory().numTensors, before, 'everything disposed');
});
