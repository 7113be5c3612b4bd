/**
 * Named trainable parameters and the small layer functions the networks are built from (raw tfjs ops, so the same
 * code trains on every backend). Initialisation draws from the engine's seeded Rng.
 */
import * as tf from '@tensorflow/tfjs-core';
import { groupNorm as fusedGroupNorm } from '../backend/group-norm';
import { Rng } from '../random/rng';

export class Params {
  readonly vars = new Map<string, tf.Variable>();
  constructor(private readonly rng: Rng) {}

  private add(name: string, shape: number[], values: Float32Array): tf.Variable {
    if (this.vars.has(name)) throw new Error(`duplicate parameter ${name}`);
    // inside tidy: the initial-value tensor is released, the variable (kept by tidy) holds the data
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true));
    this.vars.set(name, v);
    return v;
  }

  /** Normal(0, std²) weights; std = gain/sqrt(fanIn) unless zero. */
  weight(name: string, shape: number[], fanIn: number, { zero = false, gain = 1 } = {}): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = zero ? new Float32Array(n) : this.rng.normals(n).map((x) => (x * gain) / Math.sqrt(fanIn));
    return this.add(name, shape, values);
  }

  constant(name: string, shape: number[], value: number): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.add(name, shape, new Float32Array(n).fill(value));
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`missing parameter ${name}`);
    return v;
  }

  list(): { name: string; variable: tf.Variable }[] {
    return [...this.vars.entries()].map(([name, variable]) => ({ name, variable }));
  }

  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Counts multiply-adds as the networks are built, for the FLOPs report (FLOPs = 2·MACs). */
export class FlopCounter {
  macs = 0;
}

export function denseInit(
  p: Params,
  name: string,
  nIn: number,
  nOut: number,
  opts: { zero?: boolean; gain?: number } = {},
): void {
  p.weight(`${name}.w`, [nIn, nOut], nIn, opts);
  p.constant(`${name}.b`, [nOut], 0);
}

export function dense(p: Params, name: string, x: tf.Tensor): tf.Tensor {
  return tf.add(tf.matMul(x as tf.Tensor2D, p.get(`${name}.w`) as tf.Tensor2D), p.get(`${name}.b`));
}

export function convInit(
  p: Params,
  name: string,
  k: number,
  cIn: number,
  cOut: number,
  opts: { zero?: boolean; gain?: number } = {},
): void {
  p.weight(`${name}.w`, [k, k, cIn, cOut], k * k * cIn, opts);
  p.constant(`${name}.b`, [cOut], 0);
}

export function conv(p: Params, name: string, x: tf.Tensor, stride = 1): tf.Tensor {
  return tf.add(tf.conv2d(x as tf.Tensor4D, p.get(`${name}.w`) as tf.Tensor4D, stride, 'same'), p.get(`${name}.b`));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

export function groupNormInit(p: Params, name: string, c: number): void {
  p.constant(`${name}.g`, [c], 1);
  p.constant(`${name}.b`, [c], 0);
}

/**
 * GroupNorm over NHWC with `groups` groups (eps 1e-5), then SiLU when `silu`: the fused kernel where the backend has
 * one (backend/group-norm.ts). Same values as silu(groupNorm(…)) on every backend.
 */
export function groupNorm(p: Params, name: string, x: tf.Tensor, groups: number, silu = false): tf.Tensor {
  const c = x.shape[3] as number;
  const g = Math.min(groups, c);
  if (c % g !== 0) throw new Error(`GroupNorm ${name}: ${c} channels are not divisible by ${g} groups`);
  return fusedGroupNorm(x as tf.Tensor4D, g, p.get(`${name}.g`), p.get(`${name}.b`), { silu });
}

export function layerNormInit(p: Params, name: string, c: number): void {
  p.constant(`${name}.g`, [c], 1);
  p.constant(`${name}.b`, [c], 0);
}

export function layerNorm(p: Params, name: string, x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, [x.rank - 1], true);
  return tf.add(
    tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), p.get(`${name}.g`)),
    p.get(`${name}.b`),
  );
}

/** Sinusoidal embedding of a [B] tensor of scalars into [B, dim] with frequencies 1 … maxFreq (geometric). */
/**
 * Sinusoidal features [sin(x·f), cos(x·f)] of host values (x scaled by `scale` first), f log-spaced in [1, maxFreq].
 * Computed in JavaScript in the float32 steps the cpu backend's ops take (x·scale, ·f, sin, cos), then uploaded once:
 * the angles reach ±200 rad, and GPUs' sin/cos are far less accurate (SwiftShader: ~2e-4 absolute even near 0).
 */
export function sinusoidal(x: ArrayLike<number>, dim: number, maxFreq: number, scale = 1): tf.Tensor2D {
  const half = dim / 2;
  const f32 = Math.fround;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((Math.log(maxFreq) * i) / Math.max(half - 1, 1));
  const s = f32(scale);
  const out = new Float32Array(x.length * dim);
  for (let r = 0; r < x.length; r++) {
    const v = scale === 1 ? f32(x[r]) : f32(f32(x[r]) * s);
    for (let i = 0; i < half; i++) {
      const a = f32(v * freqs[i]);
      out[r * dim + i] = Math.sin(a);
      out[r * dim + half + i] = Math.cos(a);
    }
  }
  return tf.tensor2d(out, [x.length, dim]);
}
