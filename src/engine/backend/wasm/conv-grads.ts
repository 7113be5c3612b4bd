/**
 * Convolution gradients for the wasm backend, expressed as forward convolutions that
 * tfjs-backend-wasm runs through XNNPACK (its fastest code path, multi-threaded in the
 * threaded build).
 *
 * Notation: x [N,H,W,Ci], filter w [kh,kw,Ci,Co], dy [N,Ho,Wo,Co], stride s, padding (top,left),
 * forward y[n,p,q,o] = Σ_{i,j,c} x[n, p·sh+i-top, q·sw+j-left, c] · w[i,j,c,o].
 *
 * Filter gradient: dw[i,j,c,o] = Σ_{n,p,q} x[n, p·sh+i-top, q·sw+j-left, c] · dy[n,p,q,o]
 *   = a stride-1 convolution of x viewed as a batch of Ci single images with N "channels"
 *   (transpose to [Ci,H,W,N]) by the "filter" dy viewed as [Ho,Wo,N,Co] with dilation (sh,sw);
 *   its output [Ci,kh,kw,Co] is transposed to [kh,kw,Ci,Co].
 *
 * Input gradient: dx[n,h,w,c] = Σ dy'[n, h+top-(kh-1)+i', …] · w[kh-1-i', kw-1-j', c, o],
 *   where dy' is dy with (s-1) zeros inserted between rows/cols: a stride-1 convolution of dy'
 *   by the spatially flipped filter with in/out channels swapped, padded by (kh-1-top) on top.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WasmBackendLike } from './heap';
import { flipSwapFilterF32, zeroInsertF32 } from './layout';

/** Runs a JS layout kernel on the active (wasm) backend and wraps its output as a Tensor owned by the current tidy. */
function jsKernel<T extends tf.Tensor>(f: (b: WasmBackendLike) => tf.TensorInfo): T {
  return tf.engine().makeTensorFromTensorInfo(f(tf.backend() as unknown as WasmBackendLike)) as T;
}
const onWasm = (t: tf.Tensor) => t.dtype === 'float32' && tf.getBackend() === 'wasm';

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Stride-1 conv2d (optionally dilated) that accepts negative padding (= cropping). */
function convWithPads(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
  dilations: [number, number],
): tf.Tensor4D {
  let xin = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, wd, c] = x.shape;
    const t0 = Math.max(0, -top),
      b0 = Math.max(0, -bottom),
      l0 = Math.max(0, -left),
      r0 = Math.max(0, -right);
    xin = tf.slice(x, [0, t0, l0, 0], [n, h - t0 - b0, wd - l0 - r0, c]);
    top = Math.max(0, top);
    bottom = Math.max(0, bottom);
    left = Math.max(0, left);
    right = Math.max(0, right);
  }
  const pad: Pads = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return tf.conv2d(xin, w, 1, pad, 'NHWC', dilations);
}

/** Inserts (sh-1) zero rows and (sw-1) zero columns between the elements of t [N,H,W,C]. */
export function zeroInsert(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  if (onWasm(t)) return jsKernel((b) => zeroInsertF32(b, t, sh, sw));
  const [n, h, w, c] = t.shape;
  const t6 = tf.reshape(t, [n, h, 1, w, 1, c]);
  const padded = tf.pad(t6, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const flat = tf.reshape(padded, [n, h * sh, w * sw, c]);
  return tf.slice(flat, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

export interface ConvGeom {
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  filterH: number;
  filterW: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
}

/**
 * Filter gradient with the roles swapped (stride 1 only): batch = Co, channels = N; input dy as
 * [Co,Ho,Wo,N] padded by (k-1), "filter" the padded x as [Hp,Wp,N,Ci]; output [Co,kh,kw,Ci] is
 * spatially flipped. XNNPACK's GEMM then has Ci output channels instead of Co, which is much faster
 * when Co is tiny (e.g. the last 64→3 conv of a network).
 */
function filterGradSwapped(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeom): tf.Tensor4D {
  const [, ho, wo] = dy.shape;
  // Rows of x that the forward conv touched: [−top, (Ho−1) + kh − 1 − top].
  const bottom = ho - 1 + g.filterH - g.padTop - g.inH;
  const right = wo - 1 + g.filterW - g.padLeft - g.inW;
  const xp = padOrCrop(x, g.padTop, bottom, g.padLeft, right); // [N,Ho+kh-1,Wo+kw-1,Ci]
  const xt = tf.transpose(xp, [1, 2, 0, 3]) as tf.Tensor4D; // [Hp,Wp,N,Ci]
  const dyt = tf.transpose(dy, [3, 1, 2, 0]) as tf.Tensor4D; // [Co,Ho,Wo,N]
  const r = tf.conv2d(dyt, xt, 1, [
    [0, 0],
    [g.filterH - 1, g.filterH - 1],
    [g.filterW - 1, g.filterW - 1],
    [0, 0],
  ]); // [Co,kh,kw,Ci]
  return tf.transpose(tf.reverse(r, [1, 2]), [1, 2, 3, 0]) as tf.Tensor4D;
}

function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const t0 = Math.max(0, -top),
    b0 = Math.max(0, -bottom),
    l0 = Math.max(0, -left),
    r0 = Math.max(0, -right);
  let y = x;
  if (t0 || b0 || l0 || r0) y = tf.slice(x, [0, t0, l0, 0], [n, h - t0 - b0, w - l0 - r0, c]);
  const pt = Math.max(0, top),
    pb = Math.max(0, bottom),
    pl = Math.max(0, left),
    pr = Math.max(0, right);
  if (pt || pb || pl || pr)
    y = tf.pad(y, [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ]);
  return y;
}

export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeom): tf.Tensor4D {
  const ci = x.shape[3],
    co = dy.shape[3];
  if (g.strideH === 1 && g.strideW === 1 && co < 8 && ci > co) return tf.tidy(() => filterGradSwapped(x, dy, g));
  return tf.tidy(() => {
    const xt = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci,H,W,N]
    const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho,Wo,N,Co]
    // Output rows: H + top + bottom - (Ho-1)·sh  must equal kh.
    const bottom = g.filterH + (g.outH - 1) * g.strideH - g.inH - g.padTop;
    const right = g.filterW + (g.outW - 1) * g.strideW - g.inW - g.padLeft;
    const r = convWithPads(xt, dyt, g.padTop, bottom, g.padLeft, right, [g.strideH, g.strideW]); // [Ci,kh,kw,Co]
    return tf.transpose(r, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

export function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeom): tf.Tensor4D {
  return tf.tidy(() => {
    const wf = onWasm(w)
      ? jsKernel<tf.Tensor4D>((b) => flipSwapFilterF32(b, w))
      : (tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D); // [kh,kw,Co,Ci]
    const dyz = zeroInsert(dy, g.strideH, g.strideW);
    const top = g.filterH - 1 - g.padTop;
    const left = g.filterW - 1 - g.padLeft;
    // Output rows: len(dy') + top + bottom - (kh-1) must equal H.
    const bottom = g.inH - dyz.shape[1] - top + g.filterH - 1;
    const right = g.inW - dyz.shape[2] - left + g.filterW - 1;
    return convWithPads(dyz, wf, top, bottom, left, right, [1, 1]);
  });
}
