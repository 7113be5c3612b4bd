/**
 * What latent space buys (`distill eval` of a latent-space run): the cost per sample and per training step
 * of the run's diffusion network on its latents against the same network (same model config) on the images at their
 * full resolution, counted (forward FLOPs from the networks' own counters) and measured (wall-clock on this backend:
 * median of a few timed calls after a warm-up, random inputs — the time of these networks does not depend on the
 * weights). A latent sample also pays one decoder pass; a latent training step pays nothing extra (the training set is
 * encoded once, before the teacher).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ResolvedConfig } from '../run/config';
import { buildStepLoss, drawBatch, LossSpec } from '../train/losses';
import { buildNet, Net } from '../nn/net';
import { Trainer } from '../train/optimizer';
import { Rng } from '../random/rng';
import type { LatentCodec } from '../method/samplers';

export interface LatentCost {
  imageShape: number[];
  latentShape: number[];
  latentScale: number;
  /** Forward FLOPs of one example: the teacher's network on an image and on a latent, the encoder, the decoder. */
  flops: { pixelNfe: number; latentNfe: number; encode: number; decode: number };
  /** Measured ms per example: one network evaluation on an image / on a latent, one decode. */
  ms: { pixelNfe: number; latentNfe: number; decode: number };
  /**
   * One teacher training step: measured ms and FLOPs (≈ 3 × forward × batch) at the run's teacher batch, capped at
   * TRAIN_BATCH_CAP (a pixel-space step at batch 128 on 32×32 RGB exceeds the wasm backend's memory).
   */
  trainStep: { batch: number; pixelMs: number; latentMs: number; pixelFlops: number; latentFlops: number };
  /** Per sample at the step counts the report compares. */
  perSample: {
    label: string;
    nfe: number;
    pixelFlops: number;
    latentFlops: number;
    pixelMs: number;
    latentMs: number;
  }[];
}

export const TRAIN_BATCH_CAP = 32;

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function timeMs(fn: () => tf.Tensor | undefined, repeats: number): Promise<number> {
  const once = async () => {
    const t0 = performance.now();
    const out = fn();
    if (out) {
      await out.data();
      out.dispose();
    }
    return performance.now() - t0;
  };
  await once(); // warm-up: kernels compiled, buffers allocated
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await once());
  return median(times);
}

/** ms of one network evaluation per example, on a batch of `b` random inputs. */
async function nfeMs(net: Net, b: number, repeats: number): Promise<number> {
  const z = tf.randomNormal([b, ...net.exampleShape], 0, 1, 'float32', 1);
  const lam = new Float32Array(b).fill(0);
  const cls = new Int32Array(b);
  try {
    return (await timeMs(() => net.apply(z, lam, cls), repeats)) / b;
  } finally {
    z.dispose();
  }
}

/** ms of one teacher training step (loss, gradients, Adam) at `batch` on random data of the net's shape. */
async function trainStepMs(
  cfg: ResolvedConfig,
  net: Net,
  numClasses: number,
  batch: number,
  repeats: number,
): Promise<number> {
  const shape = net.exampleShape;
  const d = shape.reduce((a, v) => a * v, 1);
  const n = Math.max(batch, 16);
  const rng = new Rng(cfg.seed, 'latent-cost');
  const data = {
    kind: 'image' as const,
    x: rng.normals(n * d),
    labels: Int32Array.from({ length: n }, (_, i) => i % numClasses),
    n,
    shape,
    numClasses,
    classNames: [],
    source: 'random',
  };
  const spec: LossSpec = { stage: 'teacher', exampleShape: shape };
  const tr = new Trainer(net, { lr: 1e-4, warmup: 0, anneal: false, clip: 1, ema: 0, totalSteps: repeats + 1 });
  try {
    return await timeMs(() => {
      const { lossFn, release } = buildStepLoss(cfg, spec, net, undefined, drawBatch(cfg, data, spec, batch, rng));
      try {
        tr.trainStep(lossFn);
      } finally {
        release();
      }
      return tf.scalar(0); // wait for the step's work before stopping the clock
    }, repeats);
  } finally {
    await tr.flush();
    tr.dispose();
  }
}

/** Measures the comparison for a latent run's teacher network; `configs` are the sampler settings the report lists. */
export async function measureLatentCost(
  cfg: ResolvedConfig,
  codec: LatentCodec,
  numClasses: number,
  configs: { label: string; nfe: number }[],
  { batch = 8, repeats = 3 }: { batch?: number; repeats?: number } = {},
): Promise<LatentCost> {
  const make = (shape: number[]) =>
    buildNet({ model: cfg.model, exampleShape: shape, numClasses, withW: false, seed: cfg.seed });
  const pixel = make(codec.imageShape);
  const latent = make(codec.latentShape);
  try {
    const ms = {
      pixelNfe: await nfeMs(pixel, batch, repeats),
      latentNfe: await nfeMs(latent, batch, repeats),
      decode: 0,
    };
    const zs = new Rng(cfg.seed, 'latent-cost-z').normals(batch * codec.latentShape.reduce((a, v) => a * v, 1));
    const t: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      await codec.decode(zs, batch);
      if (i > 0) t.push(performance.now() - t0);
    }
    ms.decode = median(t) / batch;
    const tb = Math.min(cfg.teacher.batch, TRAIN_BATCH_CAP);
    const trainStep = {
      batch: tb,
      pixelMs: await trainStepMs(cfg, pixel, numClasses, tb, Math.min(repeats, 2)),
      latentMs: await trainStepMs(cfg, latent, numClasses, tb, Math.min(repeats, 2)),
      pixelFlops: 3 * pixel.flopsPerExample * tb,
      latentFlops: 3 * latent.flopsPerExample * tb,
    };
    const flops = {
      pixelNfe: pixel.flopsPerExample,
      latentNfe: latent.flopsPerExample,
      encode: codec.encodeFlops,
      decode: codec.decodeFlops,
    };
    return {
      imageShape: codec.imageShape,
      latentShape: codec.latentShape,
      latentScale: codec.scale,
      flops,
      ms,
      trainStep,
      perSample: configs.map(({ label, nfe }) => ({
        label,
        nfe,
        pixelFlops: nfe * flops.pixelNfe,
        latentFlops: nfe * flops.latentNfe + flops.decode,
        pixelMs: nfe * ms.pixelNfe,
        latentMs: nfe * ms.latentNfe + ms.decode,
      })),
    };
  } finally {
    pixel.dispose();
    latent.dispose();
  }
}

const mflop = (v: number) => (v / 1e6 >= 100 ? (v / 1e6).toFixed(0) : (v / 1e6).toFixed(2));
const msTxt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');

/** The report section (markdown lines). */
export function latentCostMarkdown(c: LatentCost, backend: string, runBatch: number): string[] {
  const L: string[] = [];
  L.push('', '## What latent space buys (same resolution, same network config)', '');
  L.push(
    `The teacher's network on ${c.latentShape.join('×')} latents (this run) against the same network on the ${c.imageShape.join('×')} images ` +
      `(pixel space). Counted: forward FLOPs (2 × multiply-adds; training ≈ 3 × forward); measured: median wall-clock on ${backend}, ` +
      `random inputs. A latent sample adds one decoder pass (${mflop(c.flops.decode)} MFLOP); the training set is encoded once ` +
      `(encoder ${mflop(c.flops.encode)} MFLOP per image), so a latent training step pays nothing extra. Latent scale ${c.latentScale.toPrecision(4)}.` +
      (runBatch > c.trainStep.batch
        ? ` Training steps are measured at batch ${c.trainStep.batch} (the run's teacher batch, ${runBatch}, is capped so the pixel-space step fits in memory).`
        : ''),
  );
  L.push('', '| | pixel space | latent space | pixel ÷ latent |', '| --- | ---: | ---: | ---: |');
  L.push(
    `| one network evaluation: MFLOP | ${mflop(c.flops.pixelNfe)} | ${mflop(c.flops.latentNfe)} | ${ratio(c.flops.pixelNfe, c.flops.latentNfe)} |`,
  );
  L.push(
    `| one network evaluation: ms per example | ${msTxt(c.ms.pixelNfe)} | ${msTxt(c.ms.latentNfe)} | ${ratio(c.ms.pixelNfe, c.ms.latentNfe)} |`,
  );
  L.push(
    `| teacher training step (batch ${c.trainStep.batch}): GFLOP | ${(c.trainStep.pixelFlops / 1e9).toFixed(2)} | ${(c.trainStep.latentFlops / 1e9).toFixed(2)} | ${ratio(c.trainStep.pixelFlops, c.trainStep.latentFlops)} |`,
  );
  L.push(
    `| teacher training step (batch ${c.trainStep.batch}): ms | ${msTxt(c.trainStep.pixelMs)} | ${msTxt(c.trainStep.latentMs)} | ${ratio(c.trainStep.pixelMs, c.trainStep.latentMs)} |`,
  );
  for (const s of c.perSample) {
    L.push(
      `| per sample, ${s.label} (${s.nfe} NFE): MFLOP | ${mflop(s.pixelFlops)} | ${mflop(s.latentFlops)} | ${ratio(s.pixelFlops, s.latentFlops)} |`,
    );
    L.push(
      `| per sample, ${s.label} (${s.nfe} NFE): ms | ${msTxt(s.pixelMs)} | ${msTxt(s.latentMs)} | ${ratio(s.pixelMs, s.latentMs)} |`,
    );
  }
  return L;
}
