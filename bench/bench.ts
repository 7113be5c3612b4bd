/**
 * Training / sampling throughput of the tfjs backends (and of PyTorch, when installed) on the
 * bench models of bench/models.ts, and of a real run's training step on one and several cores.
 *
 *   node --import tsx bench/bench.ts [--json FILE] [--quick] [--dp-probe] [--models LIST]
 *
 *   --models LIST: comma-separated subset of convstack, unet, quickstart, tfjs-cpu, webgpu (default: all).
 *
 * Every configuration runs in its own child process (a fresh wasm instance and thread pool).
 * convstack / unet: a training step = forward + backward + Adam update on one batch, MSE loss against a fixed target;
 * the same networks run in PyTorch (bench/torch_twin.py).
 * quickstart: the teacher step of examples/quickstart.distill.json taken the way `distill run` takes it
 * (bench/run-step.ts): in this process on 1 thread and on the threaded wasm pool, and data-parallel on the
 * training workers runs use (src/engine/train/data-parallel.ts), with the real MNIST batches, loss, clipping, Adam
 * and EMA.
 * ms_per_step is the median over 15 timed steps after 30 warm-up steps (steady state: V8's JIT and GC settle first);
 * samples_per_s = batch / step time;
 * gflops = 3 × forward FLOPs (2·MACs of convs/matmuls, see models.ts; the engine network's own count) × batch / step time.
 * Sampling: forward pass only, ms per image (median batch time / batch).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { logicalCores, selectBackend } from '../src/engine/backend/select';
import { makeModel } from './models';
import { startRunStep } from './run-step';
import { runWebgpuBench } from './webgpu';
import { serveChild } from './child';

type System = 'tfjs-wasm' | 'tfjs-cpu' | 'tfjs-node' | 'pytorch';
type ModelName = 'convstack' | 'unet' | 'quickstart';

/**
 * tfjs-wasm modes: one process (the threaded XNNPACK pool when threads > 1), or `threads` single-threaded training
 * workers (data-parallel, quickstart only: the workers train the engine's networks).
 */
type Mode = 'threaded' | 'data-parallel';
interface Job {
  system: System;
  threads: number;
  model: ModelName;
  batch: number;
  steps: number;
  warmup: number;
  samplingReps: number;
  mode?: Mode;
}

export interface BenchResult {
  system: System;
  threads: number;
  model: ModelName;
  batch: number;
  mode?: Mode;
  ms_per_step: number;
  samples_per_s: number;
  gflops: number;
  sample_ms_per_image: number;
  /** Best (minimum) step wall time, and process CPU time per step (all threads): context for noisy machines. */
  best_ms_per_step?: number;
  cpu_ms_per_step?: number;
  backend_note?: string;
  /** PyTorch only: the BLAS library and oneDNN ISA it ran, and the BLAS-related variables it saw (bench/torch_twin.py). */
  kernels?: Record<string, unknown>;
}

const MARK = 'BENCH_RESULT ';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The run's teacher step (bench/run-step.ts), in this process or data-parallel, as `distill run` would train it. */
async function runRunStepJob(job: Job): Promise<BenchResult> {
  const run = await startRunStep({
    threads: job.threads,
    parallel: job.mode === 'data-parallel' ? 'workers' : 'threads',
    batch: job.batch,
  });
  try {
    if ((job.mode === 'data-parallel') !== run.workers > 0)
      throw new Error(`asked for ${job.mode}, the run would train: ${run.note}`);
    for (let i = 0; i < job.warmup; i++) await run.step();
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < job.steps; i++) {
      const t0 = performance.now();
      const l = await run.step();
      times.push(performance.now() - t0);
      if (!Number.isFinite(l)) throw new Error(`loss is ${l}`);
    }
    const cpu = process.cpuUsage(cpu0);
    const ms = median(times);
    return {
      system: 'tfjs-wasm',
      mode: job.mode ?? 'threaded',
      threads: run.workers || job.threads,
      model: job.model,
      batch: run.batch,
      ms_per_step: ms,
      samples_per_s: (run.batch * 1000) / ms,
      gflops: (3 * run.flopsPerExample * run.batch) / (ms * 1e6),
      sample_ms_per_image: NaN,
      best_ms_per_step: Math.min(...times),
      cpu_ms_per_step: (cpu.user + cpu.system) / 1000 / job.steps,
      backend_note: run.note,
    };
  } finally {
    await run.close();
  }
}

/** Runs one job in this process (the child side). */
async function runJob(job: Job): Promise<BenchResult> {
  if (job.model === 'quickstart') return runRunStepJob(job);
  const backend = job.system === 'tfjs-wasm' ? 'wasm' : job.system === 'tfjs-cpu' ? 'cpu' : 'tensorflow';
  const info = await selectBackend({ backend, threads: job.threads });
  const model = makeModel(job.model as 'convstack' | 'unet', job.batch);
  const [h, w, c] = model.inShape;
  const x = tf.randomNormal([job.batch, h, w, c], 0, 1, 'float32', 7) as tf.Tensor4D;
  const target = tf.randomNormal([job.batch, h, w, c], 0, 1, 'float32', 8) as tf.Tensor4D;
  const opt = tf.train.adam(1e-4);
  const step = (): number => {
    const loss = opt.minimize(
      () => tf.mean(tf.square(tf.sub(model.apply(x), target))) as tf.Scalar,
      true,
      model.vars,
    ) as tf.Scalar;
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  };
  for (let i = 0; i < job.warmup; i++) step();
  const times: number[] = [];
  let tensorsAfterFirst = -1;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < job.steps; i++) {
    const t0 = performance.now();
    const l = step();
    times.push(performance.now() - t0);
    if (!Number.isFinite(l)) throw new Error(`loss is ${l}`);
    if (i === 0) tensorsAfterFirst = tf.memory().numTensors; // Adam creates its slots on the first step
  }
  const cpu = process.cpuUsage(cpu0);
  if (tf.memory().numTensors !== tensorsAfterFirst)
    throw new Error(`tensor leak: ${tensorsAfterFirst} -> ${tf.memory().numTensors}`);
  const sampleTimes: number[] = [];
  for (let i = 0; i < job.samplingReps + 1; i++) {
    const t0 = performance.now();
    const y = tf.tidy(() => model.apply(x));
    y.dataSync();
    y.dispose();
    if (i > 0) sampleTimes.push(performance.now() - t0); // first one is warm-up
  }
  const ms = median(times);
  opt.dispose();
  tf.dispose([x, target, ...model.vars]);
  return {
    system: job.system,
    ...(job.system === 'tfjs-wasm' ? { mode: 'threaded' as const } : {}),
    threads: info.threads,
    model: job.model,
    batch: job.batch,
    ms_per_step: ms,
    samples_per_s: (job.batch * 1000) / ms,
    gflops: (3 * model.fwdFlopsPerSample * job.batch) / (ms * 1e6),
    sample_ms_per_image: median(sampleTimes) / job.batch,
    best_ms_per_step: Math.min(...times),
    cpu_ms_per_step: (cpu.user + cpu.system) / 1000 / job.steps,
    backend_note: `${info.name} ${info.version}${info.note ? ` (${info.note})` : ''}`,
  };
}

function runChild(job: Job): BenchResult | { error: string } {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', JSON.stringify(job)], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    timeout: 30 * 60 * 1000,
  });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith(MARK));
  if (line) return JSON.parse(line.slice(MARK.length)) as BenchResult;
  return {
    error: `${job.system}/${job.model}/${job.threads}t failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`,
  };
}

/** Runs jobs as concurrent child processes (the data-parallel upper bound: no gradient exchange). */
async function runConcurrent(jobs: Job[]): Promise<Array<BenchResult | { error: string }>> {
  return Promise.all(
    jobs.map(
      (job) =>
        new Promise<BenchResult | { error: string }>((resolve) => {
          const p = spawn(process.execPath, [...process.execArgv, __filename, '--child', JSON.stringify(job)], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '',
            err = '';
          p.stdout.on('data', (d) => {
            out += d;
          });
          p.stderr.on('data', (d) => {
            err += d;
          });
          p.on('close', () => {
            const line = out.split('\n').find((l) => l.startsWith(MARK));
            resolve(
              line
                ? (JSON.parse(line.slice(MARK.length)) as BenchResult)
                : { error: `concurrent ${job.model} failed: ${err.trim().split('\n').slice(-2).join(' | ')}` },
            );
          });
        }),
    ),
  );
}

function torchScript(): string | null {
  for (const p of [path.join(__dirname, 'torch_twin.py'), path.join(process.cwd(), 'bench', 'torch_twin.py')]) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * The environment of the PyTorch command, and only of it: some machines set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
 * (older OpenBLAS builds need them on some processors), which slow a current PyTorch down; a fair peer runs with the
 * library's own CPU detection. Tests and CI never change them.
 */
export function torchEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.OPENBLAS_CORETYPE;
  delete out.OPENBLAS_L2_SIZE;
  return out;
}

function runTorch(job: Job, script: string): BenchResult | { error: string } {
  const r = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--model',
      job.model,
      '--threads',
      String(job.threads),
      '--batch',
      String(job.batch),
      '--steps',
      String(job.steps),
      '--warmup',
      String(job.warmup),
      '--sampling-reps',
      String(job.samplingReps),
    ],
    { encoding: 'utf8', timeout: 30 * 60 * 1000, env: torchEnv() },
  );
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith(MARK));
  if (line) return { ...(JSON.parse(line.slice(MARK.length)) as BenchResult), system: 'pytorch' };
  return {
    error: `pytorch/${job.model}/${job.threads}t failed: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}`,
  };
}

function hasTorch(): boolean {
  if (!fs.existsSync('/usr/bin/python3')) return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

function hasTfjsNode(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

function fmt(n: number, d = 1): string {
  return Number.isFinite(n) ? n.toFixed(d) : '-';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (await serveChild(argv, MARK, runJob)) return;
  const quick = argv.includes('--quick');
  const dpProbe = argv.includes('--dp-probe');
  const jsonIdx = argv.indexOf('--json');
  const jsonFile = jsonIdx >= 0 ? argv[jsonIdx + 1] : null;
  const modelsIdx = argv.indexOf('--models');
  const all = ['convstack', 'unet', 'quickstart', 'tfjs-cpu', 'webgpu'];
  const only = modelsIdx >= 0 ? (argv[modelsIdx + 1] ?? '').split(',').filter(Boolean) : all;
  for (const m of only)
    if (!all.includes(m))
      throw new Error(`--models: unknown entry "${m}"; expected a comma-separated subset of ${all.join(', ')}`);
  const cores = logicalCores();
  const threadCounts = [...new Set([1, cores])];
  const steps = quick ? 3 : 15;
  // Training runs last thousands of steps, so the bench times the steady state. V8 keeps optimising the JS
  // kernels and settling its heaps for the first ~25 steps; with two busy isolates on two cores (data-parallel)
  // those background threads visibly slow steps 5-25 (measured: ~900 ms vs ~610 ms steady for the U-Net).
  const warmup = quick ? 1 : 30;
  const samplingReps = quick ? 2 : 5;

  const benchModels = (['convstack', 'unet'] as const).filter((m) => only.includes(m));
  const jobs: Job[] = [];
  for (const model of benchModels) {
    const batch = model === 'convstack' ? 32 : 128;
    for (const t of threadCounts)
      jobs.push({ system: 'tfjs-wasm', threads: t, model, batch, steps, warmup, samplingReps });
    if (hasTfjsNode()) jobs.push({ system: 'tfjs-node', threads: cores, model, batch, steps, warmup, samplingReps });
  }
  if (only.includes('quickstart')) {
    // The quick start's own batch (64); 1 thread, then the cores threaded and data-parallel, as a run would train.
    const q = { system: 'tfjs-wasm' as const, model: 'quickstart' as const, batch: 64, steps, warmup, samplingReps };
    for (const t of threadCounts) jobs.push({ ...q, threads: t, mode: 'threaded' });
    if (cores > 1) jobs.push({ ...q, threads: cores, mode: 'data-parallel' });
  }
  // tfjs-cpu is ~3 orders of magnitude slower: small stack only, batch 2, one timed step.
  if (only.includes('tfjs-cpu'))
    jobs.push({ system: 'tfjs-cpu', threads: 1, model: 'convstack', batch: 2, steps: 1, warmup: 0, samplingReps: 1 });
  const torch = benchModels.length && hasTorch() ? torchScript() : null;
  if (torch) {
    for (const model of benchModels) {
      const batch = model === 'convstack' ? 32 : 128;
      for (const t of threadCounts)
        jobs.push({ system: 'pytorch', threads: t, model, batch, steps, warmup, samplingReps });
    }
  }

  const results: BenchResult[] = [];
  const errors: string[] = [];
  for (const job of jobs) {
    process.stderr.write(
      `running ${job.system}${job.mode ? `/${job.mode}` : ''} ${job.model} threads=${job.threads} batch=${job.batch}…\n`,
    );
    const r = job.system === 'pytorch' ? runTorch(job, torch as string) : runChild(job);
    if ('error' in r) errors.push(r.error);
    else results.push(r);
  }

  // --dp-probe: `cores` single-thread processes, each on batch/cores, running at the same time: the
  // throughput a data-parallel worker design could reach at best (it ignores gradient averaging).
  const dpLines: string[] = [];
  if (dpProbe && cores > 1) {
    for (const model of benchModels) {
      const batch = model === 'convstack' ? 32 : 128;
      process.stderr.write(`running data-parallel probe ${model}: ${cores} × (1 thread, batch ${batch / cores})…\n`);
      const rs = await runConcurrent(
        Array.from({ length: cores }, () => ({
          system: 'tfjs-wasm' as const,
          threads: 1,
          model,
          batch: batch / cores,
          steps,
          warmup,
          samplingReps,
        })),
      );
      const ok = rs.filter((r): r is BenchResult => !('error' in r));
      if (ok.length !== rs.length) {
        errors.push(...rs.filter((r): r is { error: string } => 'error' in r).map((r) => r.error));
        continue;
      }
      const samplesPerS = ok.reduce((a, r) => a + r.samples_per_s, 0);
      const threaded = results.find((r) => r.system === 'tfjs-wasm' && r.model === model && r.threads === cores);
      dpLines.push(
        `data-parallel bound ${model}: ${fmt(samplesPerS)} samples/s with ${cores} processes` +
          (threaded ? ` vs threaded wasm ${fmt(threaded.samples_per_s)} samples/s` : ''),
      );
    }
  }

  const header = [
    'system',
    'mode',
    'model',
    'thr',
    'batch',
    'ms/step',
    'best ms',
    'cpu ms',
    'samples/s',
    'GFLOP/s',
    'sample ms/img',
    'vs torch',
  ];
  const rows = results.map((r) => {
    const tw = results.find((q) => q.system === 'pytorch' && q.model === r.model && q.threads === r.threads);
    const ratio = tw && r.system !== 'pytorch' ? `${fmt(r.samples_per_s / tw.samples_per_s, 2)}×` : '';
    return [
      r.system,
      r.mode ?? '',
      r.model,
      String(r.threads),
      String(r.batch),
      fmt(r.ms_per_step),
      fmt(r.best_ms_per_step ?? NaN),
      fmt(r.cpu_ms_per_step ?? NaN),
      fmt(r.samples_per_s),
      fmt(r.gflops),
      fmt(r.sample_ms_per_image, 3),
      ratio,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  for (const m of ['convstack', 'unet', 'quickstart'] as const) {
    const one = results.find((r) => r.system === 'tfjs-wasm' && r.model === m && r.threads === 1);
    for (const mode of ['threaded', 'data-parallel'] as const) {
      const many = results.find(
        (r) => r.system === 'tfjs-wasm' && r.mode === mode && r.model === m && r.threads === cores && cores > 1,
      );
      if (one && many)
        console.log(
          `tfjs-wasm ${m}: ${cores} cores (${mode}) = ${fmt(many.samples_per_s / one.samples_per_s, 2)}× one thread (best step: ${fmt((one.best_ms_per_step ?? NaN) / (many.best_ms_per_step ?? NaN), 2)}×)`,
        );
    }
  }
  for (const l of dpLines) console.log(l);
  const gpu = only.includes('webgpu') ? await runWebgpuBench({ quick }) : { results: [], lines: [], errors: [] };
  for (const l of gpu.lines) console.log(l);
  errors.push(...gpu.errors);
  console.log(
    `load average during run: ${os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')} on ${cores} cores (other processes skew timings)`,
  );
  console.log('FLOPs: 2·MACs of forward convs/matmuls × 3 (fwd+bwd) per training step; ms/step = median.');
  for (const r of results.filter((q) => q.model === 'quickstart'))
    console.log(`quickstart ${r.mode} ×${r.threads}: ${r.backend_note}`);
  const tk = results.find((r) => r.system === 'pytorch' && r.kernels)?.kernels;
  if (tk)
    console.log(
      `pytorch kernels: ${JSON.stringify(tk)} (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from its environment)`,
    );
  for (const e of errors) console.log(`error: ${e}`);
  if (!torch) console.log('pytorch: not measured (/usr/bin/python3 -c "import torch" fails)');
  if (jsonFile)
    fs.writeFileSync(
      jsonFile,
      JSON.stringify({ results, webgpu: gpu.results, errors, loadavg: os.loadavg(), cores }, null, 2) + '\n',
    );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
