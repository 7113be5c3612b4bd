/**
 * Which kernels does a fwd+bwd+Adam step of a small conv net need, which of them are missing
 * for the wasm backend, and which are slow there?
 *
 *   node --import tsx bench/missing-kernels.ts [--stock]
 *
 * The net covers what the engine's U-Net uses: conv 3×3 (stride 1 and 2), GroupNorm from
 * mean/variance ops, SiLU (sigmoid·x), avg-pool, nearest-neighbour upsampling, conv2dTranspose,
 * a dense layer (matMul), softmax attention, broadcasting adds, MSE loss, Adam update ops.
 * The kernel list is recorded with tf.profile on the cpu backend; then each kernel is looked up
 * for 'wasm' and (unless missing) the step is profiled on wasm, slowest kernels first.
 * --stock: do not register this project's wasm training kernels (shows what stock tfjs lacks).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { selectBackend } from '../src/engine/backend/select';

const stock = process.argv.includes('--stock');

function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const xn = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]);
  return tf.add(tf.mul(xn, gamma), beta) as tf.Tensor4D;
}
const silu = (x: tf.Tensor4D): tf.Tensor4D => tf.mul(x, tf.sigmoid(x)) as tf.Tensor4D;

function makeNet() {
  const r = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, 0.1));
  const v = {
    c1: r([3, 3, 1, 16]),
    g1: tf.variable(tf.ones([16])),
    b1: tf.variable(tf.zeros([16])),
    down: r([3, 3, 16, 32]),
    c2: r([3, 3, 32, 32]),
    up: r([2, 2, 16, 32]),
    emb: r([8, 32]),
    q: r([32, 32]),
    out: r([3, 3, 16, 1]),
  };
  const f = (x: tf.Tensor4D, t: tf.Tensor2D): tf.Scalar => {
    let h = tf.conv2d(x, v.c1 as tf.Tensor4D, 1, 'same');
    h = silu(groupNorm(h, 4, v.g1, v.b1));
    let d = tf.conv2d(h, v.down as tf.Tensor4D, 2, 'same'); // stride-2 conv
    d = tf.add(d, tf.reshape(tf.matMul(t, v.emb), [-1, 1, 1, 32])) as tf.Tensor4D; // broadcast add
    d = silu(tf.conv2d(d, v.c2 as tf.Tensor4D, 1, 'same'));
    const p = tf.avgPool(d, 2, 2, 'valid'); // avg-pool
    const [n, ph, pw, c] = p.shape;
    const seq = tf.reshape(p, [n, ph * pw, c]); // attention over pixels
    const qk = tf.matMul(tf.matMul(seq, tf.tile(tf.expandDims(v.q, 0), [n, 1, 1])), seq, false, true);
    const att = tf.reshape(tf.matMul(tf.softmax(qk), seq), [n, ph, pw, c]) as tf.Tensor4D;
    const u = tf.image.resizeNearestNeighbor(att, [ph * 2, pw * 2]); // nearest upsample
    const ut = tf.conv2dTranspose(u, v.up as tf.Tensor4D, [n, ph * 4, pw * 4, 16], 2, 'same');
    const y = tf.conv2d(tf.add(ut, h) as tf.Tensor4D, v.out as tf.Tensor4D, 1, 'same');
    return tf.losses.meanSquaredError(x, y) as tf.Scalar;
  };
  return { vars: Object.values(v), f };
}

async function kernelsOfStep(): Promise<Map<string, number>> {
  const net = makeNet();
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([4, 16, 16, 1]) as tf.Tensor4D;
  const t = tf.randomNormal([4, 8]) as tf.Tensor2D;
  const step = () => {
    const l = opt.minimize(() => net.f(x, t), true);
    l?.dataSync();
    l?.dispose();
  };
  step(); // Adam creates its slots on the first step
  const prof = await tf.profile(step);
  const times = new Map<string, number>();
  for (const k of prof.kernels) times.set(k.name, (times.get(k.name) ?? 0) + (Number(k.kernelTimeMs) || 0));
  tf.dispose([x, t, ...net.vars]);
  opt.dispose();
  return times;
}

async function main(): Promise<void> {
  await selectBackend({ backend: 'cpu' });
  const names = [...(await kernelsOfStep()).keys()].sort();
  console.log(`kernels used by a fwd+bwd+Adam step (${names.length}): ${names.join(' ')}`);

  if (stock) {
    const info = await import('@tensorflow/tfjs-backend-wasm');
    void info;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
  } else {
    await selectBackend({ backend: 'wasm', threads: 1 });
  }
  const missing = names.filter((n) => tf.getKernel(n, 'wasm') == null);
  console.log(
    `missing for wasm${stock ? ' (stock tfjs-backend-wasm)' : ''}: ${missing.length ? missing.join(' ') : 'none'}`,
  );
  if (missing.length) return;
  const times = await kernelsOfStep();
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  console.log(`wasm step kernel time ${total.toFixed(1)} ms; slowest kernels:`);
  for (const [n, ms] of [...times.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${n.padEnd(28)} ${ms.toFixed(2)} ms`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
