/**
 * The `autoencoder` unit of a latent-space run (model.space "latent"): it trains first, and the units after it train on
 * its scaled encoder means. Training samples the latent with the reparameterisation trick (z = μ + exp(½·logσ²)·ε, ε
 * drawn from the unit's seeded Rng) and minimises the squared reconstruction error plus klWeight × KL(q(z|x) ‖ N(0, I)),
 * both summed per example (the reported loss divides both by the image size: the first term is the per-value MSE). At
 * inference the encoder mean is used. When it finishes, the latent scale is measured and saved in its final checkpoint.
 *
 * Checkpoints, exact resume, loss events, grids (a row of originals over a row of reconstructions) and retention are
 * the other units' (unit-loop.ts); the unit is checkpoints/autoencoder, samples/autoencoder.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { ResolvedConfig } from '../run/config';
import { sampleBatch } from '../data';
import { imageGridPng } from '../io/png';
import { Autoencoder, buildAutoencoder } from '../nn/autoencoder';
import { chunked, makeCodec, measureLatentScale } from '../method/latent-codec';
import type { LatentCodec } from '../method/samplers';
import { loadEvalWeights, Trainer } from './optimizer';
import { Rng } from '../random/rng';
import { stepFileName } from '../run/run-folder';
import {
  gridDue,
  latestValidCheckpoint,
  resumeUnit,
  saveCheckpoint,
  StageContext,
  stepLoop,
  TrainingDiverged,
} from './unit-loop';

export const AUTOENCODER_UNIT = 'autoencoder';

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

/** The run's trained autoencoder (its final checkpoint, evaluation weights) as a codec; the caller disposes it. */
export function loadCodec(
  runDir: string,
  cfg: ResolvedConfig,
  imageShape: number[],
  warn: (m: string) => void = () => {},
): LatentCodec {
  const ck = latestValidCheckpoint(runDir, AUTOENCODER_UNIT, warn);
  if (!ck || !ck.header.final) {
    throw new Error(
      `${runDir}: the autoencoder has no final checkpoint yet (checkpoints/${AUTOENCODER_UNIT}); a latent-space run decodes through it — train the run first`,
    );
  }
  const scale = ck.header.latentScale;
  if (typeof scale !== 'number' || !(scale > 0))
    throw new Error(`${ck.file}: no latent scale in the autoencoder's final checkpoint`);
  const ae = buildAutoencoder(cfg.autoencoder!, imageShape, cfg.seed);
  try {
    loadEvalWeights(ae, ck.arrays, ck.file);
  } catch (e) {
    ae.dispose();
    throw e;
  }
  return makeCodec(ae, scale);
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
  const png = imageGridPng(both, {
    n: 2 * idx.length,
    h,
    w,
    c: c as 1 | 3,
    rows: 2,
    cols: idx.length,
    pad: 2,
    scale: Math.max(1, Math.round(48 / h)),
  });
  const rel = path.join('samples', AUTOENCODER_UNIT, stepFileName(step, 'png'));
  const abs = path.join(ctx.runDir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, png);
  // a reconstruction grid: no guidance weights, no sampling steps; classes = the shown examples' labels
  ctx.emit({
    type: 'samples',
    t: Date.now(),
    unit: AUTOENCODER_UNIT,
    step,
    file: rel,
    w: [],
    classes: Array.from(labels),
    steps: 0,
    nfe: 0,
  });
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
  const trainer = new Trainer(ae, {
    lr: a.lr,
    warmup: a.warmup,
    anneal: a.anneal,
    clip: a.clip,
    ema: a.ema,
    totalSteps: total,
  });
  const mf = (f: number) => (f / 1e6).toFixed(1);
  ctx.log(
    `${unit}: ${ae.params.count().toLocaleString('en-US')} parameters; ${imageShape.join('×')} images → ${ae.latentShape.join('×')} latents; ` +
      `encoder ${mf(ae.encodeFlops)}, decoder ${mf(ae.decodeFlops)} MFLOP per image (forward); trains in this process (not data-parallel)`,
  );
  try {
    const resumed = resumeUnit(ctx, unit, trainer);
    const rng = resumed?.rng ?? new Rng(cfg.seed, `train-${unit}`);
    let lastLoss = resumed?.lastLoss;
    ctx.emit({
      type: 'stage_start',
      t: Date.now(),
      stage: 'autoencoder',
      unit,
      totalSteps: total,
      startStep: trainer.step,
    });
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
    if (trainer.step === 0 && gridDue(ctx.cfg, 0, total)) await grid(0);
    const save = (extra: { latentScale?: number } = {}) =>
      saveCheckpoint(ctx, def, trainer, rng.state(), total, lastLoss, extra);
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
    ctx.log(
      `${unit}: latent scale ${latentScale.toPrecision(5)} (1 / std of the encoder means over ${ctx.data.n} training images)`,
    );
    await save({ latentScale });
    await grid(total);
    ctx.emit({ type: 'stage_end', t: Date.now(), unit, step: total, seconds: (Date.now() - t0) / 1000 });
    return 'finished';
  } finally {
    trainer.dispose();
    ae.dispose();
  }
}
