/**
 * Benchmark models as plain functions over a list of tf.Variables, so the engine's real U-Net can
 * be swapped in later: a BenchModel is `{ vars, apply(x) => y }` plus its analytic forward FLOPs.
 * bench/torch_twin.py builds the identical networks in PyTorch.
 *
 * FLOPs are counted as 2·MACs of the forward convolutions / matmuls only (norms, activations,
 * resizes and adds are not counted); a training step counts 3× the forward (fwd + dgrad + wgrad).
 */
import * as tf from '@tensorflow/tfjs-core';
import { groupNorm } from '../src/engine/backend/group-norm';

export interface BenchModel {
  name: 'convstack' | 'unet';
  /** Input shape without batch, NHWC. */
  inShape: [number, number, number];
  batch: number;
  vars: tf.Variable[];
  apply: (x: tf.Tensor4D) => tf.Tensor4D;
  /** 2·MACs of one forward pass of one sample. */
  fwdFlopsPerSample: number;
}

/** Deterministic init (xorshift + Box-Muller), He-style scale. */
function makeInit(seed: number) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return (shape: number[], fanIn: number, scale = 1): tf.Variable => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const std = scale * Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) v[i] = std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    const t = tf.tensor(v, shape);
    const variable = tf.variable(t);
    t.dispose();
    return variable;
  };
}

const silu = (x: tf.Tensor4D): tf.Tensor4D => tf.mul(x, tf.sigmoid(x)) as tf.Tensor4D;

function conv(x: tf.Tensor4D, w: tf.Variable, b: tf.Variable | null, stride = 1): tf.Tensor4D {
  const y = tf.conv2d(x, w as tf.Tensor4D, stride, 'same');
  return b ? (tf.add(y, b) as tf.Tensor4D) : y;
}

/** 3×3 convs 3→64→64→64→3 at 32×32, SiLU between. */
export function convStack(batch = 32): BenchModel {
  const init = makeInit(1234);
  const chans = [3, 64, 64, 64, 3];
  const ws: tf.Variable[] = [],
    bs: tf.Variable[] = [];
  let macs = 0;
  for (let i = 0; i < 4; i++) {
    ws.push(init([3, 3, chans[i], chans[i + 1]], 9 * chans[i]));
    bs.push(tf.variable(tf.zeros([chans[i + 1]])));
    macs += 32 * 32 * 9 * chans[i] * chans[i + 1];
  }
  return {
    name: 'convstack',
    inShape: [32, 32, 3],
    batch,
    vars: [...ws, ...bs],
    apply: (x) => {
      let h = x;
      for (let i = 0; i < 4; i++) {
        h = conv(h, ws[i], bs[i]);
        if (i < 3) h = silu(h);
      }
      return h;
    },
    fwdFlopsPerSample: 2 * macs,
  };
}

/** GroupNorm(8) + SiLU: the fused kernel of src/engine/backend/group-norm.ts (composite ops elsewhere). */
const gnSilu = (x: tf.Tensor4D, gamma: tf.Variable, beta: tf.Variable): tf.Tensor4D =>
  groupNorm(x, 8, gamma, beta, { silu: true });

/**
 * Bench U-Net (16×16×1): conv_in 1→32; 2 ResBlocks(32) @16×16; stride-2 conv 32→64; 2 ResBlocks(64) @8×8;
 * nearest ×2 upsample + conv 64→32; concat skip → ResBlock(64→32, 1×1 skip conv) @16×16; GN+SiLU+conv 32→1.
 * ResBlock = GN(8)+SiLU+conv3×3, GN(8)+SiLU+conv3×3, + residual. ≈ 65 MFLOP per image forward.
 */
export function benchUnet(batch = 128): BenchModel {
  const init = makeInit(4321);
  const vars: tf.Variable[] = [];
  let macs = 0;
  const P = (shape: number[], fanIn: number, scale = 1) => {
    const v = init(shape, fanIn, scale);
    vars.push(v);
    return v;
  };
  const Z = (n: number, value = 0) => {
    const v = tf.variable(tf.fill([n], value));
    vars.push(v);
    return v;
  };
  const convP = (ci: number, co: number, hw: number, k = 3, scale = 1) => {
    macs += hw * hw * k * k * ci * co;
    return { w: P([k, k, ci, co], k * k * ci, scale), b: Z(co) };
  };
  const resBlock = (ci: number, co: number, hw: number) => {
    const p = {
      g1: Z(ci, 1),
      b1: Z(ci),
      c1: convP(ci, co, hw),
      g2: Z(co, 1),
      b2: Z(co),
      c2: convP(co, co, hw, 3, 0.5),
      skip: ci !== co ? convP(ci, co, hw, 1) : null,
    };
    return (x: tf.Tensor4D): tf.Tensor4D => {
      let h = conv(gnSilu(x, p.g1, p.b1), p.c1.w, p.c1.b);
      h = conv(gnSilu(h, p.g2, p.b2), p.c2.w, p.c2.b);
      const s = p.skip ? conv(x, p.skip.w, p.skip.b) : x;
      return tf.add(h, s) as tf.Tensor4D;
    };
  };
  const cin = convP(1, 32, 16);
  const e1 = resBlock(32, 32, 16),
    e2 = resBlock(32, 32, 16);
  const down = convP(32, 64, 8);
  const m1 = resBlock(64, 64, 8),
    m2 = resBlock(64, 64, 8);
  const up = convP(64, 32, 16);
  const d1 = resBlock(64, 32, 16);
  const gOut = Z(32, 1),
    bOut = Z(32);
  const cout = convP(32, 1, 16);
  return {
    name: 'unet',
    inShape: [16, 16, 1],
    batch,
    vars,
    apply: (x) => {
      const h0 = conv(x, cin.w, cin.b);
      const s16 = e2(e1(h0));
      let h = conv(s16, down.w, down.b, 2);
      h = m2(m1(h));
      h = conv(tf.image.resizeNearestNeighbor(h, [16, 16]), up.w, up.b);
      h = d1(tf.concat([h, s16], 3) as tf.Tensor4D);
      return conv(gnSilu(h, gOut, bOut), cout.w, cout.b);
    },
    fwdFlopsPerSample: 2 * macs,
  };
}

export function makeModel(name: 'convstack' | 'unet', batch?: number): BenchModel {
  return name === 'convstack' ? convStack(batch) : benchUnet(batch);
}
