/**
 * The optimiser update in four WGSL kernels per parameter on the webgpu backend (Adam's two moments, the weight, the
 * EMA), instead of ~14 elementwise dispatches: on a GPU a small model's step is bound by dispatches, not FLOPs, and
 * the update of every parameter is most of them. Other backends keep the composite ops (same formulas).
 *
 *   g' = s·g                     s = min(1, clip / ‖g‖) (a scalar tensor: the norm never leaves the device)
 *   m₁ = β₁·m + (1 − β₁)·g'
 *   v₁ = β₂·v + (1 − β₂)·g'²
 *   w₁ = w − (lr / c₁)·m₁ / (√(v₁ / c₂) + ε)
 *   e₁ = d·e + (1 − d)·w₁
 */
import * as tf from '@tensorflow/tfjs-core';

import { FlatProgram, WebGpuBackendLike } from './webgpu-program';

/** One flat elementwise program: `inputs` of the output's shape (S: a scalar), `body` sets `r`. */
function updateProgram(shape: number[], inputs: string[], uniforms: string, body: string, key: string): FlatProgram {
  const code = `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var r : f32;
          ${body}
          setOutputAtIndex(index, r);
        }
      }`;
  return new FlatProgram(`dd_${key}`, shape, inputs, uniforms, code);
}

const KERNELS = {
  // m₁ from G, M and the clip factor S
  DDAdamM: {
    inputs: ['G', 'M', 'S'],
    uniforms: 'b1 : f32,',
    body: 'r = uniforms.b1 * getMByOutputIndex(index) + (1.0 - uniforms.b1) * (getS() * getGByOutputIndex(index));',
  },
  DDAdamV: {
    inputs: ['G', 'V', 'S'],
    uniforms: 'b2 : f32,',
    body: 'let g = getS() * getGByOutputIndex(index); r = uniforms.b2 * getVByOutputIndex(index) + (1.0 - uniforms.b2) * g * g;',
  },
  DDAdamW: {
    inputs: ['W', 'M', 'V'],
    uniforms: 'lrc1 : f32, c2 : f32, eps : f32,',
    body: 'r = getWByOutputIndex(index) - uniforms.lrc1 * getMByOutputIndex(index) / (sqrt(getVByOutputIndex(index) / uniforms.c2) + uniforms.eps);',
  },
  DDEma: {
    inputs: ['E', 'W'],
    uniforms: 'd : f32,',
    body: 'r = uniforms.d * getEByOutputIndex(index) + (1.0 - uniforms.d) * getWByOutputIndex(index);',
  },
} as const;
type KernelName = keyof typeof KERNELS;

let registered = false;

/** Registers the four kernels for 'webgpu' (idempotent). */
export function registerWebGpuAdamKernels(): void {
  if (registered) return;
  registered = true;
  for (const [name, k] of Object.entries(KERNELS) as [KernelName, (typeof KERNELS)[KernelName]][]) {
    tf.registerKernel({
      kernelName: name,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const ins = k.inputs.map((n) => (inputs as Record<string, tf.TensorInfo>)[n]);
        const program = updateProgram(ins[0].shape, [...k.inputs], k.uniforms, k.body, name);
        const values = (attrs as { values: number[] }).values;
        return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(
          program,
          ins,
          'float32',
          values.map((v) => ({ type: 'float32', data: [v] })),
        );
      },
    });
  }
}

let enabled = true;
/** Turns the fused update off (the bench measures both; results agree to float rounding). */
export function setFusedAdam(on: boolean): void {
  enabled = on;
}

function fused(): boolean {
  return enabled && tf.getBackend() === 'webgpu' && tf.getKernel('DDAdamM', 'webgpu') != null;
}

function run(name: KernelName, inputs: Record<string, tf.Tensor>, values: number[]): tf.Tensor {
  return tf
    .engine()
    .runKernel(name, inputs as unknown as tf.NamedTensorMap, { values } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** New Adam moments and weight for one parameter (call inside tf.tidy). */
export function adamUpdate(
  { g, m, v, w, scale }: { g: tf.Tensor; m: tf.Tensor; v: tf.Tensor; w: tf.Tensor; scale: tf.Scalar },
  { b1, b2, lrc1, c2, eps }: { b1: number; b2: number; lrc1: number; c2: number; eps: number },
): { m1: tf.Tensor; v1: tf.Tensor; w1: tf.Tensor } {
  if (fused()) {
    const m1 = run('DDAdamM', { G: g, M: m, S: scale }, [b1]);
    const v1 = run('DDAdamV', { G: g, V: v, S: scale }, [b2]);
    const w1 = run('DDAdamW', { W: w, M: m1, V: v1 }, [lrc1, c2, eps]);
    return { m1, v1, w1 };
  }
  const gs = tf.mul(g, scale);
  const m1 = tf.add(tf.mul(m, b1), tf.mul(gs, 1 - b1));
  const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(gs), 1 - b2));
  const w1 = tf.sub(w, tf.div(tf.mul(m1, lrc1), tf.add(tf.sqrt(tf.div(v1, c2)), eps)));
  return { m1, v1, w1 };
}

/** d·e + (1 − d)·w (call inside tf.tidy). */
export function emaUpdate(e: tf.Tensor, w: tf.Tensor, d: number): tf.Tensor {
  if (fused()) return run('DDEma', { E: e, W: w }, [d]);
  return tf.add(tf.mul(e, d), tf.mul(w, 1 - d));
}
