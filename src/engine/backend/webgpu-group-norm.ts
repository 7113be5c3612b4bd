/**
 * GroupNorm (NHWC) and its gradient as WGSL kernels on the webgpu backend: 3 dispatches forward (group means, group
 * rstd, the affine pass) and 4 backward (per-channel sums of dy and dy·x per sample, dβ, dγ, dx), instead of the ~12 and
 * ~25 elementwise and reduction kernels of the composite ops. Same formulas as the fused cpu/wasm kernels of
 * group-norm.ts (the kernel names are shared, so `groupNorm` picks these up on webgpu):
 *
 *   mean, rstd per (sample, group);  y = (x − mean)·rstd·γ + β
 *   S1[b,k] = Σ_p dy,  S2[b,k] = Σ_p dy·x;  dβ[k] = Σ_b S1;  dγ[k] = Σ_b rstd·(S2 − mean·S1)
 *   A = mean_g(γ·S1), B = mean_g(γ·dγ_b);  dx = rstd·γ·dy − rstd²·B·x + rstd·(rstd·mean·B − A)
 *
 * The SiLU after a GroupNorm (every one in the U-Net but attention's) is fused into the same passes: the affine pass
 * writes z·σ(z), and the backward passes read dz = dy·(σ(z) + z·σ(z)(1 − σ(z))) in place of dy, with z recomputed.
 * That removes SiLU's own 2 forward and ~5 backward dispatches per call (`npm run bench` counts them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM, GROUP_NORM_GRAD, registerFusedSilu } from './group-norm';

import { FlatProgram, Uniform, WebGpuBackendLike, WG } from './webgpu-program';

const UNIFORMS = 'hw : i32, c : i32, cg : i32, groups : i32, n : i32, eps : f32,';

/** Workgroup sum of one value per thread (all 64 threads must call it). */
const WG_SUM = `
  var<workgroup> red : array<f32, ${WG}>;
  fn wgSum(v : f32) -> f32 {
    red[localId.x] = v;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
      if (localId.x < s) { red[localId.x] = red[localId.x] + red[localId.x + s]; }
      workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
  }`;

/** A workgroup's (sample, group): o = b·groups + g, its m values start at `base` (then every c, cg at a time). */
const GROUP_OF_WORKGROUP = `
    let o = index / ${WG};
    let ok = o < uniforms.n * uniforms.groups;
    let b = o / uniforms.groups;
    let g = o - b * uniforms.groups;
    let m = uniforms.hw * uniforms.cg;
    let base = b * uniforms.hw * uniforms.c + g * uniforms.cg;`;

// One workgroup per (sample, group): its mean over the group's pixels and channels.
const MEAN = `${WG_SUM}
  fn main(index : i32) {
    ${GROUP_OF_WORKGROUP}
    var s = 0.0;
    for (var k = i32(localId.x); ok && k < m; k = k + ${WG}) {
      let p = k / uniforms.cg;
      s = s + x[base + p * uniforms.c + (k - p * uniforms.cg)];
    }
    let total = wgSum(s);
    if (ok && localId.x == 0u) { setOutputAtIndex(o, total / f32(m)); }
  }`;

// The same groups: rstd = 1 / sqrt(Σ (x − mean)² / m + eps), two-pass (no cancellation).
const RSTD = `${WG_SUM}
  fn main(index : i32) {
    ${GROUP_OF_WORKGROUP}
    var mu = 0.0;
    if (ok) { mu = mean[o]; }
    var s = 0.0;
    for (var k = i32(localId.x); ok && k < m; k = k + ${WG}) {
      let p = k / uniforms.cg;
      let d = x[base + p * uniforms.c + (k - p * uniforms.cg)] - mu;
      s = s + d * d;
    }
    let total = wgSum(s);
    if (ok && localId.x == 0u) { setOutputAtIndex(o, 1.0 / sqrt(total / f32(m) + uniforms.eps)); }
  }`;

/** The affine pass, with SiLU (z·σ(z)) fused in when `silu`. */
const apply = (silu: boolean) => `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let k = index % uniforms.c;
      let bg = (index / (uniforms.hw * uniforms.c)) * uniforms.groups + k / uniforms.cg;
      let z = (x[index] - mean[bg]) * rstd[bg] * gamma[k] + beta[k];
      setOutputAtIndex(index, ${silu ? 'z / (1.0 + exp(-z))' : 'z'});
    }
  }`;

/**
 * The gradient reaching the GroupNorm's output z at element i (channel k, sample-group bg): dy itself, or with SiLU
 * fused, dy·(σ(z) + z·σ(z)·(1 − σ(z))) with z recomputed from x exactly as the forward pass computed it.
 */
const gradAtZ = (silu: boolean) =>
  silu
    ? `
  fn dz(i : i32, k : i32, bg : i32) -> f32 {
    let z = (x[i] - mean[bg]) * rstd[bg] * gamma[k] + beta[k];
    let s = 1.0 / (1.0 + exp(-z));
    return dy[i] * s * (1.0 + z * (1.0 - s));
  }`
    : `
  fn dz(i : i32, k : i32, bg : i32) -> f32 { return dy[i]; }`;

// One workgroup per (sample, channel): S1 = Σ dz and S2 = Σ dz·x over the pixels, at 2·o and 2·o + 1.
const sums = (silu: boolean) => `${WG_SUM}${gradAtZ(silu)}
  fn main(index : i32) {
    let o = index / ${WG};
    let ok = o < uniforms.n * uniforms.c;
    let b = o / uniforms.c;
    let k = o - b * uniforms.c;
    let bg = b * uniforms.groups + k / uniforms.cg;
    let base = b * uniforms.hw * uniforms.c + k;
    var s1 = 0.0;
    var s2 = 0.0;
    for (var p = i32(localId.x); ok && p < uniforms.hw; p = p + ${WG}) {
      let i = base + p * uniforms.c;
      let d = dz(i, k, bg);
      s1 = s1 + d;
      s2 = s2 + d * x[i];
    }
    let t1 = wgSum(s1);
    let t2 = wgSum(s2);
    if (ok && localId.x == 0u) {
      setOutputAtIndex(2 * o, t1);
      setOutputAtIndex(2 * o + 1, t2);
    }
  }`;

const DBETA = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      var s = 0.0;
      for (var b = 0; b < uniforms.n; b = b + 1) { s = s + sums[2 * (b * uniforms.c + index)]; }
      setOutputAtIndex(index, s);
    }
  }`;

const DGAMMA = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let g = index / uniforms.cg;
      var s = 0.0;
      for (var b = 0; b < uniforms.n; b = b + 1) {
        let j = 2 * (b * uniforms.c + index);
        let bg = b * uniforms.groups + g;
        s = s + rstd[bg] * (sums[j + 1] - mean[bg] * sums[j]);
      }
      setOutputAtIndex(index, s);
    }
  }`;

const dxCode = (silu: boolean) => `${gradAtZ(silu)}
  fn main(index : i32) {
    if (index < uniforms.size) {
      let k = index % uniforms.c;
      let b = index / (uniforms.hw * uniforms.c);
      let g = k / uniforms.cg;
      let bg = b * uniforms.groups + g;
      let mu = mean[bg];
      let r = rstd[bg];
      var a = 0.0;
      var bb = 0.0;
      for (var j = 0; j < uniforms.cg; j = j + 1) {
        let kk = g * uniforms.cg + j;
        let t = 2 * (b * uniforms.c + kk);
        a = a + gamma[kk] * sums[t];
        bb = bb + gamma[kk] * r * (sums[t + 1] - mu * sums[t]);
      }
      let m = f32(uniforms.hw * uniforms.cg);
      a = a / m;
      bb = bb / m;
      setOutputAtIndex(index, r * gamma[k] * dz(index, k, bg) - r * r * bb * x[index] + r * (r * mu * bb - a));
    }
  }`;

function uniforms(x: tf.TensorInfo, groups: number, eps: number): Uniform[] {
  if (x.shape.length !== 4) throw new Error(`groupNorm expects NHWC rank-4 input, got shape ${x.shape}`);
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels not divisible by ${groups} groups`);
  const i = (v: number): Uniform => ({ type: 'int32', data: [v] });
  return [i(h * w), i(c), i(c / groups), i(groups), i(n), { type: 'float32', data: [eps] }];
}

let registered = false;

/** Registers GroupNorm and its gradient for 'webgpu' (idempotent), with SiLU fusable into both. */
export function registerWebGpuGroupNormKernels(): void {
  if (registered) return;
  registered = true;
  registerFusedSilu('webgpu');
  tf.registerKernel({
    kernelName: GROUP_NORM,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as WebGpuBackendLike;
      const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
      const { groups, eps, silu } = attrs as unknown as { groups: number; eps: number; silu?: boolean };
      const u = uniforms(x, groups, eps);
      const n = x.shape[0];
      const mean = b.runWebGPUProgram(
        new FlatProgram('dd_gn_mean', [n, groups], ['x'], UNIFORMS, MEAN, n * groups * WG),
        [x],
        'float32',
        u,
      );
      const rstd = b.runWebGPUProgram(
        new FlatProgram('dd_gn_rstd', [n, groups], ['x', 'mean'], UNIFORMS, RSTD, n * groups * WG),
        [x, mean],
        'float32',
        u,
      );
      const y = b.runWebGPUProgram(
        new FlatProgram(
          `dd_gn_apply${silu ? '_silu' : ''}`,
          x.shape,
          ['x', 'mean', 'rstd', 'gamma', 'beta'],
          UNIFORMS,
          apply(!!silu),
        ),
        [x, mean, rstd, gamma, beta],
        'float32',
        u,
      );
      return [y, mean, rstd];
    },
  });
  tf.registerKernel({
    kernelName: GROUP_NORM_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as WebGpuBackendLike;
      const { x, gamma, beta, mean, rstd, dy } = inputs as Record<string, tf.TensorInfo>;
      const { groups, eps, silu } = attrs as unknown as { groups: number; eps: number; silu?: boolean };
      const u = uniforms(x, groups, eps);
      const [n, , , c] = x.shape;
      // With SiLU fused, the sums and dx recompute z from x, mean, rstd, γ and β.
      const zIn = silu
        ? { names: ['mean', 'rstd', 'gamma', 'beta'], tensors: [mean, rstd, gamma, beta] }
        : { names: [], tensors: [] };
      const tag = silu ? '_silu' : '';
      const s12 = b.runWebGPUProgram(
        new FlatProgram(`dd_gn_sums${tag}`, [n * c * 2], ['x', 'dy', ...zIn.names], UNIFORMS, sums(!!silu), n * c * WG),
        [x, dy, ...zIn.tensors],
        'float32',
        u,
      );
      const dbeta = b.runWebGPUProgram(
        new FlatProgram('dd_gn_dbeta', [c], ['sums'], UNIFORMS, DBETA),
        [s12],
        'float32',
        u,
      );
      const dgamma = b.runWebGPUProgram(
        new FlatProgram('dd_gn_dgamma', [c], ['sums', 'mean', 'rstd'], UNIFORMS, DGAMMA),
        [s12, mean, rstd],
        'float32',
        u,
      );
      const dx = b.runWebGPUProgram(
        new FlatProgram(
          `dd_gn_dx${tag}`,
          x.shape,
          ['x', 'dy', 'sums', 'mean', 'rstd', 'gamma', ...(silu ? ['beta'] : [])],
          UNIFORMS,
          dxCode(!!silu),
        ),
        [x, dy, s12, mean, rstd, gamma, ...(silu ? [beta] : [])],
        'float32',
        u,
      );
      b.disposeData(s12.dataId);
      return [dx, dgamma, dbeta];
    },
  });
}
