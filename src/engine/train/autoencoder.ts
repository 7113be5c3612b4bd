/**
 * Latent space (model.space "latent"; docs/method.md, "Latent space"): the first unit `autoencoder` and the codec every later consumer
 * decodes through.
 *
 * The autoencoder is a small convolutional VAE in the latent-diffusion style: the encoder maps an H×W×C image in
 * [-1, 1] to the mean and log-variance of a diagonal Gaussian over an (H/f)×(W/f)×latentChannels latent; training
 * samples the latent with the reparameterisation trick (z = μ + exp(½·logσ²)·ε, ε drawn from the unit's seeded Rng) and
 * minimises the squared reconstruction error plus klWeight × KL(q(z|x) ‖ N(0, I)), both summed per example (the
 * reported loss divides both by the image size: the first term is the per-value MSE). At inference the encoder mean is
 * used. After training, the scale 1/std of the encoder means over the whole training set is measured and stored in the
 * unit's final checkpoint (`latentScale`): the diffusion units train on mean × scale (unit variance, as in latent
 * diffusion), computed once for the training set, and everything they produce is decoded from latent / scale.
 *
 * Checkpoints, exact resume, loss events, grids (a row of originals over a row of reconstructions) and retention are
 * the other units' (trainer.ts); the unit is checkpoints/autoencoder, samples/autoencoder.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { AutoencoderConfig, ResolvedConfig } from '../run/config';
import { Dataset, sampleBatch } from '../data';
import { imageGridPng } from '../io/png';
import { conv, convInit, FlopCounter, groupNorm, groupNormInit, Params } from '../nn/params';
import { loadEvalWeights, Trainer } from './optimizer';
import { Rng } from '../random/rng';
import { stepFileName } from '../run/run-folder';
import type { LatentCodec } from '../method/samplers';
import { latestValidCheckpoint, resumeUnit, saveCheckpoint, StageContext, stepLoop, trainAll, TrainingDiverged, unitFinished } from './trainer';

export const AUTOENCODER_UNIT = 'autoencoder';
/** Images per encoder/decoder call at inference (bounds the activations' memory). */
const CHUNK = 64;
const GROUPS = 8;

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
export function latentShapeOf(ae: Pick<AutoencoderConfig, 'factor' | 'latentChannels'>, imageShape: number[]): number[] {
  const [h, w] = imageShape;
  if (imageShape.length !== 3) throw new Error(`model.space: "latent" needs image data; this dataset has examples of shape [${imageShape.join(', ')}]`);
  if (h % ae.factor !== 0 || w % ae.factor !== 0) {
    throw new Error(`autoencoder.factor: the images are ${h}×${w}, not divisible by ${ae.factor}; pick a factor that divides the image size`);
  }
  return [h / ae.factor, w / ae.factor, ae.latentChannels];
}

/** The shape the diffusion networks see: the latent shape in latent runs, the data's own shape otherwise. */
export function modelShape(cfg: ResolvedConfig, dataShape: number[]): number[] {
  return cfg.model.space === 'latent' ? latentShapeOf(cfg.autoencoder!, dataShape) : dataShape;
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
export function buildAutoencoder(ae: AutoencoderConfig, imageShape: number[], seed: number): Autoencoder {
  const latentShape = latentShapeOf(ae, imageShape);
  const [H, W, C] = imageShape;
  const ch = ae.channels;
  const L = ch.length - 1;
  if (2 ** L !== ae.factor) throw new Error(`autoencoder.channels: factor ${ae.factor} needs ${Math.log2(ae.factor) + 1} widths, got ${ch.length}`);
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

/**
 * The training loss of one batch: mean squared reconstruction error of the reparameterised sample plus
 * klWeight × KL(N(μ, σ²) ‖ N(0, I)) per example, both divided by the image size (see the module comment).
 */
export function autoencoderLoss(ae: Autoencoder, x: tf.Tensor, eps: tf.Tensor, klWeight: number): tf.Scalar {
  return tf.tidy(() => {
    const { mean, logvar } = ae.moments(x);
    const lv = tf.clipByValue(logvar, -30, 20);
    const z = tf.add(mean, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps));
    const rec = tf.mean(tf.square(tf.sub(ae.decode(z), x)));
    if (klWeight === 0) return rec as tf.Scalar;
    const b = x.shape[0];
    const d = ae.imageShape.reduce((a, v) => a * v, 1);
    const kl = tf.div(tf.mul(tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(lv)), tf.add(lv, 1))), 0.5), b * d);
    return tf.add(rec, tf.mul(kl, klWeight)) as tf.Scalar;
  });
}

/** Runs `fn` over n examples in chunks of CHUNK: inputs of `inSize` values each, outputs of `outSize`. */
async function chunked(x: Float32Array, n: number, inShape: number[], outSize: number, fn: (t: tf.Tensor) => tf.Tensor): Promise<Float32Array> {
  const inSize = inShape.reduce((a, v) => a * v, 1);
  if (x.length !== n * inSize) throw new Error(`autoencoder: expected ${n} × [${inShape.join(', ')}] = ${n * inSize} values, got ${x.length}`);
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
function encodeMeans(ae: Autoencoder, x: Float32Array, n: number): Promise<Float32Array> {
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
  if (!(std > 0) || !Number.isFinite(std)) throw new Error(`autoencoder: the encoder means have standard deviation ${std} on the training data; the latent scale cannot be measured`);
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
    decoder: { channels: ae.channels, groups: GROUPS, params: () => ae.params.list().filter((q) => q.name.startsWith('dec')) },
    dispose: () => ae.dispose(),
  };
}

/** The run's trained autoencoder (its final checkpoint, evaluation weights) as a codec; the caller disposes it. */
export function loadCodec(runDir: string, cfg: ResolvedConfig, imageShape: number[], warn: (m: string) => void = () => {}): LatentCodec {
  const ck = latestValidCheckpoint(runDir, AUTOENCODER_UNIT, warn);
  if (!ck || !ck.header.final) {
    throw new Error(`${runDir}: the autoencoder has no final checkpoint yet (checkpoints/${AUTOENCODER_UNIT}); a latent-space run decodes through it — train the run first`);
  }
  const scale = ck.header.latentScale;
  if (typeof scale !== 'number' || !(scale > 0)) throw new Error(`${ck.file}: no latent scale in the autoencoder's final checkpoint`);
  const ae = buildAutoencoder(cfg.autoencoder!, imageShape, cfg.seed);
  try {
    loadEvalWeights(ae, ck.arrays, ck.file);
  } catch (e) {
    ae.dispose();
    throw e;
  }
  return makeCodec(ae, scale);
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

/** A fresh autoencoder holding the trainer's evaluation weights (EMA when on). */
function evalAutoencoder(cfg: ResolvedConfig, imageShape: number[], tr: Trainer): Autoencoder {
  const ae = buildAutoencoder(cfg.autoencoder!, imageShape, cfg.seed);
  const w = tr.evalWeights();
  tf.tidy(() => {
    for (const { name, variable } of ae.params.list()) variable.assign(w.get(name)!);
  });
  return ae;
}

/** Indices of the examples a reconstruction grid shows: up to 8, spread over the training set. */
export function gridExamples(n: number): number[] {
  const k = Math.min(8, n);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

async function writeReconstructions(ctx: StageContext, ae: Autoencoder, step: number): Promise<void> {
  const idx = gridExamples(ctx.data.n);
  const { x, labels } = sampleBatch(ctx.data, idx);
  const rec = await chunked(x, idx.length, ae.imageShape, x.length / idx.length, (t) => {
    const { mean, logvar } = ae.moments(t);
    logvar.dispose();
    return ae.decode(mean);
  });
  const both = new Float32Array(2 * x.length);
  both.set(x);
  both.set(rec, x.length);
  for (let i = 0; i < both.length; i++) both[i] = Math.min(1, Math.max(-1, both[i]));
  const [h, w, c] = ae.imageShape;
  const png = imageGridPng(both, { n: 2 * idx.length, h, w, c: c as 1 | 3, rows: 2, cols: idx.length, pad: 2, scale: Math.max(1, Math.round(48 / h)) });
  const rel = path.join('samples', AUTOENCODER_UNIT, stepFileName(step, 'png'));
  const abs = path.join(ctx.runDir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, png);
  // a reconstruction grid: no guidance weights, no sampling steps; classes = the shown examples' labels
  ctx.emit({ type: 'samples', t: Date.now(), unit: AUTOENCODER_UNIT, step, file: rel, w: [], classes: Array.from(labels), steps: 0, nfe: 0 });
}

/** Trains the autoencoder unit to completion (measuring and saving the latent scale) or until asked to stop. */
export async function trainAutoencoder(ctx: StageContext): Promise<'finished' | 'stopped'> {
  const cfg = ctx.cfg;
  const a = cfg.autoencoder;
  if (!a) throw new Error('model.space: "latent" needs an autoencoder section');
  const unit = AUTOENCODER_UNIT;
  const def = { unit };
  const total = a.steps;
  const imageShape = ctx.data.shape;
  const ae = buildAutoencoder(a, imageShape, cfg.seed);
  const zSize = ae.latentShape.reduce((s, v) => s * v, 1);
  const trainer = new Trainer(ae, { lr: a.lr, warmup: a.warmup, anneal: a.anneal, clip: a.clip, ema: a.ema, totalSteps: total });
  const mf = (f: number) => (f / 1e6).toFixed(1);
  ctx.log(
    `${unit}: ${ae.params.count().toLocaleString('en-US')} parameters; ${imageShape.join('×')} images → ${ae.latentShape.join('×')} latents; ` +
      `encoder ${mf(ae.encodeFlops)}, decoder ${mf(ae.decodeFlops)} MFLOP per image (forward); trains in this process (not data-parallel)`,
  );
  try {
    const resumed = resumeUnit(ctx, unit, trainer);
    const rng = resumed?.rng ?? new Rng(cfg.seed, `train-${unit}`);
    let lastLoss = resumed?.lastLoss;
    ctx.emit({ type: 'stage_start', t: Date.now(), stage: 'autoencoder', unit, totalSteps: total, startStep: trainer.step });
    const t0 = Date.now();
    const grid = async (step: number) => {
      const e = evalAutoencoder(cfg, imageShape, trainer);
      try {
        await writeReconstructions(ctx, e, step);
      } finally {
        e.dispose();
      }
    };
    const flush = async () => {
      const recs = await trainer.flush();
      for (const r of recs) {
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.gradNorm)) {
          throw new TrainingDiverged(
            `${unit}: ${!Number.isFinite(r.loss) ? `the loss became ${r.loss}` : `the gradient norm became ${r.gradNorm}`} at step ${r.step}; training stopped. ` +
              `Lower autoencoder.lr or raise autoencoder.warmup and resume.`,
          );
        }
        lastLoss = r.loss;
      }
      return recs;
    };
    if (trainer.step === 0) await grid(0);
    const save = (extra: { latentScale?: number } = {}) => saveCheckpoint(ctx, def, trainer, rng.state(), total, lastLoss, extra);
    // one step: the batch and the reparameterisation noise, in this order, from the unit's Rng (exact resume)
    const trainOne = async () => {
      const idx = new Int32Array(a.batch);
      for (let i = 0; i < a.batch; i++) idx[i] = rng.int(ctx.data.n);
      const { x } = sampleBatch(ctx.data, idx);
      const eps = rng.normals(a.batch * zSize);
      const xT = tf.tensor(x, [a.batch, ...imageShape]);
      const epsT = tf.tensor(eps, [a.batch, ...ae.latentShape]);
      try {
        trainer.trainStep(() => autoencoderLoss(ae, xT, epsT, a.klWeight));
      } finally {
        tf.dispose([xT, epsT]);
      }
    };
    if ((await stepLoop(ctx, unit, trainer, total, { trainOne, flush, grid, save })) === 'stopped') return 'stopped';
    await flush();
    const e = evalAutoencoder(cfg, imageShape, trainer);
    let latentScale: number;
    try {
      latentScale = await measureLatentScale(e, ctx.data);
    } finally {
      e.dispose();
    }
    ctx.log(`${unit}: latent scale ${latentScale.toPrecision(5)} (1 / std of the encoder means over ${ctx.data.n} training images)`);
    await save({ latentScale });
    await grid(total);
    ctx.emit({ type: 'stage_end', t: Date.now(), unit, step: total, seconds: (Date.now() - t0) / 1000 });
    return 'finished';
  } finally {
    trainer.dispose();
    ae.dispose();
  }
}

/**
 * A latent-space run's training: the autoencoder unit (unless finished), then the training set encoded once, then
 * teacher, guided and progressive on the latents exactly as in pixel space, with every grid decoded.
 */
export async function trainLatentRun(ctx: StageContext): Promise<'finished' | 'stopped'> {
  if (!unitFinished(ctx.runDir, AUTOENCODER_UNIT)) {
    const r = await trainAutoencoder(ctx);
    if (r === 'stopped') return r;
  }
  const codec = loadCodec(ctx.runDir, ctx.cfg, ctx.data.shape, ctx.log);
  try {
    const data = await encodeDataset(codec, ctx.data);
    ctx.log(`data: ${data.source}`);
    return await trainAll({ ...ctx, data, codec });
  } finally {
    codec.dispose();
  }
}
