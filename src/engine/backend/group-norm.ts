/**
 * Fused GroupNorm for NHWC tensors, with its gradient, as two kernels written in plain JS over the
 * tensor memory of the 'wasm' and 'cpu' backends (an optional SiLU after it uses the backend's own
 * vectorised Sigmoid/Multiply kernels).
 *
 * Built from tfjs ops, GroupNorm + SiLU costs ~20 elementwise/reduction kernels per call forward
 * and backward (moments, broadcasts and their Sum-reductions in the gradient); here it is 2 passes
 * forward and 2 passes backward. On other backends (native TensorFlow) `groupNorm` falls back to
 * the composite ops, so model code can call it unconditionally.
 *
 *   y = act( (x − mean_g) · rsqrt(var_g + eps) · gamma + beta ),  act = SiLU (z·σ(z)) or identity,
 * mean_g / var_g over (H, W, channels of group g) per sample.
 */
import * as tf from '@tensorflow/tfjs-core';

export const GROUP_NORM = 'DDGroupNorm';
export const GROUP_NORM_GRAD = 'DDGroupNormGrad';

/**
 * f32: a view of a tensor's memory. out: allocates an output tensor. On wasm an allocation can grow
 * (and so detach) the heap, so kernels allocate all outputs first and take views afterwards.
 */
interface Views {
  f32(t: tf.TensorInfo): Float32Array;
  out(shape: number[]): tf.TensorInfo;
}

function wasmViews(backend: unknown): Views {
  const b = backend as {
    wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
    dataIdMap: { get(id: object): { memoryOffset: number } };
    makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  };
  const view = (t: tf.TensorInfo) => {
    const buffer = b.wasm.wasmMemory ? b.wasm.wasmMemory.buffer : b.wasm.HEAPU8.buffer;
    return new Float32Array(buffer, b.dataIdMap.get(t.dataId).memoryOffset, tf.util.sizeFromShape(t.shape));
  };
  return {
    f32: view,
    out: (shape) => b.makeOutput(shape, 'float32'),
  };
}

function cpuViews(backend: unknown): Views {
  const b = backend as {
    data: { get(id: object): { values: unknown } };
    makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  };
  return {
    f32: (t) => b.data.get(t.dataId).values as Float32Array,
    out: (shape) => b.makeTensorInfo(shape, 'float32', new Float32Array(tf.util.sizeFromShape(shape))),
  };
}

function checkShapes(x: tf.TensorInfo, groups: number): [number, number, number, number] {
  if (x.shape.length !== 4) throw new Error(`groupNorm expects NHWC rank-4 input, got shape ${x.shape}`);
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels not divisible by ${groups} groups`);
  return [n, h * w, c, c / groups];
}

/**
 * Per-channel sums over the hw pixels of one sample (rows of c floats starting at `base`), 4 channels at a
 * time so the accumulators stay in registers: s1[k] = Σ a[p,k], s2[k] = Σ a[p,k]·b[p,k].
 */
function channelSums(
  a: Float32Array,
  b: Float32Array,
  base: number,
  hw: number,
  c: number,
  s1: Float64Array,
  s2: Float64Array,
): void {
  const end = base + hw * c;
  let k = 0;
  for (; k + 4 <= c; k += 4) {
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0,
      b0 = 0,
      b1 = 0,
      b2 = 0,
      b3 = 0;
    for (let o = base + k; o < end; o += c) {
      const u0 = a[o],
        u1 = a[o + 1],
        u2 = a[o + 2],
        u3 = a[o + 3];
      a0 += u0;
      a1 += u1;
      a2 += u2;
      a3 += u3;
      b0 += u0 * b[o];
      b1 += u1 * b[o + 1];
      b2 += u2 * b[o + 2];
      b3 += u3 * b[o + 3];
    }
    s1[k] = a0;
    s1[k + 1] = a1;
    s1[k + 2] = a2;
    s1[k + 3] = a3;
    s2[k] = b0;
    s2[k + 1] = b1;
    s2[k + 2] = b2;
    s2[k + 3] = b3;
  }
  for (; k < c; k++) {
    let a0 = 0,
      b0 = 0;
    for (let o = base + k; o < end; o += c) {
      const u = a[o];
      a0 += u;
      b0 += u * b[o];
    }
    s1[k] = a0;
    s2[k] = b0;
  }
}

/** out[p,k] = a[p,k]·ca[k] + b[p,k]·cb[k] + cc[k] over one sample (b and cb may be null), 4 channels at a time. */
function channelAffine(
  out: Float32Array,
  a: Float32Array,
  ca: Float64Array,
  b: Float32Array | null,
  cb: Float64Array | null,
  cc: Float64Array,
  base: number,
  hw: number,
  c: number,
): void {
  const end = base + hw * c;
  let k = 0;
  if (b && cb) {
    for (; k + 4 <= c; k += 4) {
      const a0 = ca[k],
        a1 = ca[k + 1],
        a2 = ca[k + 2],
        a3 = ca[k + 3];
      const b0 = cb[k],
        b1 = cb[k + 1],
        b2 = cb[k + 2],
        b3 = cb[k + 3];
      const c0 = cc[k],
        c1 = cc[k + 1],
        c2 = cc[k + 2],
        c3 = cc[k + 3];
      for (let o = base + k; o < end; o += c) {
        out[o] = a[o] * a0 + b[o] * b0 + c0;
        out[o + 1] = a[o + 1] * a1 + b[o + 1] * b1 + c1;
        out[o + 2] = a[o + 2] * a2 + b[o + 2] * b2 + c2;
        out[o + 3] = a[o + 3] * a3 + b[o + 3] * b3 + c3;
      }
    }
    for (; k < c; k++) {
      const a0 = ca[k],
        b0 = cb[k],
        c0 = cc[k];
      for (let o = base + k; o < end; o += c) out[o] = a[o] * a0 + b[o] * b0 + c0;
    }
  } else {
    for (; k + 4 <= c; k += 4) {
      const a0 = ca[k],
        a1 = ca[k + 1],
        a2 = ca[k + 2],
        a3 = ca[k + 3];
      const c0 = cc[k],
        c1 = cc[k + 1],
        c2 = cc[k + 2],
        c3 = cc[k + 3];
      for (let o = base + k; o < end; o += c) {
        out[o] = a[o] * a0 + c0;
        out[o + 1] = a[o + 1] * a1 + c1;
        out[o + 2] = a[o + 2] * a2 + c2;
        out[o + 3] = a[o + 3] * a3 + c3;
      }
    }
    for (; k < c; k++) {
      const a0 = ca[k],
        c0 = cc[k];
      for (let o = base + k; o < end; o += c) out[o] = a[o] * a0 + c0;
    }
  }
}

function forward(views: Views, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo[] {
  const groups = attrs.groups as number,
    eps = attrs.eps as number;
  const xi = inputs.x as tf.TensorInfo;
  const [n, hw, c, cg] = checkShapes(xi, groups);
  const yInfo = views.out(xi.shape),
    meanInfo = views.out([n, groups]),
    rstdInfo = views.out([n, groups]);
  const x = views.f32(xi),
    gamma = views.f32(inputs.gamma as tf.TensorInfo),
    beta = views.f32(inputs.beta as tf.TensorInfo);
  const y = views.f32(yInfo),
    meanOut = views.f32(meanInfo),
    rstdOut = views.f32(rstdInfo);
  const s1 = new Float64Array(c),
    s2 = new Float64Array(c);
  const scale = new Float64Array(c),
    shift = new Float64Array(c);
  const m = hw * cg;
  for (let b = 0; b < n; b++) {
    const base = b * hw * c;
    channelSums(x, x, base, hw, c, s1, s2);
    for (let g = 0; g < groups; g++) {
      let sum = 0,
        sq = 0;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        sum += s1[k];
        sq += s2[k];
      }
      const mean = sum / m;
      const variance = Math.max(0, sq / m - mean * mean);
      meanOut[b * groups + g] = mean;
      rstdOut[b * groups + g] = 1 / Math.sqrt(variance + eps);
      // y = x·scale + shift with scale = rstd·gamma, shift = beta − mean·rstd·gamma (rstd, mean as stored in float32)
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        scale[k] = rstdOut[b * groups + g] * gamma[k];
        shift[k] = beta[k] - meanOut[b * groups + g] * scale[k];
      }
    }
    channelAffine(y, x, scale, null, null, shift, base, hw, c);
  }
  return [yInfo, meanInfo, rstdInfo];
}

/**
 * With xhat = (x − mean)·rstd per (sample, group) and per-channel sums over the sample's pixels
 * S1[k] = Σ dy, S2[k] = Σ dy·x:
 *   dbeta[k] += S1[k],  dgamma[k] += Σ dy·xhat = rstd·(S2[k] − mean·S1[k]),
 *   A = mean_g(dy·gamma), B = mean_g(dy·gamma·xhat)  (means over the group's pixels and channels),
 *   dx = rstd·(gamma·dy − A − xhat·B) = (rstd·gamma)·dy + (−rstd²·B)·x + rstd·(rstd·mean·B − A),
 * so one pass of sums and one affine pass per sample.
 */
function backward(views: Views, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo[] {
  const groups = attrs.groups as number;
  const xi = inputs.x as tf.TensorInfo;
  const [n, hw, c, cg] = checkShapes(xi, groups);
  const dxInfo = views.out(xi.shape),
    dgInfo = views.out([c]),
    dbInfo = views.out([c]);
  const x = views.f32(xi),
    dy = views.f32(inputs.dy as tf.TensorInfo);
  const gamma = views.f32(inputs.gamma as tf.TensorInfo);
  const meanA = views.f32(inputs.mean as tf.TensorInfo),
    rstdA = views.f32(inputs.rstd as tf.TensorInfo);
  const dx = views.f32(dxInfo),
    dgammaOut = views.f32(dgInfo),
    dbetaOut = views.f32(dbInfo);
  const dgamma = new Float64Array(c),
    dbeta = new Float64Array(c);
  const s1 = new Float64Array(c),
    s2 = new Float64Array(c);
  const ca = new Float64Array(c),
    cb = new Float64Array(c),
    cc = new Float64Array(c);
  const m = hw * cg;
  for (let b = 0; b < n; b++) {
    const base = b * hw * c;
    channelSums(dy, x, base, hw, c, s1, s2);
    for (let g = 0; g < groups; g++) {
      const mean = meanA[b * groups + g],
        rstd = rstdA[b * groups + g];
      let A = 0,
        B = 0;
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        const dgk = rstd * (s2[k] - mean * s1[k]);
        dbeta[k] += s1[k];
        dgamma[k] += dgk;
        A += gamma[k] * s1[k];
        B += gamma[k] * dgk;
      }
      A /= m;
      B /= m;
      const bx = -rstd * rstd * B,
        c0 = rstd * (rstd * mean * B - A);
      for (let k = g * cg; k < (g + 1) * cg; k++) {
        ca[k] = rstd * gamma[k];
        cb[k] = bx;
        cc[k] = c0;
      }
    }
    channelAffine(dx, dy, ca, x, cb, cc, base, hw, c);
  }
  dgammaOut.set(dgamma);
  dbetaOut.set(dbeta);
  return [dxInfo, dgInfo, dbInfo];
}

let registered = false;
/** Registers the fused kernels for 'wasm' and 'cpu'. Idempotent. */
export function registerGroupNormKernels(): void {
  if (registered) return;
  for (const [backendName, views] of [
    ['wasm', wasmViews],
    ['cpu', cpuViews],
  ] as const) {
    tf.registerKernel({
      kernelName: GROUP_NORM,
      backendName,
      kernelFunc: (({
        inputs,
        attrs,
        backend,
      }: {
        inputs: tf.NamedTensorInfoMap;
        attrs: tf.NamedAttrMap;
        backend: unknown;
      }) => forward(views(backend), inputs, attrs)) as unknown as tf.KernelFunc,
    });
    tf.registerKernel({
      kernelName: GROUP_NORM_GRAD,
      backendName,
      kernelFunc: (({
        inputs,
        attrs,
        backend,
      }: {
        inputs: tf.NamedTensorInfoMap;
        attrs: tf.NamedAttrMap;
        backend: unknown;
      }) => backward(views(backend), inputs, attrs)) as unknown as tf.KernelFunc,
    });
  }
  registered = true;
}

/** Composite-op GroupNorm (+SiLU), used on backends without the fused kernels. */
export function groupNormComposite(
  x: tf.Tensor4D,
  groups: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps = 1e-5,
  silu = false,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
    const xn = tf.reshape(tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps))), [n, h, w, c]);
    const z = tf.add(tf.mul(xn, gamma), beta) as tf.Tensor4D;
    return silu ? (tf.mul(z, tf.sigmoid(z)) as tf.Tensor4D) : z;
  });
}

/** Backends whose GROUP_NORM kernels take `silu: true` and fuse the SiLU into their own passes (webgpu). */
const siluFusedOn = new Set<string>();
let siluFusion = true;
export function registerFusedSilu(backendName: string): void {
  siluFusedOn.add(backendName);
}
/** Turns the fused SiLU off and on (the bench measures both); on by default. */
export function setFusedSilu(on: boolean): void {
  siluFusion = on;
}

/**
 * GroupNorm over NHWC `x` with per-channel `gamma`/`beta` ([C]), optionally followed by SiLU: inside the kernel where
 * the backend fuses it (webgpu), else through the backend's Sigmoid/Multiply kernels.
 * Differentiable w.r.t. x, gamma and beta on every backend.
 */
export function groupNorm(
  x: tf.Tensor4D,
  groups: number,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  opts: { eps?: number; silu?: boolean } = {},
): tf.Tensor4D {
  const eps = opts.eps ?? 1e-5,
    silu = !!opts.silu;
  const backendName = tf.getBackend();
  if (tf.getKernel(GROUP_NORM, backendName) == null) return groupNormComposite(x, groups, gamma, beta, eps, silu);
  const fused = silu && siluFusion && siluFusedOn.has(backendName);
  const attrs = { groups, eps, ...(fused ? { silu: true } : {}) } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd] = tf.engine().runKernel(GROUP_NORM, { x: xx, gamma: gg, beta: bb }, attrs) as tf.Tensor[];
    save([xx, gg, bb, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sb, sm, sr] = saved;
        return tf
          .engine()
          .runKernel(GROUP_NORM_GRAD, { x: sx, gamma: sg, beta: sb, mean: sm, rstd: sr, dy }, attrs) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const z = f(x, gamma, beta) as tf.Tensor4D;
  // SiLU through the backend's vectorised Sigmoid/Multiply kernels (on wasm ≈8× faster than Math.exp in JS).
  return silu && !fused ? (tf.mul(z, tf.sigmoid(z)) as tf.Tensor4D) : z;
}
