/**
 * The latent space's autoencoder network: a small convolutional VAE in the latent-diffusion style. The encoder maps an
 * H×W×C image in [-1, 1] to the mean and log-variance of a diagonal Gaussian over an (H/f)×(W/f)×latentChannels
 * latent; the decoder mirrors it. Training is the `autoencoder` unit's (train/autoencoder-unit.ts); the codec every
 * sampler decodes through is method/latent-codec.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv, convInit, FlopCounter, groupNorm, groupNormInit, Params } from './params';
import { Rng } from '../random/rng';

/** The autoencoder section of a config, as far as the network needs it. */
export interface AutoencoderShape {
  factor: number;
  latentChannels: number;
  channels: number[];
}

/** GroupNorm groups of every normalisation layer (the exported decoder needs it too). */
export const GROUPS = 8;

export interface Autoencoder {
  params: Params;
  /** Widths of the resolution levels, full size first. */
  channels: number[];
  withW: false;
  imageShape: number[];
  latentShape: number[];
  encodeFlops: number;
  decodeFlops: number;
  /** Images [B, H, W, C] → the posterior's mean and log-variance [B, h, w, latentChannels] (log-variance not clipped). */
  moments(x: tf.Tensor): { mean: tf.Tensor; logvar: tf.Tensor };
  /** Unscaled latents [B, h, w, latentChannels] → images [B, H, W, C]. */
  decode(z: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** [H/f, W/f, latentChannels] for an image shape; throws naming autoencoder.factor when it does not divide. */
export function latentShapeOf(ae: Pick<AutoencoderShape, 'factor' | 'latentChannels'>, imageShape: number[]): number[] {
  const [h, w] = imageShape;
  if (imageShape.length !== 3)
    throw new Error(
      `model.space: "latent" needs image data; this dataset has examples of shape [${imageShape.join(', ')}]`,
    );
  if (h % ae.factor !== 0 || w % ae.factor !== 0) {
    throw new Error(
      `autoencoder.factor: the images are ${h}×${w}, not divisible by ${ae.factor}; pick a factor that divides the image size`,
    );
  }
  return [h / ae.factor, w / ae.factor, ae.latentChannels];
}

function blockInit(p: Params, name: string, cIn: number, cOut: number, hw: number, f: FlopCounter): void {
  groupNormInit(p, `${name}.gn0`, cIn);
  convInit(p, `${name}.conv0`, 3, cIn, cOut);
  groupNormInit(p, `${name}.gn1`, cOut);
  convInit(p, `${name}.conv1`, 3, cOut, cOut, { zero: true });
  f.macs += hw * 9 * (cIn * cOut + cOut * cOut);
  if (cIn !== cOut) {
    convInit(p, `${name}.skip`, 1, cIn, cOut);
    f.macs += hw * cIn * cOut;
  }
}

function block(p: Params, name: string, x: tf.Tensor): tf.Tensor {
  const h = conv(p, `${name}.conv0`, groupNorm(p, `${name}.gn0`, x, GROUPS, true));
  const out = conv(p, `${name}.conv1`, groupNorm(p, `${name}.gn1`, h, GROUPS, true));
  return tf.add(p.vars.has(`${name}.skip.w`) ? conv(p, `${name}.skip`, x) : x, out);
}

/** Builds the autoencoder of a config for images of `imageShape` (weights drawn from the run's seed). */
export function buildAutoencoder(ae: AutoencoderShape, imageShape: number[], seed: number): Autoencoder {
  const latentShape = latentShapeOf(ae, imageShape);
  const [H, W, C] = imageShape;
  const ch = ae.channels;
  const L = ch.length - 1;
  if (2 ** L !== ae.factor)
    throw new Error(
      `autoencoder.channels: factor ${ae.factor} needs ${Math.log2(ae.factor) + 1} widths, got ${ch.length}`,
    );
  const zc = ae.latentChannels;
  const p = new Params(new Rng(seed, 'init-autoencoder'));
  const enc = new FlopCounter();
  const dec = new FlopCounter();
  const hwAt = (l: number) => (H * W) / 4 ** l;
  // encoder: full size → 1/f, then the posterior's mean and log-variance
  convInit(p, 'enc.in', 3, C, ch[0]);
  enc.macs += hwAt(0) * 9 * C * ch[0];
  let c = ch[0];
  for (let l = 0; l <= L; l++) {
    blockInit(p, `enc${l}`, c, ch[l], hwAt(l), enc);
    c = ch[l];
    if (l < L) {
      convInit(p, `enc${l}.down`, 3, c, c);
      enc.macs += hwAt(l + 1) * 9 * c * c;
    }
  }
  groupNormInit(p, 'enc.out.gn', c);
  convInit(p, 'enc.out', 3, c, 2 * zc);
  enc.macs += hwAt(L) * 9 * c * 2 * zc;
  // decoder: the mirror image
  convInit(p, 'dec.in', 3, zc, ch[L]);
  dec.macs += hwAt(L) * 9 * zc * ch[L];
  c = ch[L];
  for (let l = L; l >= 0; l--) {
    blockInit(p, `dec${l}`, c, ch[l], hwAt(l), dec);
    c = ch[l];
    if (l > 0) {
      convInit(p, `dec${l}.up`, 3, c, ch[l - 1]);
      dec.macs += hwAt(l - 1) * 9 * c * ch[l - 1];
      c = ch[l - 1];
    }
  }
  groupNormInit(p, 'dec.out.gn', c);
  convInit(p, 'dec.out', 3, c, C);
  dec.macs += hwAt(0) * 9 * c * C;
  return {
    params: p,
    channels: ch.slice(),
    withW: false,
    imageShape: [H, W, C],
    latentShape,
    encodeFlops: 2 * enc.macs,
    decodeFlops: 2 * dec.macs,
    moments(x) {
      return tf.tidy(() => {
        let h = conv(p, 'enc.in', x);
        for (let l = 0; l <= L; l++) {
          h = block(p, `enc${l}`, h);
          if (l < L) h = conv(p, `enc${l}.down`, h, 2);
        }
        const out = conv(p, 'enc.out', groupNorm(p, 'enc.out.gn', h, GROUPS, true));
        const [mean, logvar] = tf.split(out, 2, 3);
        return { mean, logvar };
      });
    },
    decode(z) {
      return tf.tidy(() => {
        let h = conv(p, 'dec.in', z);
        for (let l = L; l >= 0; l--) {
          h = block(p, `dec${l}`, h);
          if (l > 0) {
            const [, hh, ww] = h.shape;
            h = conv(p, `dec${l}.up`, tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [hh * 2, ww * 2]));
          }
        }
        return conv(p, 'dec.out', groupNorm(p, 'dec.out.gn', h, GROUPS, true));
      });
    },
    dispose: () => p.dispose(),
  };
}
