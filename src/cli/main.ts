/**
 * `distill`: the command-line tool on the same engine and run folders as the extension.
 *   distill run CONFIG [--runs-dir DIR] [--name NAME] [--backend auto|webgpu|wasm|cpu|tensorflow] [--threads N]
 *   distill resume RUN_DIR [--backend …] [--threads N]
 *   distill sample RUN_DIR --stage teacher|guided|progressive [--steps K] [--sampler ddim|stochastic] --w W[,W…]
 *                  [--classes LIST] [--per-class N] [--seed S] --out FILE(.png|.npy)
 *   distill edit RUN_DIR --image IN.png --class C --strength S --w W [--stage …] [--steps K] [--mask MASK.png] [--seed N]
 *                --out OUT.png
 *   distill list [RUNS_DIR]
 *   distill export RUN_DIR [--stage progressive|guided] [--steps K] [--out DIR]
 *   distill eval RUN_DIR [--out DIR] [--w 0,1,2,4] [--samples N] [--teacher-steps LIST] [--student-steps LIST]
 *   distill backends [--json]
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeNpy } from '../engine/io/npy';
import type { RunEvent, SummaryReal, SummaryRow } from '../engine/run/events';
import type { DataConfig } from '../engine/data/types';
import { formatSummary } from './summary';
import { formatDuration, ProgressPrinter } from './progress';
import { parseArgs, UsageError } from './args';
import { launcherFlag, SLURM_FLAGS, submitRunCommand, sweepCommand } from './sweep';
import { releaseSignals } from './signals';
import { EXIT_REQUEUE } from '../launcher/slurm';

const USAGE = `Diffusion Distiller — train a guided diffusion teacher and distil it into a few-step student.

Usage:
  distill run CONFIG [--runs-dir DIR] [--name NAME] [--backend auto|webgpu|wasm|cpu|tensorflow] [--threads N]
              [--launcher local|slurm [--detach] [--partition P] [--time T] [--gres G] [--cpus-per-task N] [--mem M]
              [--account A] [--qos Q]]
  distill resume RUN_DIR [--backend …] [--threads N] [--launcher local|slurm [--detach] …]
  distill sweep SWEEP.json [--runs-dir DIR] [--launcher local|slurm] [--max-parallel N] [--dry-run] [--detach]
                 [--partition P] [--time T] … (one run per variant under RUNS_DIR/<sweep name>/; waits, then a table)
  distill sample RUN_DIR --stage teacher|guided|progressive [--steps K] [--sampler ddim|stochastic]
                 --w W[,W…] [--classes 0,1,…] [--per-class N] [--seed S] --out FILE.png|FILE.npy
  distill edit RUN_DIR --image IN.png --class C --strength S --w W [--stage teacher|guided|progressive] [--steps K]
               [--mask MASK.png] [--seed N] --out OUT.png
                 (SDEdit: noise the image to t = S ∈ [0, 1] and denoise it towards class C (id or name) in K steps;
                  with --mask, inpainting: white = repaint, black = keep exactly. Default: the most distilled stage)
  distill list [RUNS_DIR]
  distill export RUN_DIR [--stage progressive|guided] [--steps K] [--out DIR]
                 (a self-contained folder: weights, student.mjs for TensorFlow.js, an offline demo page)
  distill eval RUN_DIR [--out DIR] [--w 0,1,2,4] [--samples N] [--teacher-steps 256,16,4] [--student-steps 1,2,4,8]
               [--seed S] [--backend …] [--threads N]
                 (quality report: classifier-FID, accuracy, diversity or sliced Wasserstein, NFE and ms per sample
                  for teacher and students; writes RUN_DIR/eval/report.md, report.json and plots)
  distill backends [--json]
                 (every backend: available or not and why, the WebGPU adapter and its limits, CUDA devices,
                  what \`auto\` picks, and how to install what is missing)

Ctrl-C during run/resume saves a checkpoint and exits 0; \`distill resume\` continues exactly there.
On Slurm, SIGUSR1 (--signal) saves a checkpoint and exits ${EXIT_REQUEUE} so the batch script requeues the task.
Guidance weight w: x̂ = (1 + w)·x̂(c) − w·x̂(∅); w = 0 is the plain conditional model.`;

async function engine() {
  // loaded lazily so `distill list` and usage errors stay instant
  return import('../engine/index');
}

/**
 * " on wasm 4.22.0 (2 threads, SIMD)" or " on webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)": what the times just
 * printed were measured on. The backend's warning (an emulated GPU) goes to stderr.
 */
async function onDevice(): Promise<string> {
  const { selectedBackend } = await engine();
  const { backendLabel } = await import('../engine/run/events');
  const info = await selectedBackend();
  if (!info) return '';
  if (info.warning) process.stderr.write(`warning: ${info.warning}\n`);
  return ` on ${backendLabel(info)}`;
}

/** Installs, with a message, the npm package a data kind reads when it is missing (the emoji sprites). */
async function ensureData(data: DataConfig): Promise<void> {
  const { ensureDataPackage } = await import('../launcher/data-package');
  await ensureDataPackage(data, { log: (line) => console.log(line) });
}

async function ensureRunData(runDir: string): Promise<void> {
  const { loadRunConfig } = await engine();
  await ensureData(loadRunConfig(runDir).data);
}

async function train(runDir: string, opts: { backend?: string; threads?: number }): Promise<number> {
  const { runStages } = await engine();
  await ensureRunData(runDir);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nStopping: saving a checkpoint (Ctrl-C again to quit without saving)…\n');
      controller.abort();
    } else {
      process.stderr.write('Quit without saving the current step; the last checkpoint is kept.\n');
      process.exit(130);
    }
  };
  // SIGTERM (kill, scancel, Slurm preemption — often sent more than once) always means "save and stop"
  const onSigterm = () => {
    if (controller.signal.aborted) return;
    process.stderr.write('\nSIGTERM: saving a checkpoint and stopping…\n');
    controller.abort();
  };
  // SIGUSR1: Slurm's warning before the time limit (sbatch --signal): save, stop, and ask the batch script to requeue
  let requeue = false;
  const onSigusr1 = () => {
    requeue = true;
    if (controller.signal.aborted) return;
    process.stderr.write('\nSIGUSR1: saving a checkpoint; the task will be requeued…\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGUSR1', onSigusr1);
  const progress = new ProgressPrinter(process.stdout);
  let summary: { rows: SummaryRow[]; real?: SummaryReal } = { rows: [] };
  console.log(`run folder: ${runDir}`);
  try {
    const status = await runStages({
      runDir,
      backend: opts.backend as never,
      threads: opts.threads,
      wasmDir: path.join(__dirname, 'wasm'),
      signal: controller.signal,
      onLog: (line) => progress.log(line),
      onEvent: (e: RunEvent) => {
        progress.event(e);
        if (e.type === 'summary') summary = e;
      },
    });
    progress.finish();
    if (status === 'stopped') {
      console.log(`Stopped and saved. Continue with: distill resume ${path.relative(process.cwd(), runDir) || '.'}`);
      return requeue ? EXIT_REQUEUE : 0;
    }
    for (const line of formatSummary(summary.rows, summary.real)) console.log(line);
    console.log(`\nFinished in ${formatDuration(progress.elapsedSeconds())}. Samples: ${path.join(runDir, 'samples')}`);
    return 0;
  } catch (e) {
    progress.finish();
    console.error(`\nerror: ${(e as Error).message}`);
    console.error(`Checkpoints written so far are kept in ${path.join(runDir, 'checkpoints')}; fix the cause and run: distill resume ${runDir}`);
    return 1;
  } finally {
    releaseSignals({ SIGINT: onSigint, SIGTERM: onSigterm, SIGUSR1: onSigusr1 });
  }
}

function numberList(value: string | undefined, flag: string, { integer = false } = {}): number[] | undefined {
  if (value === undefined) return undefined;
  const out = value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!out.length || out.some((n) => !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))) {
    throw new UsageError(`${flag}: expected a comma-separated list of ${integer ? 'non-negative integers' : 'non-negative numbers'}, got "${value}"`);
  }
  return out;
}

async function editCommand(rest: string[]): Promise<number> {
  const a = parseArgs(rest, { positional: 1, flags: ['image', 'class', 'strength', 'w', 'stage', 'steps', 'mask', 'seed', 'out', 'backend', 'threads'] });
  const required = (flag: string, what: string) => {
    const v = a.flags[flag];
    if (v === undefined || v === '') throw new UsageError(`--${flag}: required (${what})`);
    return v;
  };
  const number = (flag: string, what: string, ok: (n: number) => boolean) => {
    const v = a.flags[flag]!;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`--${flag}: expected ${what}, got "${v}"`);
    return n;
  };
  const image = required('image', 'the input image, PNG or JPEG');
  const cls = required('class', 'the target class: its id or name');
  required('strength', 'a number in [0, 1]: 0 keeps the input, 1 samples from pure noise');
  const strength = number('strength', 'a number in [0, 1]', (n) => n >= 0 && n <= 1);
  required('w', 'the guidance weight, e.g. --w 2');
  const w = number('w', 'a guidance weight ≥ 0', (n) => n >= 0);
  const out = required('out', 'the edited image, a .png file');
  if (!/\.png$/i.test(out)) throw new UsageError(`--out: expected a file name ending in .png, got "${out}"`);
  const stage = a.flags.stage;
  if (stage !== undefined && stage !== 'teacher' && stage !== 'guided' && stage !== 'progressive') throw new UsageError('--stage: expected teacher, guided or progressive');
  const steps = a.flags.steps !== undefined ? number('steps', 'a positive integer', (n) => Number.isInteger(n) && n >= 1) : undefined;
  const seed = a.flags.seed !== undefined ? number('seed', 'an integer', Number.isInteger) : 0;
  const { editRun } = await engine();
  const r = await editRun(
    { runDir: a.positional[0], image, class: cls, strength, w, stage, steps, mask: a.flags.mask, seed },
    { backend: a.backend as never, threads: a.threads, wasmDir: path.join(__dirname, 'wasm') },
  );
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, r.png);
  const what = a.flags.mask !== undefined ? 'inpainted' : 'edited';
  console.log(
    `${out}: ${what} ${r.shape.join('×')} image towards class ${r.classId} (${r.className}) at w = ${w}, strength ${strength}; ` +
      `${r.unit} · ${path.basename(r.checkpoint)} · ${r.times.length - 1} step${r.times.length === 2 ? '' : 's'} of the ${r.steps}-step grid from t = ${strength} · ${r.nfe} NFE · ${r.ms.toFixed(1)} ms${await onDevice()}`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case 'run': {
      const a = parseArgs(rest, { positional: 1, flags: ['runs-dir', 'name', 'backend', 'threads', 'launcher', ...SLURM_FLAGS], booleans: ['detach'] });
      const launcher = launcherFlag(a);
      const target = path.resolve(a.positional[0]);
      if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
        // a run folder prepared by a sweep (or the Slurm launcher) that has not trained yet
        if (!fs.existsSync(path.join(target, 'run.json'))) throw new UsageError(`${target}: expected a config file or a prepared run folder (no run.json)`);
        if (fs.statSync(path.join(target, 'events.jsonl')).size > 0) throw new UsageError(`${target} has already started; continue it with distill resume ${a.positional[0]}`);
        if (launcher === 'slurm') return submitRunCommand(target, a);
        return train(target, { backend: a.backend, threads: a.threads });
      }
      const { createRun, validateConfigFile } = await engine();
      const v = validateConfigFile(a.positional[0]);
      if (!v.ok) {
        console.error(`${a.positional[0]}: invalid configuration:\n  - ${v.errors.join('\n  - ')}`);
        return 2;
      }
      await ensureData(v.config.data); // before the run folder exists, so a failed install leaves none behind
      const runDir = await createRun({ configPath: a.positional[0], runsDir: a.flags['runs-dir'] ?? 'runs', name: a.flags.name });
      if (launcher === 'slurm') return submitRunCommand(runDir, a);
      return train(runDir, { backend: a.backend, threads: a.threads });
    }
    case 'resume': {
      const a = parseArgs(rest, { positional: 1, flags: ['backend', 'threads', 'launcher', ...SLURM_FLAGS], booleans: ['detach'] });
      const runDir = path.resolve(a.positional[0]);
      if (!fs.existsSync(path.join(runDir, 'run.json'))) throw new UsageError(`${runDir}: not a run folder (no run.json)`);
      if (launcherFlag(a) === 'slurm') return submitRunCommand(runDir, a);
      return train(runDir, { backend: a.backend, threads: a.threads });
    }
    case 'sweep': {
      const a = parseArgs(rest, { positional: 1, flags: ['runs-dir', 'launcher', 'max-parallel', ...SLURM_FLAGS], booleans: ['dry-run', 'detach'] });
      return sweepCommand(a);
    }
    case 'sample': {
      const a = parseArgs(rest, {
        positional: 1,
        flags: ['stage', 'steps', 'sampler', 'w', 'classes', 'per-class', 'seed', 'out', 'backend', 'threads'],
      });
      const stage = a.flags.stage;
      if (stage !== 'teacher' && stage !== 'guided' && stage !== 'progressive') throw new UsageError('--stage: expected teacher, guided or progressive');
      const sampler = a.flags.sampler ?? 'ddim';
      if (sampler !== 'ddim' && sampler !== 'stochastic') throw new UsageError('--sampler: expected ddim or stochastic');
      const out = a.flags.out;
      if (!out || !/\.(png|npy)$/.test(out)) throw new UsageError('--out: expected a file name ending in .png or .npy');
      const w = numberList(a.flags.w, '--w');
      if (!w) throw new UsageError('--w: required (e.g. --w 0,1,2,4 for a .png, or --w 2 for a .npy)');
      const { loadRunConfig, sampleGrid, sampleArrays } = await engine();
      const runDir = path.resolve(a.positional[0]);
      const cfg = loadRunConfig(runDir);
      const defaultSteps = stage === 'progressive' ? cfg.progressive.targetSteps : cfg.sampling.teacherSteps;
      const steps = a.flags.steps !== undefined ? Number(a.flags.steps) : defaultSteps;
      if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps: expected a positive integer, got "${a.flags.steps}"`);
      const perClass = a.flags['per-class'] !== undefined ? Number(a.flags['per-class']) : out.endsWith('.npy') ? 100 : 1;
      if (!Number.isInteger(perClass) || perClass < 1) throw new UsageError(`--per-class: expected a positive integer`);
      const seed = a.flags.seed !== undefined ? Number(a.flags.seed) : 0;
      if (!Number.isInteger(seed)) throw new UsageError('--seed: expected an integer');
      const classes = numberList(a.flags.classes, '--classes', { integer: true }) ?? [];
      const common = { runDir, stage, steps, sampler, classes, perClass, seed } as const;
      const bopts = { backend: a.backend as never, threads: a.threads, wasmDir: path.join(__dirname, 'wasm') };
      fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      if (out.endsWith('.png')) {
        const r = await sampleGrid({ ...common, w }, bopts);
        fs.writeFileSync(out, Buffer.from(r.pngBase64, 'base64'));
        console.log(`${out}: ${r.rows}×${r.cols} grid (rows = classes, columns = w ${w.join(', ')}); ${r.label}; ${r.msPerSample.toFixed(2)} ms per sample${await onDevice()}`);
      } else {
        if (w.length !== 1) throw new UsageError('--w: a .npy file holds one guidance weight; give exactly one value');
        const r = await sampleArrays({ ...common, w: w[0] }, bopts);
        fs.writeFileSync(out, encodeNpy(r.x, r.shape));
        const labelsFile = out.replace(/\.npy$/, '.labels.npy');
        fs.writeFileSync(labelsFile, encodeNpy(r.labels, [r.labels.length]));
        console.log(`${out}: float32 [${r.shape.join(', ')}] in [-1, 1]; ${labelsFile}: int32 class ids; ${r.nfe} NFE, ${r.msPerSample.toFixed(2)} ms per sample${await onDevice()}`);
      }
      return 0;
    }
    case 'edit':
      return editCommand(rest);
    case 'export': {
      const a = parseArgs(rest, { positional: 1, flags: ['stage', 'steps', 'out', 'checkpoint', 'backend', 'threads'] });
      const stage = a.flags.stage ?? 'progressive';
      if (stage !== 'guided' && stage !== 'progressive') throw new UsageError('--stage: expected progressive or guided (the teacher is not a distilled student)');
      const steps = a.flags.steps !== undefined ? Number(a.flags.steps) : undefined;
      if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) throw new UsageError(`--steps: expected a positive integer, got "${a.flags.steps}"`);
      const { exportStudent } = await engine();
      const r = await exportStudent({
        runDir: path.resolve(a.positional[0]),
        stage,
        steps,
        out: a.flags.out,
        checkpoint: a.flags.checkpoint,
        backend: a.backend as never,
        threads: a.threads,
        wasmDir: path.join(__dirname, 'wasm'),
      });
      console.log(r.summary);
      console.log(`open it: serve ${r.outDir} over HTTP (e.g. \`npx http-server ${path.relative(process.cwd(), r.outDir) || '.'}\`) and load index.html; see README.md there`);
      return 0;
    }
    case 'eval': {
      const a = parseArgs(rest, { positional: 1, flags: ['out', 'w', 'samples', 'teacher-steps', 'student-steps', 'seed', 'backend', 'threads'] });
      const samples = a.flags.samples !== undefined ? Number(a.flags.samples) : undefined;
      if (samples !== undefined && (!Number.isInteger(samples) || samples < 2)) throw new UsageError(`--samples: expected an integer ≥ 2, got "${a.flags.samples}"`);
      const seed = a.flags.seed !== undefined ? Number(a.flags.seed) : undefined;
      if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError('--seed: expected an integer');
      const positive = (flag: string) => {
        const v = numberList(a.flags[flag], `--${flag}`, { integer: true });
        if (v?.some((x) => x < 1)) throw new UsageError(`--${flag}: step counts must be ≥ 1`);
        return v;
      };
      const { evaluateRun } = await engine();
      await ensureRunData(path.resolve(a.positional[0]));
      const controller = new AbortController();
      const onSigint = () => {
        process.stderr.write('\nCancelling the evaluation (no report is written)…\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      let last = 0;
      try {
        const r = await evaluateRun({
          runDir: path.resolve(a.positional[0]),
          out: a.flags.out,
          w: numberList(a.flags.w, '--w'),
          samples,
          teacherSteps: positive('teacher-steps'),
          studentSteps: positive('student-steps'),
          seed,
          backend: a.backend as never,
          threads: a.threads,
          wasmDir: path.join(__dirname, 'wasm'),
          signal: controller.signal,
          onLog: (line) => console.log(line),
          onProgress: (done, total) => {
            const pctDone = total ? Math.floor((100 * done) / total) : 100;
            if (pctDone >= last + 10 && process.stderr.isTTY) {
              last = pctDone - (pctDone % 10);
              process.stderr.write(`  ${last} %\n`);
            }
          },
        });
        console.log(`\nreport: ${r.report}`);
        for (const f of r.files) if (f !== r.report) console.log(`        ${f}`);
        return 0;
      } catch (e) {
        if (controller.signal.aborted) {
          console.error('evaluation cancelled; no report written');
          return 130;
        }
        throw e;
      } finally {
        process.off('SIGINT', onSigint);
      }
    }
    case 'backends': {
      const a = parseArgs(rest, { positional: 0, flags: [], booleans: ['json'] });
      const { describeBackends, formatBackends } = await import('../engine/backend/report');
      const r = await describeBackends({ wasmDir: path.join(__dirname, 'wasm') });
      console.log(a.flags.json !== undefined ? JSON.stringify(r, null, 2) : formatBackends(r));
      return 0;
    }
    case 'list': {
      const a = parseArgs(rest, { positional: [0, 1], flags: [] });
      const { listRuns } = await import('../engine/run/run-folder');
      const runsDir = path.resolve(a.positional[0] ?? 'runs');
      const { isSweepDir } = await import('../engine/run/sweep');
      // runs of sweeps (runs/<sweep>/<variant>/) are listed as <sweep>/<variant>
      const runs = [
        ...listRuns(runsDir),
        ...(fs.existsSync(runsDir) ? fs.readdirSync(runsDir, { withFileTypes: true }) : []).flatMap((d) =>
          d.isDirectory() && isSweepDir(path.join(runsDir, d.name)) ? listRuns(path.join(runsDir, d.name)).map((r) => ({ ...r, name: `${d.name}/${r.name}` })) : [],
        ),
      ];
      if (!runs.length) {
        console.log(`no runs in ${runsDir}`);
        return 0;
      }
      const rows = [['run', 'status', 'stage', 'step', 'last loss', 'created']];
      for (const r of runs) {
        const s = r.summary;
        const cur = s.units.find((u) => u.unit === s.currentUnit);
        rows.push([
          r.name,
          s.status,
          s.currentUnit ?? '-',
          cur ? `${cur.step}/${cur.totalSteps}` : '-',
          cur?.lastLoss !== undefined ? cur.lastLoss.toPrecision(4) : '-',
          r.meta ? new Date(r.meta.createdAt).toISOString().replace('T', ' ').slice(0, 19) : '-',
        ]);
      }
      const widths = rows[0].map((_, i) => Math.max(...rows.map((l) => l[i].length)));
      for (const l of rows) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) {
      console.error(`distill: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    // The engine is loaded by now if the error came from it; a wasm trap is explained (usually the 4 GiB heap).
    import('../engine/backend/wasm/heap').then(
      ({ explainWasmTrap }) => console.error(`distill: ${(explainWasmTrap(e) as Error).message}`),
      () => console.error(`distill: ${(e as Error).message}`),
    ).finally(() => process.exit(1));
  },
);
