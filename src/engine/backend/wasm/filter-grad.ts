/**
 * Conv2D filter gradient as XNNPACK GEMMs over zero-copy shifted views.
 *
 *   dw[i,j,c,o] = Σ_{n,p,q} x[n, p·sh+i-top, q·sw+j-left, c] · dy[n,p,q,o]
 *
 * Stride 1: x is laid out once, channel-major, on a zero-padded "grid": every image row is followed by
 * zero columns and every image by zero rows (one shared gap serves as the right/bottom padding of one
 * row/image and the left/top padding of the next), after `lead` leading zeros. dy is scattered onto
 * the same grid (rows [L, Co], zero where no output pixel sits). Then for each tap (i,j) the matrix
 * X_ij [Ci, L] with X_ij[c,t] = grid_c[t + (i-top)·R + (j-left)] is the channel-major buffer read at a
 * constant offset, so
 *
 *   dw[i,j] = X_ij · dy_grid      ([Ci, L] · [L, Co], K = L ≈ N·Ho·Wo·(1 + grid overhead))
 *
 * is one stock wasm BatchMatMul (XNNPACK fully-connected) on a heap view, with dy_grid packed by
 * XNNPACK once for all taps (the operator is cached on dy_grid's tensor id). At grid positions with
 * no output pixel dy_grid is 0, so whatever a shifted view reads there (a neighbouring channel's row,
 * or the zeroed slack before/after the buffer) does not contribute.
 *
 * Stride s > 1: x is split into s_h·s_w phase images x_ab[h',w'] = x[s_h·h'+a, s_w·w'+b], each on its
 * own grid of the same geometry; tap (i,j) reads phase ((i-top) mod s_h, (j-left) mod s_w) at offset
 * (⌊(i-top)/s_h⌋, ⌊(j-left)/s_w⌋), which is again a constant shift of one grid.
 *
 * Costs: one padded transpose of x, one padded copy of dy, XNNPACK's packing of dy_grid (≈5 ns per
 * element), and GEMMs doing (1 + overhead) times the conv's FLOPs, e.g. 13 % at 16×16 and 27 % at 8×8
 * for 3×3 'same'.
 *
 * Chunks: K = L is long (≈ 37,000 for 32 images of 32×32), and XNNPACK's micro-kernels stream all of K for
 * every tile of the output, so the batch is cut into chunks of whole images, each with its own grids
 * (filterGradOptions.chunkFloats bounds a chunk's operands), and the chunks' products are summed:
 * 101 → 94 ms for the conv stack's 64→64 layer, 17 → 13 ms for its 3→64 layer (bench/kernel-ab.ts --chunk).
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32View, WasmBackendLike } from './heap';
import { disposeInfo, dropHeapView, heapView, memoryOffset, xnnMatMul } from './gemm';
import type { ConvGeom } from './conv-grads';

/** Tuning knobs (bench/kernel-ab.ts --chunk). */
export const filterGradOptions = {
  /**
   * Upper bound on the floats of one chunk's two GEMM operands ((ci + co) · K): the batch is cut into
   * chunks of whole images so that X_ij and dy_grid stay in the L2 cache while XNNPACK's micro-kernels
   * stream K; partial products are summed. 0: one chunk (the whole batch).
   */
  chunkFloats: 384 * 1024,
};

export function filterGradGemm(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeom,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const kh = g.filterH,
    kw = g.filterW,
    top = g.padTop,
    left = g.padLeft,
    sh = g.strideH,
    sw = g.strideW;
  // Tap (i,j) reads phase (ah, aw) of x at grid offset (u, v) relative to the output pixel.
  const fl = (a: number, s: number) => Math.floor(a / s);
  const uMin = fl(-top, sh),
    uMax = fl(kh - 1 - top, sh),
    vMin = fl(-left, sw),
    vMax = fl(kw - 1 - left, sw);
  const phH = Math.ceil(h / sh),
    phW = Math.ceil(w / sw); // largest phase image
  const rowLen = Math.max(wo + Math.max(vMax, 0), phW + Math.max(-vMin, 0));
  const imgRows = Math.max(ho + Math.max(uMax, 0), phH + Math.max(-uMin, 0));
  const imgLen = imgRows * rowLen;
  const lead = Math.max(-uMin, 0) * rowLen + Math.max(-vMin, 0);
  const taps = kh * kw;
  // Few output channels: XNNPACK's GEMM computes output columns in tiles of 8, so one GEMM with all taps
  // stacked as columns (dy shifted once per tap) beats kh·kw GEMMs with co < 8 useful columns.
  const stacked = sh * sw === 1 && co < 8 && taps * co <= 32;
  const cols = stacked ? taps * co : co;
  const limit = filterGradOptions.chunkFloats;
  const perChunk = limit > 0 ? Math.max(1, Math.min(n, Math.floor(limit / ((ci + cols) * imgLen)))) : n;
  const acc = new Float32Array(taps * ci * co);
  for (let b0 = 0; b0 < n; b0 += perChunk) {
    const nb = Math.min(perChunk, n - b0);
    filterGradChunk(backend, x, dy, b0, nb, acc, {
      h,
      w,
      ci,
      ho,
      wo,
      co,
      kh,
      kw,
      top,
      left,
      sh,
      sw,
      uMax,
      vMax,
      rowLen,
      imgLen,
      lead,
      stacked,
    });
  }
  const out = backend.makeOutput([kh, kw, ci, co], 'float32');
  f32View(backend, out).set(acc);
  return out;
}

interface GridGeom {
  h: number;
  w: number;
  ci: number;
  ho: number;
  wo: number;
  co: number;
  kh: number;
  kw: number;
  top: number;
  left: number;
  sh: number;
  sw: number;
  uMax: number;
  vMax: number;
  rowLen: number;
  imgLen: number;
  lead: number;
  stacked: boolean;
}

/** Adds images [b0, b0 + nb)'s contribution to acc ([kh, kw, ci, co]). */
function filterGradChunk(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  b0: number,
  nb: number,
  acc: Float32Array,
  q: GridGeom,
): void {
  const { h, w, ci, ho, wo, co, kh, kw, top, left, sh, sw, uMax, vMax, rowLen, imgLen, lead, stacked } = q;
  const fl = (a: number, s: number) => Math.floor(a / s);
  const len = lead + nb * imgLen;
  const pre = lead; // views start at most `lead` before row 0
  const post = Math.max(0, uMax * rowLen + vMax); // and end at most this far past the last row
  const phases = sh * sw,
    phaseLen = pre + ci * len + post;
  const taps = kh * kw;
  // Allocate everything first: an allocation can grow (and detach) the heap.
  const xGrid = backend.makeOutput([phases * phaseLen], 'float32');
  const dyGrid = backend.makeOutput([1, len, stacked ? taps * co : co], 'float32');
  try {
    const xt = f32View(backend, xGrid);
    xt.fill(0);
    const xa = f32View(backend, x);
    const xSrc0 = b0 * h * w * ci,
      dySrc0 = b0 * ho * wo * co;
    for (let a = 0; a < sh; a++) {
      for (let b = 0; b < sw; b++) {
        const ph = Math.ceil((h - a) / sh),
          pw = Math.ceil((w - b) / sw);
        if (ph > 0 && pw > 0) {
          toChannelMajorGrid(
            xa,
            xt,
            nb,
            ph,
            pw,
            ci,
            (a * sw + b) * phaseLen + pre + lead,
            imgLen,
            rowLen,
            len,
            h * w * ci,
            sh * w * ci,
            sw * ci,
            xSrc0 + (a * w + b) * ci,
          );
        }
      }
    }
    const dya = f32View(backend, dy),
      dg = f32View(backend, dyGrid);
    dg.fill(0);
    const xBase = memoryOffset(backend, xGrid) + 4 * pre;
    if (stacked) {
      // dw[i,j,c,o] = Σ_t grid_c[t] · dy_grid[t − off_ij, o]: columns (tap, o) of B hold dy shifted by off_ij.
      const tc = taps * co;
      for (let b = 0; b < nb; b++) {
        for (let p = 0; p < ho; p++) {
          for (let q2 = 0; q2 < wo; q2++) {
            const src = dySrc0 + ((b * ho + p) * wo + q2) * co,
              t = lead + b * imgLen + p * rowLen + q2;
            for (let i = 0, tap = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++, tap++) {
                const d = (t + (i - top) * rowLen + (j - left)) * tc + tap * co;
                for (let o = 0; o < co; o++) dg[d + o] = dya[src + o];
              }
            }
          }
        }
      }
      const view = heapView(backend, xBase, [1, ci, len]);
      let r: tf.TensorInfo;
      try {
        r = xnnMatMul(backend, view, dyGrid);
      } finally {
        dropHeapView(backend, view);
      }
      const rv = f32View(backend, r);
      for (let tap = 0; tap < taps; tap++) {
        for (let c = 0; c < ci; c++)
          for (let k = 0; k < co; k++) acc[(tap * ci + c) * co + k] += rv[c * tc + tap * co + k];
      }
      disposeInfo(backend, r);
      return;
    }
    const runLen = wo * co;
    for (let b = 0; b < nb; b++) {
      for (let p = 0; p < ho; p++) {
        const src = dySrc0 + (b * ho + p) * runLen;
        dg.set(dya.subarray(src, src + runLen), (lead + b * imgLen + p * rowLen) * co);
      }
    }
    const m = ci * co;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const ah = (((i - top) % sh) + sh) % sh,
          aw = (((j - left) % sw) + sw) % sw;
        const off = (ah * sw + aw) * phaseLen + fl(i - top, sh) * rowLen + fl(j - left, sw);
        const view = heapView(backend, xBase + 4 * off, [1, ci, len]);
        let r: tf.TensorInfo;
        try {
          r = xnnMatMul(backend, view, dyGrid);
        } finally {
          dropHeapView(backend, view);
        }
        const rv = f32View(backend, r),
          base = (i * kw + j) * m;
        for (let e = 0; e < m; e++) acc[base + e] += rv[e];
        disposeInfo(backend, r);
      }
    }
  } finally {
    disposeInfo(backend, xGrid);
    disposeInfo(backend, dyGrid);
  }
}

/**
 * xt[base + c·len + b·imgLen + r·rowLen + q] = xa[src0 + b·imgStride + r·rowStride + q·colStride + c] for
 * b < n, r < h, q < w: NHWC (or a strided phase of it) → channel-major grid.
 * Channels in blocks of 8 (fewer concurrent write streams: 64 rows of ~150 KB apart thrash the TLB),
 * 4 at a time in the inner loop. ≈1–1.5 ns per element.
 */
export function toChannelMajorGrid(
  xa: Float32Array,
  xt: Float32Array,
  n: number,
  h: number,
  w: number,
  ci: number,
  base: number,
  imgLen: number,
  rowLen: number,
  len: number,
  imgStride = h * w * ci,
  rowStride = w * ci,
  colStride = ci,
  src0 = 0,
): void {
  const c4 = ci - (ci % 4);
  for (let c0 = 0; c0 < ci; c0 += 8) {
    const cEnd4 = Math.min(c0 + 8, c4),
      cEnd = Math.min(c0 + 8, ci);
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < h; r++) {
        const src = src0 + b * imgStride + r * rowStride,
          dst = base + b * imgLen + r * rowLen;
        let c = c0;
        for (; c < cEnd4; c += 4) {
          const d0 = dst + c * len,
            d1 = d0 + len,
            d2 = d1 + len,
            d3 = d2 + len;
          for (let q = 0, s = src + c; q < w; q++, s += colStride) {
            xt[d0 + q] = xa[s];
            xt[d1 + q] = xa[s + 1];
            xt[d2 + q] = xa[s + 2];
            xt[d3 + q] = xa[s + 3];
          }
        }
        for (; c < cEnd; c++) {
          const d = dst + c * len;
          for (let q = 0, s = src + c; q < w; q++, s += colStride) xt[d + q] = xa[s];
        }
      }
    }
  }
}
