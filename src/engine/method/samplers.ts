/**
 * Samplers (docs/method.md, "Samplers"): the guided teacher's DDIM (2 NFE per step: conditional and ∅ passes batched as one call),
 * and a distilled student's deterministic DDIM and stochastic sampler (1 NFE per step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { coefs, ddimStep, guide, Parameterization, predictions, renoise } from './diffusion';
import { Net } from '../nn/net';
import { Rng } from '../random/rng';
import { logSnr, Schedule } from './schedule';

export interface Denoiser {
  net: Net;
  param: Parameterization;
  schedule: Schedule;
  /** Latent-space runs: the autoencoder; `sample` then returns decoded images (see latent-codec.ts). */
  codec?: LatentCodec;
}

/** A latent-space run's autoencoder at inference: images in [-1, 1] ↔ scaled latents (batch-major host arrays). */
export interface LatentCodec {
  /** [H, W, C] of an image and [H/f, W/f, latentChannels] of its latent. */
  imageShape: number[];
  latentShape: number[];
  /** Latents are the encoder means times this (1 / their std on the training data). */
  scale: number;
  /** FLOPs of one image's encoder and decoder forward passes. */
  encodeFlops: number;
  decodeFlops: number;
  /** n images → their scaled latents (the encoder means: no sampling at inference). */
  encode(x: Float32Array, n: number): Promise<Float32Array>;
  /** n scaled latents → images (not clipped). */
  decode(z: Float32Array, n: number): Promise<Float32Array>;
  /** The decoder alone, for `distill export`: its widths (encoder order, full size first), GroupNorm groups, parameters. */
  decoder: { channels: number[]; groups: number; params: () => { name: string; variable: tf.Variable }[] };
  dispose(): void;
}

/** Frees a denoiser's network and, in latent runs, its autoencoder. */
export function disposeDenoiser(d: Denoiser): void {
  d.net.dispose();
  d.codec?.dispose();
}

/** The shape of what `sample` returns for one example: the decoded image in latent runs, else the network's example. */
export function outputShape(d: Denoiser): number[] {
  return d.codec ? d.codec.imageShape : d.net.exampleShape;
}

/** (x̂, ε̂) of the network at per-example λ, classes and (students) w. */
export function denoise(
  d: Denoiser,
  { z, lambdas, classes, w }: { z: tf.Tensor; lambdas: Float32Array; classes: Int32Array; w?: Float32Array },
): { x: tf.Tensor; eps: tf.Tensor } {
  return tf.tidy(() => {
    const out = d.net.apply(z, lambdas, classes, w);
    return predictions({ out, z, c: coefs(lambdas, z.rank), param: d.param });
  });
}

/** The teacher's guided x̂^w: one network call on [z; z] with classes [c; ∅]. */
export function guidedX(
  d: Denoiser,
  { z, lambdas, classes, w }: { z: tf.Tensor; lambdas: Float32Array; classes: Int32Array; w: Float32Array },
): tf.Tensor {
  return tf.tidy(() => {
    const b = classes.length;
    const nullClass = d.net.numClasses;
    const cls2 = new Int32Array(2 * b);
    cls2.set(classes);
    cls2.fill(nullClass, b);
    const lam2 = new Float32Array(2 * b);
    lam2.set(lambdas);
    lam2.set(lambdas, b);
    const { x } = denoise(d, { z: tf.concat([z, z], 0), lambdas: lam2, classes: cls2 });
    const [cond, uncond] = tf.split(x, 2, 0);
    return guide({ cond, uncond, w: tf.tensor(w, [b, ...new Array(z.rank - 1).fill(1)]) });
  });
}

/** x̂ for a sampler: the guided teacher (2 NFE) or a w-conditioned student (1 NFE). */
export function xPrediction(
  d: Denoiser,
  args: { z: tf.Tensor; lambdas: Float32Array; classes: Int32Array; w: Float32Array },
): tf.Tensor {
  if (d.net.withW) {
    return tf.tidy(() => denoise(d, args).x);
  }
  return guidedX(d, args);
}

export interface SampleRequest {
  classes: Int32Array;
  w: Float32Array;
  steps: number;
  sampler: 'ddim' | 'stochastic';
  seed: number;
  onStep?: (done: number, total: number) => void;
  /** Checked between steps: returns true to abandon sampling. */
  cancelled?: () => boolean;
}

export class SamplingCancelled extends Error {
  constructor() {
    super('sampling cancelled');
  }
}

/**
 * Draws one sample per (class, w) pair; returns values (float32, not clipped) and NFE per sample. With a codec
 * (latent runs) the values are the decoded images.
 */
export async function sample(d: Denoiser, req: SampleRequest): Promise<{ x: Float32Array; nfe: number }> {
  const b = req.classes.length;
  if (req.w.length !== b) throw new Error(`sample: ${b} classes but ${req.w.length} guidance weights`);
  const shape = [b, ...d.net.exampleShape];
  const size = shape.reduce((a, c) => a * c, 1);
  const rng = new Rng(req.seed, 'sample');
  const n = req.steps;
  const nfePerStep = d.net.withW ? 1 : 2;
  const lam = (t: number) => logSnr(t, d.schedule);
  const fill = (v: number) => new Float32Array(b).fill(v);
  let z = tf.tensor(rng.normals(size), shape);
  try {
    for (let i = n; i >= 1; i--) {
      if (req.cancelled?.()) throw new SamplingCancelled();
      const t = i / n;
      const next = tf.tidy(() => {
        const x = xPrediction(d, { z, lambdas: fill(lam(t)), classes: req.classes, w: req.w });
        if (i === 1) return x; // the last step returns x̂
        if (req.sampler === 'ddim' || i === 1) {
          return ddimStep({ z, x, lambdaT: fill(lam(t)), lambdaS: fill(lam((i - 1) / n)) });
        }
        // stochastic: DDIM step of length 2/N to k, then re-noise forward to s = t − 1/N
        const k = (i - 2) / n;
        const s = (i - 1) / n;
        const zK = ddimStep({ z, x, lambdaT: fill(lam(t)), lambdaS: fill(lam(k)), toZero: new Array(b).fill(k === 0) });
        return renoise({ zK, eps: tf.tensor(rng.normals(size), shape), lambdaK: lam(k), lambdaS: lam(s) });
      });
      z.dispose();
      z = next;
      req.onStep?.(n - i + 1, n);
      await new Promise((r) => setImmediate(r));
    }
    const x = (await z.data()) as Float32Array;
    return { x: d.codec ? await d.codec.decode(x, b) : x, nfe: n * nfePerStep };
  } finally {
    z.dispose();
  }
}
