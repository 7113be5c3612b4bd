/**
 * A/B of the wasm Conv2DBackpropFilter implementations on the bench U-Net's and conv stack's shapes,
 * alternated within one process, best of `reps`: wasmKernelOptions.filterGrad 'gemm' vs 'conv', or with
 * --chunk F1,F2,… the 'gemm' kernel at several filterGradOptions.chunkFloats (0 = whole batch).
 *
 *   node --import tsx bench/kernel-ab.ts [--reps 8] [--threads 1] [--chunk 0,196608]
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/backend/select';
import { wasmKernelOptions } from '../src/engine/backend/wasm/kernels';
import { filterGradOptions } from '../src/engine/backend/wasm/filter-grad';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--reps');
  const reps = i >= 0 ? Number(process.argv[i + 1]) : 8;
  const t = process.argv.indexOf('--threads');
  const info = await selectBackend({ backend: 'wasm', threads: t >= 0 ? Number(process.argv[t + 1]) : 1 });
  console.log(`wasm × ${info.threads} threads${info.note ? ` (${info.note})` : ''}`);
  // [n, h, w, ci, co, k, stride]
  const shapes: Array<[number, number, number, number, number, number, number]> = [
    [128, 16, 16, 32, 32, 3, 1],
    [128, 16, 16, 64, 32, 3, 1],
    [128, 8, 8, 64, 64, 3, 1],
    [128, 16, 16, 64, 32, 1, 1],
    [128, 16, 16, 32, 1, 3, 1],
    [128, 16, 16, 1, 32, 3, 1],
    [128, 16, 16, 32, 64, 3, 2],
    [32, 32, 32, 64, 64, 3, 1],
    [32, 32, 32, 3, 64, 3, 1],
    [32, 32, 32, 64, 3, 3, 1],
  ];
  const c = process.argv.indexOf('--chunk');
  const defaultChunk = filterGradOptions.chunkFloats;
  const variants: Array<{ name: string; set: () => void }> =
    c >= 0
      ? process.argv[c + 1].split(',').map((f) => ({
          name: `chunk ${f}`,
          set: () => {
            wasmKernelOptions.filterGrad = 'gemm';
            filterGradOptions.chunkFloats = Number(f);
          },
        }))
      : (['conv', 'gemm'] as const).map((v) => ({
          name: v,
          set: () => {
            wasmKernelOptions.filterGrad = v;
          },
        }));
  for (const [n, h, w, ci, co, k, s] of shapes) {
    const ho = Math.ceil(h / s),
      wo = Math.ceil(w / s);
    const x = tf.randomNormal([n, h, w, ci]),
      dy = tf.randomNormal([n, ho, wo, co]);
    const gflop = (2 * n * ho * wo * k * k * ci * co) / 1e9;
    const attrs = {
      strides: s,
      pad: 'same',
      dataFormat: 'NHWC',
      filterShape: [k, k, ci, co],
    } as unknown as tf.NamedAttrMap;
    const best = variants.map(() => Infinity);
    for (let r = 0; r < reps; r++) {
      variants.forEach((v, vi) => {
        v.set();
        const t0 = performance.now();
        const y = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs) as tf.Tensor;
        y.dataSync();
        best[vi] = Math.min(best[vi], performance.now() - t0);
        y.dispose();
      });
    }
    wasmKernelOptions.filterGrad = 'gemm';
    filterGradOptions.chunkFloats = defaultChunk;
    console.log(
      `x [${n},${h},${w},${ci}] → ${co}, ${k}×${k} stride ${s}: ` +
        variants
          .map((v, vi) => `${v.name} ${best[vi].toFixed(1)} ms (${((gflop / best[vi]) * 1e3).toFixed(1)} GFLOP/s)`)
          .join('  '),
    );
    tf.dispose([x, dy]);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
