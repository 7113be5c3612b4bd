/**
 * The latent codec (model.space "latent"): a trained autoencoder's encoder means scaled to unit variance, and the
 * decoder every sampler decodes through. After the autoencoder unit has trained, the scale 1/std of the encoder means
 * over the whole training set is measured once and stored in its final checkpoint (`latentScale`): the diffusion units
 * train on mean × scale, as in latent diffusion, and everything they produce is decoded from latent / scale.
 * See docs/method.md, "Latent space".
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data';
import { Autoencoder, GROUPS } from '../nn/autoencoder';
import type { LatentCodec } from './samplers';

/** Images per encoder/decoder call at inference (bounds the activations' memory). */
const CHUNK = 64;

/** Runs `fn` over n examples in chunks of CHUNK: inputs of `inSize` values each, outputs of `outSize`. */
export async function chunked(
  x: Float32Array,
  n: number,
  inShape: number[],
  outSize: number,
  fn: (t: tf.Tensor) => tf.Tensor,
): Promise<Float32Array> {
  const inSize = inShape.reduce((a, v) => a * v, 1);
  if (x.length !== n * inSize)
    throw new Error(`autoencoder: expected ${n} × [${inShape.join(', ')}] = ${n * inSize} values, got ${x.length}`);
  const out = new Float32Array(n * outSize);
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK);
    const y = tf.tidy(() => fn(tf.tensor(x.subarray(s * inSize, e * inSize), [e - s, ...inShape])));
    try {
      out.set((await y.data()) as Float32Array, s * outSize);
    } finally {
      y.dispose();
    }
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** The unscaled encoder means of n images. */
export function encodeMeans(ae: Autoencoder, x: Float32Array, n: number): Promise<Float32Array> {
  const zSize = ae.latentShape.reduce((a, v) => a * v, 1);
  return chunked(x, n, ae.imageShape, zSize, (t) => {
    const { mean, logvar } = ae.moments(t);
    logvar.dispose();
    return mean;
  });
}

/** 1 / std of every value of the encoder means over `data` (float64 sums; as latent diffusion's scale factor). */
export async function measureLatentScale(ae: Autoencoder, data: Pick<Dataset, 'x' | 'n'>): Promise<number> {
  const z = await encodeMeans(ae, data.x, data.n);
  let s = 0;
  for (const v of z) s += v;
  const mu = s / z.length;
  let ss = 0;
  for (const v of z) ss += (v - mu) * (v - mu);
  const std = Math.sqrt(ss / Math.max(1, z.length - 1));
  if (!(std > 0) || !Number.isFinite(std))
    throw new Error(
      `autoencoder: the encoder means have standard deviation ${std} on the training data; the latent scale cannot be measured`,
    );
  return 1 / std;
}

/** The inference codec of a trained autoencoder (it takes ownership of `ae`). */
export function makeCodec(ae: Autoencoder, scale: number): LatentCodec {
  const imageSize = ae.imageShape.reduce((a, v) => a * v, 1);
  return {
    imageShape: ae.imageShape,
    latentShape: ae.latentShape,
    scale,
    encodeFlops: ae.encodeFlops,
    decodeFlops: ae.decodeFlops,
    encode: async (x, n) => {
      const z = await encodeMeans(ae, x, n);
      for (let i = 0; i < z.length; i++) z[i] *= scale;
      return z;
    },
    decode: (z, n) => chunked(z, n, ae.latentShape, imageSize, (t) => ae.decode(tf.div(t, scale))),
    decoder: {
      channels: ae.channels,
      groups: GROUPS,
      params: () => ae.params.list().filter((q) => q.name.startsWith('dec')),
    },
    dispose: () => ae.dispose(),
  };
}

/** The training set as the diffusion units see it: the scaled encoder means, computed once. */
export async function encodeDataset(codec: LatentCodec, data: Dataset): Promise<Dataset> {
  const [h, w, c] = codec.latentShape;
  return {
    ...data,
    x: await codec.encode(data.x, data.n),
    shape: codec.latentShape.slice(),
    source: `${data.source}; encoded to ${h}×${w}×${c} latents (scale ${codec.scale.toPrecision(4)})`,
  };
}
