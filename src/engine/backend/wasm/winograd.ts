/**
 * 3×3 stride-1 convolution by Winograd F(2×2, 3×3) for the wasm backend.
 *
 * Every 2×2 block ("tile") of the output is computed from the 4×4 input patch d under it:
 *
 *   y_tile = Aᵀ [ (G w Gᵀ) ⊙ (Bᵀ d B) ] A        (Lavin & Gray 2016)
 *
 * summed over input channels, which turns the convolution into 16 matrix products (one per position
 * k of the 4×4 transformed tile) with 16/36 of the direct convolution's multiply-adds:
 *
 *   M[k] = V[k] · U[k]     V[k] = (Bᵀ d B)[k] for all tiles [T, Ci],  U[k] = (G w Gᵀ)[k]  [Ci, Co]
 *
 * The input and output transforms run in a small hand-written wasm SIMD module (winograd-wasm.ts,
 * 4 channels per v128) that imports the backend's own memory, so they read and write tensors in place;
 * the 16 products are stock XNNPACK GEMMs on heap views (gemm.ts). The input is first copied (in the module)
 * into a zero-padded buffer so the transform needs no bounds checks.
 *
 * Used for 3×3 convolutions with stride 1, dilation 1, Ci and Co multiples of 4 (the forward conv and,
 * through conv-grads.ts, the input gradient); everything else goes to the stock kernel.
 *
 * Not used for the filter gradient: there dUᵀ[k] = dMᵀ[k] · V[k] has K = T (≈ 8,000 tiles), and XNNPACK
 * packs the [T, Ci] operand afresh for each of the 16 products (≈ 2.7 ms each for the conv stack's 64→64
 * layer): 149 ms against 97 ms for filter-grad.ts's GEMMs, which pack dy once for all 9 taps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32View, WasmBackendLike } from './heap';
import { disposeInfo, dropHeapView, heapView, memoryOffset, xnnMatMul } from './gemm';
import { WINOGRAD_WASM_BASE64, WINOGRAD_WASM_SHARED_BASE64 } from './winograd-wasm';

interface WinogradExports {
  win_pad(
    src: number,
    dst: number,
    total: number,
    n: number,
    h: number,
    rs: number,
    drs: number,
    img: number,
    off: number,
  ): void;
  win_in(
    xp: number,
    rs: number,
    cs: number,
    c4: number,
    n: number,
    th: number,
    tw: number,
    img: number,
    v: number,
    plane: number,
  ): void;
  win_out(...args: number[]): void;
}

interface WasmModuleLike {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
}

let instance: { memory: WebAssembly.Memory; exports: WinogradExports } | null = null;

function kernels(backend: WasmBackendLike): WinogradExports {
  const mod = backend.wasm as unknown as WasmModuleLike;
  const memory = mod.wasmMemory ?? mod.asm?.memory;
  if (!memory) throw new Error('winograd: the wasm backend does not expose its memory');
  if (instance && instance.memory === memory) return instance.exports;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = Buffer.from(shared ? WINOGRAD_WASM_SHARED_BASE64 : WINOGRAD_WASM_BASE64, 'base64');
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  instance = { memory, exports: inst.exports as unknown as WinogradExports };
  return instance.exports;
}

/** For tests: called on every Winograd convolution (a forward conv, or the conv that computes an input gradient). */
export const winogradHooks: { onCall: (() => void) | null } = { onCall: null };

export interface WinogradGeom {
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

/** Whether winogradConv handles this convolution. */
export function winogradApplies(
  xShape: number[],
  wShape: number[],
  strides: [number, number],
  dilations: [number, number],
): boolean {
  const [kh, kw, ci, co] = wShape;
  return (
    kh === 3 &&
    kw === 3 &&
    strides[0] === 1 &&
    strides[1] === 1 &&
    dilations[0] === 1 &&
    dilations[1] === 1 &&
    ci % 4 === 0 &&
    co % 4 === 0 &&
    xShape[0] * xShape[1] * xShape[2] >= 16
  );
}

/** U[k][ci][co] = (G w[:,:,ci,co] Gᵀ)[k], G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]. */
function filterTransform(w: Float32Array, ci: number, co: number, u: Float32Array): void {
  const plane = ci * co;
  // one row (a, e, d) of t = G g times Gᵀ, into u[4i..4i+3] at `base`
  const put = (base: number, a: number, e: number, d: number) => {
    u[base] = a;
    u[base + plane] = 0.5 * (a + e + d);
    u[base + 2 * plane] = 0.5 * (a - e + d);
    u[base + 3 * plane] = d;
  };
  for (let c = 0; c < ci; c++) {
    for (let o = 0; o < co; o++) {
      const b = c * co + o;
      // rows of g (3×3), then t = G g (4×3), then u = t Gᵀ (4×4)
      const g00 = w[b],
        g01 = w[plane + b],
        g02 = w[2 * plane + b];
      const g10 = w[3 * plane + b],
        g11 = w[4 * plane + b],
        g12 = w[5 * plane + b];
      const g20 = w[6 * plane + b],
        g21 = w[7 * plane + b],
        g22 = w[8 * plane + b];
      const t10 = 0.5 * (g00 + g10 + g20),
        t11 = 0.5 * (g01 + g11 + g21),
        t12 = 0.5 * (g02 + g12 + g22);
      const t20 = 0.5 * (g00 - g10 + g20),
        t21 = 0.5 * (g01 - g11 + g21),
        t22 = 0.5 * (g02 - g12 + g22);
      put(b, g00, g01, g02);
      put(4 * plane + b, t10, t11, t12);
      put(8 * plane + b, t20, t21, t22);
      put(12 * plane + b, g20, g21, g22);
    }
  }
}

/** V [16, T, Ci]: the transformed 4×4 input tiles (T = N·th·tw) of x padded by (pt, pl) on top/left and zeros elsewhere. */
function inputTiles(
  backend: WasmBackendLike,
  k: WinogradExports,
  x: tf.TensorInfo,
  pt: number,
  pl: number,
  th: number,
  tw: number,
  alloc: (shape: number[]) => tf.TensorInfo,
): tf.TensorInfo {
  const [n, h, wd, ci] = x.shape;
  const hp = 2 * th + 2,
    wp = 2 * tw + 2;
  const t = n * th * tw;
  const xp = backend.makeOutput([n, hp, wp, ci], 'float32');
  try {
    // Output rows 2·th ≥ h + pt + pb − 2 with pt, pb ≥ 0, so every input row and column lands inside the grid.
    if (pt < 0 || pl < 0 || pt + h > hp || pl + wd > wp)
      throw new Error(`winograd: padding (${pt}, ${pl}) does not fit ${h}×${wd} → ${hp}×${wp}`);
    k.win_pad(
      memoryOffset(backend, x),
      memoryOffset(backend, xp),
      n * hp * wp * ci * 4,
      n,
      h,
      wd * ci * 4,
      wp * ci * 4,
      hp * wp * ci * 4,
      (pt * wp + pl) * ci * 4,
    );
    const v = alloc([16, t, ci]);
    k.win_in(
      memoryOffset(backend, xp),
      wp * ci * 4,
      ci * 4,
      ci / 4,
      n,
      th,
      tw,
      hp * wp * ci * 4,
      memoryOffset(backend, v),
      t * ci * 4,
    );
    return v;
  } finally {
    disposeInfo(backend, xp);
  }
}

/** y = conv2d(x, w) (3×3, stride 1) with the given top/left padding and output size; a new float32 tensor info. */
export function winogradConv(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  w: tf.TensorInfo,
  g: WinogradGeom,
): tf.TensorInfo {
  winogradHooks.onCall?.();
  const k = kernels(backend);
  const [n, , , ci] = x.shape;
  const co = w.shape[3];
  const { outH: ho, outW: wo, padTop: pt, padLeft: pl } = g;
  const th = Math.ceil(ho / 2),
    tw = Math.ceil(wo / 2);
  const t = n * th * tw;
  const temps: tf.TensorInfo[] = [];
  const alloc = (shape: number[]) => {
    const r = backend.makeOutput(shape, 'float32');
    temps.push(r);
    return r;
  };
  try {
    const v = inputTiles(backend, k, x, pt, pl, th, tw, alloc);
    // transformed filter
    const u = alloc([16, ci, co]);
    filterTransform(f32View(backend, w), ci, co, f32View(backend, u));
    // 16 products
    const m: tf.TensorInfo[] = [];
    const vOff = memoryOffset(backend, v),
      uOff = memoryOffset(backend, u);
    try {
      for (let q = 0; q < 16; q++) {
        const a = heapView(backend, vOff + q * t * ci * 4, [1, t, ci]);
        const b = heapView(backend, uOff + q * ci * co * 4, [1, ci, co]);
        try {
          m.push(xnnMatMul(backend, a, b));
        } finally {
          dropHeapView(backend, a);
          dropHeapView(backend, b);
        }
      }
      const even = ho === 2 * th && wo === 2 * tw;
      const yFull = even ? backend.makeOutput([n, ho, wo, co], 'float32') : alloc([n, 2 * th, 2 * tw, co]);
      k.win_out(
        ...m.map((mm) => memoryOffset(backend, mm)),
        co / 4,
        t,
        tw,
        memoryOffset(backend, yFull),
        2 * tw * co * 4,
        co * 4,
      );
      if (even) return yFull;
      const y = backend.makeOutput([n, ho, wo, co], 'float32');
      const src = f32View(backend, yFull),
        dst = f32View(backend, y);
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < ho; r++) {
          const s = (b * 2 * th + r) * 2 * tw * co;
          dst.set(src.subarray(s, s + wo * co), (b * ho + r) * wo * co);
        }
      }
      return y;
    } finally {
      for (const mm of m) disposeInfo(backend, mm);
    }
  } finally {
    for (const tt of temps) disposeInfo(backend, tt);
  }
}
