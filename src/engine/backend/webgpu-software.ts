/**
 * Barrier-free kernels for software WebGPU adapters (SwiftShader, llvmpipe, WARP): matmul, transpose, sum, mean and the
 * 2-D convolution with both its gradients.
 *
 * tfjs-backend-webgpu's matmul, 2-D transpose and reduction programs go through workgroup memory with
 * `workgroupBarrier()`. That is right for a GPU, but a software adapter emulates each barrier by switching between the
 * workgroup's invocations (SwiftShader runs them as coroutines). Measured on SwiftShader here (2 cores, idle): a
 * [256×128]·[128×128] product 30 ms (0.3 GFLOP/s), a [256×128] transpose 22 ms, its column sums 33 ms, while an
 * elementwise add of the same size takes 0.8 ms; the quick start's 3×3 convolution (batch 64, 16×16, 24 → 48
 * channels) 3.6 s forward and ~20 s for its filter gradient. These kernels use no workgroup memory and no barrier: a
 * matmul invocation computes a 4×4 output block from global memory (8 loads per 16 multiply-adds), a transpose
 * invocation one element, a reduction invocation one output by a loop over the reduced block (no transpose first), and
 * a convolution is an im2col gather and a matmul (its input gradient: a matmul and a col2im gather).
 *
 * They replace tfjs's kernels on 'webgpu' only while the adapter is a software one (`useSoftwareKernels`, called by
 * selectWebGpu), so CI's SwiftShader runs finish in reasonable time; a hardware adapter keeps tfjs's tiled programs.
 * Same contracts as tfjs's kernels; anything outside what they cover (int32 results, a reduction over non-adjacent
 * axes, few outputs) is handed to tfjs's own kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

import { FlatProgram, Uniform, WebGpuBackendLike, WG } from './webgpu-program';

/** C = op(A)·op(B) for the 3-D views [batch, m, k] and [batch, k, n]; an invocation computes a 4×4 block of C. */
function matMulCode(transposeA: boolean, transposeB: boolean): string {
  // f32(…): tfjs's int32 → float32 cast keeps the int32 buffer and relabels it, so a float32 input may be i32 data.
  const aAt = transposeA ? 'f32(a[aOff + kk * uniforms.m + ROW])' : 'f32(a[aOff + ROW * uniforms.k + kk])';
  const bAt = transposeB ? 'f32(b[bOff + COL * uniforms.k + kk])' : 'f32(b[bOff + kk * uniforms.n + COL])';
  const av = [0, 1, 2, 3].map((i) => aAt.replace('ROW', `r[${i}]`)).join(', ');
  const bv = [0, 1, 2, 3].map((j) => bAt.replace('COL', `c[${j}]`)).join(', ');
  return `
  fn main(index : i32) {
    let tn = (uniforms.n + 3) / 4;
    let perBatch = ((uniforms.m + 3) / 4) * tn;
    let bt = index / perBatch;
    if (bt >= uniforms.batch) { return; }
    let rem = index - bt * perBatch;
    let r0 = (rem / tn) * 4;
    let c0 = (rem - (rem / tn) * tn) * 4;
    let r = vec4<i32>(min(r0, uniforms.m - 1), min(r0 + 1, uniforms.m - 1), min(r0 + 2, uniforms.m - 1), min(r0 + 3, uniforms.m - 1));
    let c = vec4<i32>(min(c0, uniforms.n - 1), min(c0 + 1, uniforms.n - 1), min(c0 + 2, uniforms.n - 1), min(c0 + 3, uniforms.n - 1));
    let aOff = bt * uniforms.strideA;
    let bOff = bt * uniforms.strideB;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0; kk < uniforms.k; kk = kk + 1) {
      let x = vec4<f32>(${av});
      let y = vec4<f32>(${bv});
      acc0 = fma(vec4<f32>(x.x), y, acc0);
      acc1 = fma(vec4<f32>(x.y), y, acc1);
      acc2 = fma(vec4<f32>(x.z), y, acc2);
      acc3 = fma(vec4<f32>(x.w), y, acc3);
    }
    let outBase = bt * uniforms.m * uniforms.n;
    let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0; i < 4; i = i + 1) {
      if (r0 + i < uniforms.m) {
        for (var j = 0; j < 4; j = j + 1) {
          if (c0 + j < uniforms.n) { setOutputAtIndex(outBase + (r0 + i) * uniforms.n + c0 + j, rows[i][j]); }
        }
      }
    }
  }`;
}

/** BatchMatMul by 4×4 register blocks (the kernel registered for software adapters); `viewAs` reshapes the result. */
export function blockMatMul(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  backend: WebGpuBackendLike,
  /** The result's shape when the caller views the [batch, m, n] product otherwise (same size). */
  viewAs?: number[],
): tf.TensorInfo {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2)
    throw new Error(`matMul: both operands need rank ≥ 2, got shapes [${a.shape}] and [${b.shape}]`);
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const ka = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (ka !== kb)
    throw new Error(
      `matMul: inner sizes ${ka} and ${kb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) must match`,
    );
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  if ((batchA !== 1 && batchA !== batch) || (batchB !== 1 && batchB !== batch)) {
    throw new Error(
      `matMul: batch dimensions of [${a.shape}] and [${b.shape}] broadcast only when one side's batch is 1`,
    );
  }
  const outShape = viewAs ?? [...outer, m, n];
  if (tf.util.sizeFromShape(outShape) !== batch * m * n)
    throw new Error(`matMul: view [${outShape}] does not hold the ${batch}×${m}×${n} product`);
  const threads = batch * Math.ceil(m / 4) * Math.ceil(n / 4);
  const i = (v: number): Uniform => ({ type: 'int32', data: [v] });
  const key = `dd_mm4x4_${transposeA ? 1 : 0}${transposeB ? 1 : 0}`;
  const program = new FlatProgram(
    key,
    outShape,
    ['a', 'b'],
    'm : i32, n : i32, k : i32, batch : i32, strideA : i32, strideB : i32,',
    matMulCode(transposeA, transposeB),
    threads,
  );
  return backend.runWebGPUProgram(program, [a, b], 'float32', [
    i(m),
    i(n),
    i(ka),
    i(batch),
    i(batchA === 1 ? 0 : m * ka),
    i(batchB === 1 ? 0 : ka * n),
  ]);
}

/** out[coords] = x[coords permuted back]: one invocation per element. */
function transposeCode(perm: number[]): string {
  const rank = perm.length;
  const xyz = ['x', 'y', 'z', 'w', 'u', 'v'];
  const src: string[] = new Array(rank);
  perm.forEach((p, i) => (src[p] = `coords.${xyz[i]}`));
  const type = rank <= 4 ? `vec${rank}<i32>` : `vec${rank}`;
  return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let coords = getCoordsFromIndex(index);
      setOutputAtIndex(index, f32(x[getIndexFromCoords${rank}D(${type}(${src.join(', ')}), uniforms.xShape)]));
    }
  }`;
}

/** Sum over the middle axis of a [outer, red, inner] view: one invocation per (outer, inner) output. */
const REDUCE_CODE = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let o = index / uniforms.inner;
      let i = index - o * uniforms.inner;
      var p = o * uniforms.red * uniforms.inner + i;
      var s = 0.0;
      for (var r = 0; r < uniforms.red; r = r + 1) {
        s = s + f32(x[p]);
        p = p + uniforms.inner;
      }
      setOutputAtIndex(index, s * uniforms.scale);
    }
  }`;

/**
 * Sum or mean of float32 x over `axis`, if the axes are one adjacent block and there are at least 64 outputs (fewer
 * outputs: tfjs's one-workgroup tree reduction is the faster one even on a software adapter). Otherwise null.
 */
export function blockReduce(
  x: tf.TensorInfo,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
  backend: WebGpuBackendLike,
): tf.TensorInfo | null {
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (x.dtype !== 'float32' || axes.length === 0) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  const a0 = axes[0];
  const a1 = axes[axes.length - 1];
  const red = tf.util.sizeFromShape(x.shape.slice(a0, a1 + 1));
  const inner = tf.util.sizeFromShape(x.shape.slice(a1 + 1));
  const outputs = tf.util.sizeFromShape(x.shape) / Math.max(red, 1);
  if (outputs < WG || red === 0) return null;
  const outShape = keepDims
    ? x.shape.map((d, i) => (i >= a0 && i <= a1 ? 1 : d))
    : x.shape.filter((_, i) => i < a0 || i > a1);
  const i = (v: number): Uniform => ({ type: 'int32', data: [v] });
  return backend.runWebGPUProgram(
    new FlatProgram('dd_block_reduce', outShape, ['x'], 'red : i32, inner : i32, scale : f32,', REDUCE_CODE),
    [x],
    'float32',
    [i(red), i(inner), { type: 'float32', data: [mean ? 1 / red : 1] }],
  );
}

const CONV_UNIFORMS =
  'h : i32, w : i32, c : i32, oh : i32, ow : i32, kh : i32, kw : i32, sh : i32, sw : i32, ph : i32, pw : i32, dh : i32, dw : i32,';

/** The patches of x (NHWC) as rows: cols[(n·OH + oh)·OW + ow, (ky·KW + kx)·C + c] (zero outside the image). */
const IM2COL_CODE = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let kkc = uniforms.kh * uniforms.kw * uniforms.c;
      let row = index / kkc;
      let col = index - row * kkc;
      let ky = col / (uniforms.kw * uniforms.c);
      let kx = (col / uniforms.c) % uniforms.kw;
      let ch = col % uniforms.c;
      let n = row / (uniforms.oh * uniforms.ow);
      let oy = (row / uniforms.ow) % uniforms.oh;
      let ox = row % uniforms.ow;
      let iy = oy * uniforms.sh - uniforms.ph + ky * uniforms.dh;
      let ix = ox * uniforms.sw - uniforms.pw + kx * uniforms.dw;
      var v = 0.0;
      if (iy >= 0 && iy < uniforms.h && ix >= 0 && ix < uniforms.w) {
        v = f32(x[((n * uniforms.h + iy) * uniforms.w + ix) * uniforms.c + ch]);
      }
      setOutputAtIndex(index, v);
    }
  }`;

/** The input gradient from the patch gradients: dx[n, iy, ix, c] = Σ over the patches that hold (iy, ix) of cols. */
const COL2IM_CODE = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let ch = index % uniforms.c;
      let ix = (index / uniforms.c) % uniforms.w;
      let iy = (index / (uniforms.c * uniforms.w)) % uniforms.h;
      let n = index / (uniforms.c * uniforms.w * uniforms.h);
      let kkc = uniforms.kh * uniforms.kw * uniforms.c;
      var s = 0.0;
      for (var ky = 0; ky < uniforms.kh; ky = ky + 1) {
        let ty = iy + uniforms.ph - ky * uniforms.dh;
        if (ty < 0 || ty % uniforms.sh != 0) { continue; }
        let oy = ty / uniforms.sh;
        if (oy >= uniforms.oh) { continue; }
        for (var kx = 0; kx < uniforms.kw; kx = kx + 1) {
          let tx = ix + uniforms.pw - kx * uniforms.dw;
          if (tx < 0 || tx % uniforms.sw != 0) { continue; }
          let ox = tx / uniforms.sw;
          if (ox >= uniforms.ow) { continue; }
          s = s + f32(cols[((n * uniforms.oh + oy) * uniforms.ow + ox) * kkc + (ky * uniforms.kw + kx) * uniforms.c + ch]);
        }
      }
      setOutputAtIndex(index, s);
    }
  }`;

type ConvAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** The geometry of an NHWC convolution, or null for what the software path does not cover (NCHW). */
function convGeometry(xShape: number[], filterShape: number[], attrs: ConvAttrs) {
  if (attrs.dataFormat !== 'NHWC') return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const i = (v: number): Uniform => ({ type: 'int32', data: [v] });
  const uniforms = [
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.dilationHeight,
    info.dilationWidth,
  ].map(i);
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const kkc = info.filterHeight * info.filterWidth * info.inChannels;
  return { info, uniforms, rows, kkc };
}

/** A TensorInfo that views t's data with another shape of the same size (the caller keeps t alive). */
const view = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

export function softwareConv2D(
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: ConvAttrs,
  backend: WebGpuBackendLike,
): tf.TensorInfo | null {
  const g = convGeometry(x.shape, filter.shape, attrs);
  if (!g || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const cols = backend.runWebGPUProgram(
    new FlatProgram('dd_im2col', [g.rows, g.kkc], ['x'], CONV_UNIFORMS, IM2COL_CODE),
    [x],
    'float32',
    g.uniforms,
  );
  try {
    return blockMatMul(cols, view(filter, [g.kkc, g.info.outChannels]), false, false, backend, g.info.outShape);
  } finally {
    backend.disposeData(cols.dataId);
  }
}

export function softwareConv2DBackpropFilter(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: number[],
  attrs: ConvAttrs,
  backend: WebGpuBackendLike,
): tf.TensorInfo | null {
  const g = convGeometry(x.shape, filterShape, attrs);
  if (!g || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const cols = backend.runWebGPUProgram(
    new FlatProgram('dd_im2col', [g.rows, g.kkc], ['x'], CONV_UNIFORMS, IM2COL_CODE),
    [x],
    'float32',
    g.uniforms,
  );
  try {
    // dW = colsᵀ · dy, as [KH·KW·C, OC]: the filter's own layout.
    return blockMatMul(cols, view(dy, [g.rows, g.info.outChannels]), true, false, backend, filterShape);
  } finally {
    backend.disposeData(cols.dataId);
  }
}

export function softwareConv2DBackpropInput(
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: number[],
  attrs: ConvAttrs,
  backend: WebGpuBackendLike,
): tf.TensorInfo | null {
  const g = convGeometry(inputShape, filter.shape, attrs);
  if (!g || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  // The patch gradients dy · Wᵀ, then each input element gathers the patches that hold it.
  const dcols = blockMatMul(
    view(dy, [g.rows, g.info.outChannels]),
    view(filter, [g.kkc, g.info.outChannels]),
    false,
    true,
    backend,
  );
  try {
    return backend.runWebGPUProgram(
      new FlatProgram('dd_col2im', inputShape, ['cols'], CONV_UNIFORMS, COL2IM_CODE),
      [dcols],
      'float32',
      g.uniforms,
    );
  } finally {
    backend.disposeData(dcols.dataId);
  }
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
interface Replacement {
  name: string;
  /** The software kernel; null hands the call to tfjs's own kernel. */
  run(args: KernelArgs): tf.TensorInfo | null;
}

const REPLACEMENTS: Replacement[] = [
  {
    name: 'BatchMatMul',
    run: ({ inputs, attrs, backend }) => {
      const { a, b } = inputs as Record<string, tf.TensorInfo>;
      // Integer products (tfjs allows int32 · int32, with an int32 result) stay with tfjs's programs.
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      return blockMatMul(a, b, transposeA, transposeB, backend as unknown as WebGpuBackendLike);
    },
  },
  {
    name: 'Transpose',
    run: ({ inputs, attrs, backend }) => {
      const { x } = inputs as Record<string, tf.TensorInfo>;
      const { perm } = attrs as unknown as { perm: number[] };
      if (x.dtype !== 'float32' || perm.length < 2 || perm.length > 6) return null;
      const program = new FlatProgram(
        `dd_transpose_${perm.join('_')}`,
        perm.map((p) => x.shape[p]),
        ['x'],
        undefined,
        transposeCode(perm),
      );
      return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [x], 'float32');
    },
  },
  {
    name: 'Sum',
    run: ({ inputs, attrs, backend }) => {
      const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
      return blockReduce(
        (inputs as Record<string, tf.TensorInfo>).x,
        axis,
        keepDims,
        false,
        backend as unknown as WebGpuBackendLike,
      );
    },
  },
  {
    name: 'Mean',
    run: ({ inputs, attrs, backend }) => {
      const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
      return blockReduce(
        (inputs as Record<string, tf.TensorInfo>).x,
        axis,
        keepDims,
        true,
        backend as unknown as WebGpuBackendLike,
      );
    },
  },
  {
    name: 'Conv2D',
    run: ({ inputs, attrs, backend }) => {
      const { x, filter } = inputs as Record<string, tf.TensorInfo>;
      return softwareConv2D(x, filter, attrs as unknown as ConvAttrs, backend as unknown as WebGpuBackendLike);
    },
  },
  {
    name: 'Conv2DBackpropFilter',
    run: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs as Record<string, tf.TensorInfo>;
      const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
      return softwareConv2DBackpropFilter(x, dy, a.filterShape, a, backend as unknown as WebGpuBackendLike);
    },
  },
  {
    name: 'Conv2DBackpropInput',
    run: ({ inputs, attrs, backend }) => {
      const { dy, filter } = inputs as Record<string, tf.TensorInfo>;
      const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
      return softwareConv2DBackpropInput(dy, filter, a.inputShape, a, backend as unknown as WebGpuBackendLike);
    },
  },
];

const originals = new Map<string, tf.KernelConfig>();
let softwareActive = false;

/**
 * Chooses the kernels on 'webgpu': the barrier-free ones above (`true`, for a software adapter) or tfjs's own (`false`,
 * for a GPU). Called by selectWebGpu each time the backend is activated; tests call it to check both sets.
 */
export function useSoftwareKernels(on: boolean): void {
  if (on === softwareActive) return;
  for (const r of REPLACEMENTS) {
    if (!originals.has(r.name)) {
      const k = tf.getKernel(r.name, 'webgpu');
      if (!k)
        throw new Error(
          `useSoftwareKernels: the webgpu backend has no ${r.name} kernel to replace (is @tensorflow/tfjs-backend-webgpu loaded?)`,
        );
      originals.set(r.name, k);
    }
    const original = originals.get(r.name)!;
    tf.unregisterKernel(r.name, 'webgpu');
    tf.registerKernel(
      on
        ? { kernelName: r.name, backendName: 'webgpu', kernelFunc: (args) => r.run(args) ?? original.kernelFunc(args) }
        : original,
    );
  }
  softwareActive = on;
}

/** Whether the software kernels are the ones registered on 'webgpu' now. */
export function softwareKernelsActive(): boolean {
  return softwareActive;
}
