/**
 * WebGPU rows of `npm run bench` (also alone: node --import tsx bench/webgpu.ts [--quick] [--json FILE]).
 *
 * The engine's own training step (Trainer + the teacher loss, loss read back every 10 steps as in a run) and its
 * 4-step student's sampling, on the adapter Dawn finds, for the quick start's digits U-Net and the toy MLP. Each
 * configuration runs twice: with this project's WGSL kernels (the optimiser update: 4 dispatches per parameter instead
 * of ~14; GroupNorm: 3 forward and 4 backward instead of ~12 and ~25) and with tfjs's composite ops, so the dispatch
 * count and time they save are measured, not claimed. The U-Net also runs with the WGSL GroupNorm but SiLU as tfjs's
 * Sigmoid and Multiply kernels, which measures what fusing SiLU into GroupNorm saves.
 *
 * A software adapter (SwiftShader, llvmpipe, WARP) is labelled as such: its numbers say nothing about a GPU and are
 * never compared with hardware ones.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/engine/backend/select';
import { setFusedAdam } from '../src/engine/backend/webgpu-adam';
import { GROUP_NORM, GROUP_NORM_GRAD, setFusedSilu } from '../src/engine/backend/group-norm';
import { describeBackends } from '../src/engine/backend/report';
import { resolveConfig } from '../src/engine/run/config';
import { buildNet } from '../src/engine/nn/net';
import { Trainer } from '../src/engine/train/optimizer';
import { Rng } from '../src/engine/random/rng';
import { sample } from '../src/engine/method/samplers';
import { buildStepLoss, drawBatch, LossSpec } from '../src/engine/train/losses';
import { loadDataset } from '../src/engine/data';
import { serveChild } from './child';

const MARK = 'WEBGPU_RESULT ';

export interface WebgpuResult {
  adapter: string;
  software: boolean;
  model: 'digits-unet' | 'toy-mlp';
  batch: number;
  fused: boolean;
  /** SiLU fused into the WGSL GroupNorm (false: tfjs's Sigmoid + Multiply after it). */
  silu_fused: boolean;
  ms_per_step: number;
  dispatches_per_step: number;
  gflops: number;
  student_samples_per_s: number;
}

interface Job {
  model: WebgpuResult['model'];
  fused: boolean;
  siluFused: boolean;
  warmup: number;
  steps: number;
}

const MODELS = {
  'digits-unet': {
    data: { kind: 'mnist', imageSize: 16 },
    model: { kind: 'unet', channels: [24, 48], blocksPerLevel: 1, groups: 8, embedDim: 128 },
    batch: 64,
  },
  'toy-mlp': {
    data: { kind: 'toy2d', shape: 'moons', n: 8192 },
    model: { kind: 'mlp', hidden: 128, depth: 3, embedDim: 64 },
    batch: 256,
  },
} as const;

async function runJob(job: Job): Promise<WebgpuResult> {
  const info = await selectBackend({ backend: 'webgpu' });
  setFusedAdam(job.fused);
  setFusedSilu(job.siluFused);
  if (!job.fused) {
    tf.unregisterKernel(GROUP_NORM, 'webgpu');
    tf.unregisterKernel(GROUP_NORM_GRAD, 'webgpu');
  }
  const m = MODELS[job.model];
  const cfg = resolveConfig({ name: 'bench', data: m.data, model: m.model });
  const data = await loadDataset(cfg.data, { split: 'train', seed: 0 });
  const net = buildNet({
    model: cfg.model,
    exampleShape: data.shape,
    numClasses: data.numClasses,
    withW: false,
    seed: 0,
  });
  const tr = new Trainer(net, { lr: 1e-4, warmup: 0, anneal: false, clip: 1, ema: 0.999, totalSteps: 1e6 });
  const spec: LossSpec = { stage: 'teacher', exampleShape: data.shape };
  const rng = new Rng(0, 'bench');
  const backend = tf.backend() as unknown as { runWebGPUProgram: (...a: unknown[]) => unknown };
  const run = backend.runWebGPUProgram.bind(backend);
  let dispatches = 0;
  backend.runWebGPUProgram = (...a: unknown[]) => ((dispatches += 1), run(...a));
  const step = () => {
    const { lossFn, release } = buildStepLoss(cfg, spec, net, undefined, drawBatch(cfg, data, spec, m.batch, rng));
    tr.trainStep(lossFn);
    release();
  };
  for (let i = 0; i < job.warmup; i++) step();
  await tr.flush();
  dispatches = 0;
  const t0 = performance.now();
  for (let i = 1; i <= job.steps; i++) {
    step();
    if (i % 10 === 0 || i === job.steps) await tr.flush(); // the run's read-back at its log interval
  }
  const ms = (performance.now() - t0) / job.steps;
  const perStep = dispatches / job.steps;
  tr.dispose();
  net.dispose();
  // The 4-step student (its weights do not change its cost): 1 NFE per step.
  const student = buildNet({
    model: cfg.model,
    exampleShape: data.shape,
    numClasses: data.numClasses,
    withW: true,
    seed: 1,
  });
  const n = job.model === 'toy-mlp' ? 1024 : 64;
  const req = {
    classes: Int32Array.from({ length: n }, (_, i) => i % data.numClasses),
    w: new Float32Array(n).fill(2),
    steps: 4,
    sampler: 'ddim' as const,
    seed: 1,
  };
  await sample({ net: student, param: 'v', schedule: cfg.diffusion }, req);
  const s0 = performance.now();
  await sample({ net: student, param: 'v', schedule: cfg.diffusion }, req);
  const sampleMs = performance.now() - s0;
  student.dispose();
  const a = info.adapter!;
  return {
    adapter: a.description || a.device || a.vendor,
    software: a.software,
    model: job.model,
    batch: m.batch,
    fused: job.fused,
    silu_fused: job.fused && job.siluFused,
    ms_per_step: ms,
    dispatches_per_step: perStep,
    gflops: (3 * net.flopsPerExample * m.batch) / (ms * 1e6),
    student_samples_per_s: (n * 1000) / sampleMs,
  };
}

/** Runs every configuration in its own process when Dawn finds an adapter; returns rows, table lines and errors. */
export async function runWebgpuBench({
  quick,
}: {
  quick: boolean;
}): Promise<{ results: WebgpuResult[]; lines: string[]; errors: string[] }> {
  const report = await describeBackends();
  const wg = report.backends.find((b) => b.name === 'webgpu')!;
  if (!wg.available) return { results: [], lines: [`webgpu: not measured (${wg.detail})`], errors: [] };
  const software = wg.adapter!.software;
  // A software adapter runs each dispatch on the CPU: few steps, enough to count dispatches and see the ratio.
  const warmup = quick || software ? 2 : 20;
  const steps = quick || software ? 4 : 30;
  const results: WebgpuResult[] = [];
  const errors: string[] = [];
  const jobs = [
    { model: 'toy-mlp', fused: true, siluFused: true },
    { model: 'toy-mlp', fused: false, siluFused: false },
    // The U-Net: WGSL Adam + GroupNorm with SiLU fused in, the same with SiLU as tfjs kernels, and composite ops.
    { model: 'digits-unet', fused: true, siluFused: true },
    { model: 'digits-unet', fused: true, siluFused: false },
    { model: 'digits-unet', fused: false, siluFused: false },
  ] as const;
  for (const j of jobs) {
    const what = `webgpu ${j.model} fused=${j.fused}${j.fused && j.model === 'digits-unet' ? ` silu_fused=${j.siluFused}` : ''}`;
    process.stderr.write(`running ${what}…\n`);
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, '--child', JSON.stringify({ ...j, warmup, steps })],
      { encoding: 'utf8', timeout: 60 * 60 * 1000 },
    );
    const line = (r.stdout || '').split('\n').find((l) => l.startsWith(MARK));
    if (line) results.push(JSON.parse(line.slice(MARK.length)) as WebgpuResult);
    else errors.push(`${what}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
  }
  const header = [
    'webgpu adapter',
    'model',
    'batch',
    'kernels',
    'ms/step',
    'dispatches/step',
    'GFLOP/s',
    '4-step student samples/s',
  ];
  const rows = results.map((r) => [
    `${r.adapter}${r.software ? ' (software)' : ''}`,
    r.model,
    String(r.batch),
    !r.fused
      ? 'composite ops'
      : r.model === 'toy-mlp'
        ? 'WGSL (Adam)'
        : r.silu_fused
          ? 'WGSL (Adam, GroupNorm+SiLU)'
          : 'WGSL (Adam, GroupNorm), tfjs SiLU',
    r.ms_per_step.toFixed(1),
    r.dispatches_per_step.toFixed(0),
    r.gflops.toFixed(2),
    r.student_samples_per_s.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const lines = [header, ...rows].map((cells) =>
    cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '),
  );
  for (const model of ['toy-mlp', 'digits-unet'] as const) {
    const f = results.find((r) => r.model === model && r.fused && (model === 'toy-mlp' || r.silu_fused));
    const c = results.find((r) => r.model === model && !r.fused);
    if (f && c)
      lines.push(
        `webgpu ${model}: WGSL kernels ${c.dispatches_per_step.toFixed(0)} → ${f.dispatches_per_step.toFixed(0)} dispatches per step, ${c.ms_per_step.toFixed(1)} → ${f.ms_per_step.toFixed(1)} ms per step`,
      );
    const u = results.find((r) => r.model === model && r.fused && !r.silu_fused);
    if (f && u && model === 'digits-unet')
      lines.push(
        `webgpu ${model}: SiLU fused into GroupNorm ${u.dispatches_per_step.toFixed(0)} → ${f.dispatches_per_step.toFixed(0)} dispatches per step, ${u.ms_per_step.toFixed(1)} → ${f.ms_per_step.toFixed(1)} ms per step`,
      );
  }
  if (software)
    lines.push(
      `webgpu: ${wg.adapter!.description} is a software adapter (the GPU emulated on the CPU): these rows check the path and count dispatches; they are not GPU speeds and are not compared with anything`,
    );
  return { results, lines, errors };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (await serveChild(argv, MARK, runJob)) return;
  const { results, lines, errors } = await runWebgpuBench({ quick: argv.includes('--quick') });
  for (const l of lines) console.log(l);
  for (const e of errors) console.log(`error: ${e}`);
  const jsonIdx = argv.indexOf('--json');
  if (jsonIdx >= 0) fs.writeFileSync(argv[jsonIdx + 1], JSON.stringify({ webgpu: results, errors }, null, 2) + '\n');
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
