/**
 * Where does the time of one training step of a bench model go on tfjs-wasm (1 thread by default)?
 *
 *   node --import tsx bench/profile-step.ts [--model unet|convstack] [--batch N] [--threads T] [--reps R] [--shapes] [--opt key=value]
 *
 *   --opt key=value (repeatable): set wasmKernelOptions (src/engine/backend/wasm/kernels.ts) for A/B runs.
 *
 * Runs `reps` profiled steps (after 2 warm-up steps) with tf.profile and prints the kernel wall time per
 * kernel name (per name and input shapes with --shapes), top-level kernels only (kernels that the
 * project's composite wasm kernels call internally are counted in their caller), plus the step wall
 * and CPU time. Wall times are sensitive to other processes: check the load average it prints.
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/backend/select';
import { makeModel } from './models';
import { wasmKernelOptions } from '../src/engine/backend/wasm/kernels';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const modelName = arg('model', 'unet') as 'unet' | 'convstack';
  const batch = Number(arg('batch', modelName === 'unet' ? '128' : '32'));
  const threads = Number(arg('threads', '1'));
  const reps = Number(arg('reps', '3'));
  const byShape = process.argv.includes('--shapes');
  process.argv.forEach((a, i) => {
    if (a !== '--opt') return;
    const [k, v] = process.argv[i + 1].split('=');
    if (!(k in wasmKernelOptions)) throw new Error(`unknown option ${k}`);
    (wasmKernelOptions as Record<string, unknown>)[k] = v;
  });
  const info = await selectBackend({ backend: 'wasm', threads });
  const model = makeModel(modelName, batch);
  const [h, w, c] = model.inShape;
  const x = tf.randomNormal([batch, h, w, c], 0, 1, 'float32', 7) as tf.Tensor4D;
  const target = tf.randomNormal([batch, h, w, c], 0, 1, 'float32', 8) as tf.Tensor4D;
  const opt = tf.train.adam(1e-4);
  const step = () => {
    const loss = opt.minimize(
      () => tf.mean(tf.square(tf.sub(model.apply(x), target))) as tf.Scalar,
      true,
      model.vars,
    ) as tf.Scalar;
    loss.dataSync();
    loss.dispose();
  };
  step();
  step();
  const plain: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    plain.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const times = new Map<string, { ms: number; n: number }>();
  let total = 0;
  for (let i = 0; i < reps; i++) {
    const prof = await tf.profile(step);
    for (const k of prof.kernels) {
      const ms = Number(k.kernelTimeMs) || 0;
      const key = byShape ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}` : k.name;
      const e = times.get(key) ?? { ms: 0, n: 0 };
      e.ms += ms / reps;
      e.n += 1 / reps;
      times.set(key, e);
    }
  }
  // tf.profile lists nested kernels too; count only the top level (they sum to the step).
  for (const v of times.values()) total += v.ms;
  console.log(
    `${modelName} batch ${batch} on ${info.name} ×${info.threads}: step ${Math.min(...plain).toFixed(0)} ms best / ` +
      `${(plain.reduce((a, b) => a + b, 0) / reps).toFixed(0)} mean, cpu ${((cpu.user + cpu.system) / 1000 / reps).toFixed(0)} ms/step; ` +
      `load ${os
        .loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')}`,
  );
  console.log(`kernel time (incl. nested) ${total.toFixed(0)} ms per step`);
  for (const [k, v] of [...times.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, byShape ? 60 : 30)) {
    console.log(`  ${v.ms.toFixed(1).padStart(7)} ms  ×${v.n.toFixed(0).padStart(3)}  ${k}`);
  }
  opt.dispose();
  tf.dispose([x, target, ...model.vars]);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
