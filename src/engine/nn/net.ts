/**
 * The denoising networks x̂(z_t, λ_t, c [, w]): an MLP for 2-D toy data and a small U-Net for images.
 * Conditioning (docs/method.md, "Network and conditioning"): a sinusoidal embedding of λ through an MLP, plus a learned class table with K+1 rows
 * (row K = ∅), plus — for students — a sinusoidal embedding of w through its own MLP whose last layer is
 * zero-initialised, so a student copied from the teacher starts exactly as the teacher's conditional model.
 * The w embedding's frequencies run from 1 to model.wFreqMax (default 4): over w ∈ [0, 4] a top frequency
 * of 50 makes features oscillate every 0.13 in w, which the student has to smooth out again (docs/results.md
 * compares 4 and 50 on digits; run folders without the field were trained with 50).
 */
import * as tf from '@tensorflow/tfjs-core';
import { W_FREQ_MAX_DEFAULT } from './w-embedding';
import { Rng } from '../random/rng';
import {
  conv,
  convInit,
  dense,
  denseInit,
  FlopCounter,
  groupNorm,
  groupNormInit,
  layerNorm,
  layerNormInit,
  Params,
  silu,
  sinusoidal,
} from './params';

export interface ModelConfig {
  kind: 'unet' | 'mlp';
  parameterization: 'v' | 'x' | 'eps';
  channels: number[];
  blocksPerLevel: number;
  attention: boolean;
  groups: number;
  embedDim: number;
  /** Highest frequency of the Fourier embedding of w (students); default W_FREQ_MAX_DEFAULT. */
  wFreqMax?: number;
  hidden: number;
  depth: number;
}

export interface Net {
  kind: 'unet' | 'mlp';
  params: Params;
  withW: boolean;
  numClasses: number;
  /** Shape of one example: [H, W, C] or [2]. */
  exampleShape: number[];
  /** FLOPs (2·multiply-adds) of one forward pass for one example. */
  flopsPerExample: number;
  /**
   * Raw network output for z [B, …] and the host arrays λ [B], classes [B] (K = ∅) and w [B] (students only): the
   * conditioning is computed on the host and uploaded once per call.
   */
  apply(z: tf.Tensor, lambda: Float32Array, cls: Int32Array, w?: Float32Array): tf.Tensor;
  dispose(): void;
}

const SIN_DIM = 64;
const LAMBDA_SCALE = 1 / 20;

function embeddingInit(p: Params, m: ModelConfig, numClasses: number, withW: boolean, f: FlopCounter): void {
  const e = m.embedDim;
  denseInit(p, 'temb.0', SIN_DIM, e);
  denseInit(p, 'temb.1', e, e);
  p.weight('cemb.table', [numClasses + 1, e], 1, { gain: 0.5 });
  f.macs += SIN_DIM * e + e * e;
  if (withW) {
    denseInit(p, 'wemb.0', SIN_DIM, e);
    denseInit(p, 'wemb.1', e, e, { zero: true });
    f.macs += SIN_DIM * e + e * e;
  }
}

function embedding(
  p: Params,
  m: ModelConfig,
  withW: boolean,
  lambda: Float32Array,
  cls: Int32Array,
  w?: Float32Array,
): tf.Tensor {
  let h = dense(p, 'temb.1', silu(dense(p, 'temb.0', sinusoidal(lambda, SIN_DIM, 200, LAMBDA_SCALE))));
  // one-hot · table rather than gather: its gradient is a plain matmul on every backend
  const table = p.get('cemb.table');
  h = tf.add(h, tf.matMul(tf.oneHot(tf.tensor1d(cls, 'int32'), table.shape[0]), table));
  if (withW) {
    if (!w) throw new Error('this student network needs a guidance weight w for every example');
    h = tf.add(
      h,
      dense(p, 'wemb.1', silu(dense(p, 'wemb.0', sinusoidal(w, SIN_DIM, m.wFreqMax ?? W_FREQ_MAX_DEFAULT)))),
    );
  }
  return silu(h);
}

// ───────────────────────────────── MLP ─────────────────────────────────
function buildMlp(m: ModelConfig, dim: number, numClasses: number, withW: boolean, rng: Rng): Net {
  const p = new Params(rng);
  const f = new FlopCounter();
  const hdim = m.hidden;
  embeddingInit(p, m, numClasses, withW, f);
  denseInit(p, 'in', dim, hdim);
  f.macs += dim * hdim;
  for (let i = 0; i < m.depth; i++) {
    layerNormInit(p, `blk${i}.ln`, hdim);
    denseInit(p, `blk${i}.fc0`, hdim, hdim);
    denseInit(p, `blk${i}.emb`, m.embedDim, hdim);
    denseInit(p, `blk${i}.fc1`, hdim, hdim, { zero: true });
    f.macs += 2 * hdim * hdim + m.embedDim * hdim;
  }
  layerNormInit(p, 'out.ln', hdim);
  denseInit(p, 'out', hdim, dim, { zero: true });
  f.macs += hdim * dim;
  return {
    kind: 'mlp',
    params: p,
    withW,
    numClasses,
    exampleShape: [dim],
    flopsPerExample: 2 * f.macs,
    apply(z, lambda, cls, w) {
      return tf.tidy(() => {
        const emb = embedding(p, m, withW, lambda, cls, w);
        let h = dense(p, 'in', z);
        for (let i = 0; i < m.depth; i++) {
          let u = dense(p, `blk${i}.fc0`, silu(layerNorm(p, `blk${i}.ln`, h)));
          u = tf.add(u, dense(p, `blk${i}.emb`, emb));
          h = tf.add(h, dense(p, `blk${i}.fc1`, silu(u)));
        }
        return dense(p, 'out', silu(layerNorm(p, 'out.ln', h)));
      });
    },
    dispose: () => p.dispose(),
  };
}

// ──────────────────────────────── U-Net ────────────────────────────────
interface Block {
  name: string;
  cIn: number;
  cOut: number;
}

function resBlockInit(p: Params, m: ModelConfig, b: Block, hw: number, f: FlopCounter): void {
  groupNormInit(p, `${b.name}.gn0`, b.cIn);
  convInit(p, `${b.name}.conv0`, 3, b.cIn, b.cOut);
  denseInit(p, `${b.name}.emb`, m.embedDim, b.cOut);
  groupNormInit(p, `${b.name}.gn1`, b.cOut);
  convInit(p, `${b.name}.conv1`, 3, b.cOut, b.cOut, { zero: true });
  f.macs += hw * 9 * (b.cIn * b.cOut + b.cOut * b.cOut) + m.embedDim * b.cOut;
  if (b.cIn !== b.cOut) {
    convInit(p, `${b.name}.skip`, 1, b.cIn, b.cOut);
    f.macs += hw * b.cIn * b.cOut;
  }
}

function resBlock(p: Params, m: ModelConfig, b: Block, x: tf.Tensor, emb: tf.Tensor): tf.Tensor {
  let h = conv(p, `${b.name}.conv0`, groupNorm(p, `${b.name}.gn0`, x, m.groups, true));
  h = tf.add(h, tf.reshape(dense(p, `${b.name}.emb`, emb), [-1, 1, 1, b.cOut]));
  h = conv(p, `${b.name}.conv1`, groupNorm(p, `${b.name}.gn1`, h, m.groups, true));
  const skip = b.cIn !== b.cOut ? conv(p, `${b.name}.skip`, x) : x;
  return tf.add(skip, h);
}

function attentionInit(p: Params, name: string, c: number, hw: number, f: FlopCounter): void {
  groupNormInit(p, `${name}.gn`, c);
  denseInit(p, `${name}.qkv`, c, 3 * c);
  denseInit(p, `${name}.proj`, c, c, { zero: true });
  f.macs += hw * 4 * c * c + 2 * hw * hw * c;
}

function attention(p: Params, m: ModelConfig, name: string, x: tf.Tensor): tf.Tensor {
  const [b, h, w, c] = x.shape;
  const n = h * w;
  const hn = tf.reshape(groupNorm(p, `${name}.gn`, x, m.groups), [b * n, c]);
  const qkv = tf.reshape(dense(p, `${name}.qkv`, hn), [b, n, 3 * c]);
  const [q, k, v] = tf.split(qkv, 3, 2);
  const att = tf.softmax(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 1 / Math.sqrt(c)));
  const o = tf.reshape(tf.matMul(att as tf.Tensor3D, v as tf.Tensor3D), [b * n, c]);
  return tf.add(x, tf.reshape(dense(p, `${name}.proj`, o), [b, h, w, c]));
}

function buildUnet(m: ModelConfig, shape: number[], numClasses: number, withW: boolean, rng: Rng): Net {
  const [H, W, C] = shape;
  const levels = m.channels.length;
  if (H % 2 ** (levels - 1) !== 0 || W % 2 ** (levels - 1) !== 0) {
    throw new Error(
      `model.channels: ${levels} resolution levels need an image size divisible by ${2 ** (levels - 1)}, got ${H}×${W}`,
    );
  }
  for (const [i, c] of m.channels.entries()) {
    if (c % Math.min(m.groups, c) !== 0)
      throw new Error(`model.channels[${i}] = ${c} is not divisible by model.groups = ${m.groups}`);
  }
  const p = new Params(rng);
  const f = new FlopCounter();
  embeddingInit(p, m, numClasses, withW, f);
  const ch = m.channels;
  convInit(p, 'in', 3, C, ch[0]);
  f.macs += H * W * 9 * C * ch[0];
  const down: Block[][] = [];
  const up: Block[][] = [];
  const skipsC: number[] = [];
  let c = ch[0];
  for (let l = 0; l < levels; l++) {
    const hw = (H * W) / 4 ** l;
    const blocks: Block[] = [];
    for (let i = 0; i < m.blocksPerLevel; i++) {
      const b = { name: `down${l}.${i}`, cIn: c, cOut: ch[l] };
      resBlockInit(p, m, b, hw, f);
      blocks.push(b);
      c = ch[l];
      skipsC.push(c);
    }
    down.push(blocks);
    if (l < levels - 1) {
      convInit(p, `down${l}.pool`, 3, c, c);
      f.macs += (hw / 4) * 9 * c * c;
    }
  }
  const lowHw = (H * W) / 4 ** (levels - 1);
  const mid0 = { name: 'mid0', cIn: c, cOut: c };
  const mid1 = { name: 'mid1', cIn: c, cOut: c };
  resBlockInit(p, m, mid0, lowHw, f);
  if (m.attention) attentionInit(p, 'mid.attn', c, lowHw, f);
  resBlockInit(p, m, mid1, lowHw, f);
  for (let l = levels - 1; l >= 0; l--) {
    const hw = (H * W) / 4 ** l;
    const blocks: Block[] = [];
    for (let i = 0; i < m.blocksPerLevel; i++) {
      const sc = skipsC.pop()!;
      const b = { name: `up${l}.${i}`, cIn: c + sc, cOut: ch[l] };
      resBlockInit(p, m, b, hw, f);
      blocks.push(b);
      c = ch[l];
    }
    up.push(blocks);
    if (l > 0) {
      convInit(p, `up${l}.upsample`, 3, c, ch[l - 1]);
      f.macs += hw * 4 * 9 * c * ch[l - 1];
      c = ch[l - 1];
    }
  }
  groupNormInit(p, 'out.gn', c);
  convInit(p, 'out', 3, c, C, { zero: true });
  f.macs += H * W * 9 * c * C;

  return {
    kind: 'unet',
    params: p,
    withW,
    numClasses,
    exampleShape: [H, W, C],
    flopsPerExample: 2 * f.macs,
    apply(z, lambda, cls, w) {
      return tf.tidy(() => {
        const emb = embedding(p, m, withW, lambda, cls, w);
        let h = conv(p, 'in', z);
        const skips: tf.Tensor[] = [];
        for (let l = 0; l < levels; l++) {
          for (const b of down[l]) {
            h = resBlock(p, m, b, h, emb);
            skips.push(h);
          }
          if (l < levels - 1) h = conv(p, `down${l}.pool`, h, 2);
        }
        h = resBlock(p, m, mid0, h, emb);
        if (m.attention) h = attention(p, m, 'mid.attn', h);
        h = resBlock(p, m, mid1, h, emb);
        for (let j = 0; j < levels; j++) {
          const l = levels - 1 - j;
          for (const b of up[j]) h = resBlock(p, m, b, tf.concat([h, skips.pop()!], 3), emb);
          if (l > 0) {
            const [, hh, ww] = h.shape;
            h = conv(p, `up${l}.upsample`, tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [hh * 2, ww * 2]));
          }
        }
        return conv(p, 'out', groupNorm(p, 'out.gn', h, m.groups, true));
      });
    },
    dispose: () => p.dispose(),
  };
}

export function buildNet({
  model,
  exampleShape,
  numClasses,
  withW,
  seed,
}: {
  model: ModelConfig;
  exampleShape: number[];
  numClasses: number;
  withW: boolean;
  seed: number;
}): Net {
  const rng = new Rng(seed, withW ? 'init-student' : 'init-teacher');
  if (model.kind === 'mlp') {
    if (exampleShape.length !== 1)
      throw new Error(
        `model.kind "mlp" is for 2-D toy data; this dataset has images of shape ${exampleShape.join('×')} — use "unet"`,
      );
    return buildMlp(model, exampleShape[0], numClasses, withW, rng);
  }
  if (exampleShape.length !== 3)
    throw new Error(
      `model.kind "unet" needs image data; this dataset has points of dimension ${exampleShape[0]} — use "mlp"`,
    );
  return buildUnet(model, exampleShape, numClasses, withW, rng);
}

/** Copies every parameter `to` shares with `from` (by name and shape); returns the names copied. */
export function copyParams(from: Net, to: Net): string[] {
  const copied: string[] = [];
  for (const { name, variable } of from.params.list()) {
    const dst = to.params.vars.get(name);
    if (!dst) continue;
    if (dst.shape.join() !== variable.shape.join())
      throw new Error(`parameter ${name}: shape ${dst.shape} ≠ ${variable.shape}`);
    dst.assign(variable);
    copied.push(name);
  }
  return copied;
}
