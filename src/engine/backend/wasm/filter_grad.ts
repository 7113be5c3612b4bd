/**
 * Conv2D filter gradient (stride 1) as kh·kw XNNPACK GEMMs over zero-copy shifted views.
 *
 *   dw[i,j,c,o] = Σ_{n,p,q} x[n, p+i-top, q+j-left, c] · dy[n,p,q,o]
 *
 * x is laid out once, channel-major, on a zero-padded "grid": every image row is followed by
 * g = max(left, right) zero columns and every image by max(top, bottom) zero rows (one shared gap
 * serves as the right/bottom padding of one row/image and the left/top padding of the next), after
 * `lead` leading zeros. dy is scattered onto the same grid (rows [L, Co], zero where no output pixel
 * sits). Then for each tap (i,j) the matrix X_ij [Ci, L] with X_ij[c,t] = grid_c[t + (i-top)·R + (j-left)]
 * is just the channel-major buffer read at a constant offset, so
 *
 *   dw[i,j] = X_ij · dy_grid      ([Ci, L] · [L, Co], K = L ≈ N·H·W·(1+pad overhead))
 *
 * is one stock wasm BatchMatMul (XNNPACK fully-connected) on a heap view, with dy_grid packed by
 * XNNPACK once for all taps (the operator is cached on dy_grid's tensor id). At grid positions with
 * no output pixel dy_grid is 0, so whatever a shifted view reads there (a neighbouring channel's row,
 * or the zeroed slack before/after the buffer) does not contribute.
 *
 * Costs: one padded transpose of x, one padded copy of dy, and the GEMMs, which do (1 + overhead)
 * times the conv's FLOPs: (H+g)(W+g)/(H·W) − 1, e.g. 13 % at 16×16 and 27 % at 8×8 for 3×3 'same'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { f32View, WasmBackendLike } from './heap';
import { disposeInfo, dropHeapView, heapView, memoryOffset, xnnMatMul } from './gemm';
import type { ConvGeom } from './conv_grads';

export function filterGradGemm(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeom): tf.TensorInfo {
  if (g.strideH !== 1 || g.strideW !== 1) throw new Error('filterGradGemm: stride 1 only');
  const [n, h, w, ci] = x.shape;
  const [, ho, wo, co] = dy.shape;
  const kh = g.filterH, kw = g.filterW, top = g.padTop, left = g.padLeft;
  const bottom = Math.max(0, ho + kh - 1 - top - h), right = Math.max(0, wo + kw - 1 - left - w);
  const rowLen = Math.max(w + Math.max(left, right), wo);
  const imgRows = Math.max(h + Math.max(top, bottom), ho);
  const imgLen = imgRows * rowLen;
  const lead = top * rowLen + left;
  const len = lead + n * imgLen;
  const pre = lead;                                                     // views start at most `lead` before row 0
  const post = Math.max(0, (kh - 1 - top) * rowLen + (kw - 1 - left));  // and end at most this far past the last row
  // Allocate everything first: an allocation can grow (and detach) the heap.
  const xGrid = backend.makeOutput([pre + ci * len + post], 'float32');
  const dyGrid = backend.makeOutput([1, len, co], 'float32');
  const out = backend.makeOutput([kh, kw, ci, co], 'float32');
  try {
    const xt = f32View(backend, xGrid);
    xt.fill(0);
    toChannelMajorGrid(f32View(backend, x), xt, n, h, w, ci, pre + lead, imgLen, rowLen, len);
    const dya = f32View(backend, dy), dg = f32View(backend, dyGrid);
    dg.fill(0);
    const runLen = wo * co;
    for (let b = 0; b < n; b++) {
      for (let p = 0; p < ho; p++) {
        const src = (b * ho + p) * runLen;
        dg.set(dya.subarray(src, src + runLen), (lead + b * imgLen + p * rowLen) * co);
      }
    }
    const xBase = memoryOffset(backend, xGrid) + 4 * pre;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const off = (i - top) * rowLen + (j - left);
        const view = heapView(backend, xBase + 4 * off, [1, ci, len]);
        let r: tf.TensorInfo;
        try {
          r = xnnMatMul(backend, view, dyGrid);
        } finally {
          dropHeapView(backend, view);
        }
        f32View(backend, out).set(f32View(backend, r), (i * kw + j) * ci * co);
        disposeInfo(backend, r);
      }
    }
  } catch (e) {
    disposeInfo(backend, out);
    throw e;
  } finally {
    disposeInfo(backend, xGrid);
    disposeInfo(backend, dyGrid);
  }
  return out;
}

/**
 * xt[base + c·len + b·imgLen + r·rowLen + q] = xa[((b·h + r)·w + q)·ci + c]: NHWC → channel-major grid.
 * Channels in blocks of 8 (fewer concurrent write streams: 64 rows of ~150 KB apart thrash the TLB),
 * 4 at a time in the inner loop. ≈1–1.5 ns per element.
 */
export function toChannelMajorGrid(xa: Float32Array, xt: Float32Array, n: number, h: number, w: number, ci: number,
  base: number, imgLen: number, rowLen: number, len: number): void {
  const c4 = ci - (ci % 4);
  for (let c0 = 0; c0 < ci; c0 += 8) {
    const cEnd4 = Math.min(c0 + 8, c4), cEnd = Math.min(c0 + 8, ci);
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < h; r++) {
        const src = (b * h + r) * w * ci, dst = base + b * imgLen + r * rowLen;
        let c = c0;
        for (; c < cEnd4; c += 4) {
          const d0 = dst + c * len, d1 = d0 + len, d2 = d1 + len, d3 = d2 + len;
          for (let q = 0, s = src + c; q < w; q++, s += ci) {
            xt[d0 + q] = xa[s]; xt[d1 + q] = xa[s + 1]; xt[d2 + q] = xa[s + 2]; xt[d3 + q] = xa[s + 3];
          }
        }
        for (; c < cEnd; c++) {
          const d = dst + c * len;
          for (let q = 0, s = src + c; q < w; q++, s += ci) xt[d + q] = xa[s];
        }
      }
    }
  }
}
