/**
 * `distill sweep SWEEP.json [--runs-dir DIR] [--launcher local|slurm] [--max-parallel N] [--dry-run] [--detach]`
 * and the Slurm side of `distill run|resume --launcher slurm`. The work is the launcher module's (src/launcher),
 * which the extension calls too; this file is argument handling and printing.
 */
import * as path from 'path';
import { SweepError, SlurmOptions } from '../engine/run/sweep';
import type { TaskContext } from '../launcher/local';
import {
  defaultLocalParallel,
  formatSweepTable,
  planSweep,
  prepareSweep,
  runLocal,
  runStatus,
  startLocalSweepDetached,
  submitRunSlurm,
  submitSlurm,
  sweepScript,
  sweepStatus,
  variantsToStart,
  VariantStatus,
  waitForSweep,
  waitUntilIdle,
} from '../launcher/sweep';
import { flag, isPositiveInteger, number, oneOf, OptionValues, text } from './args';
import { releaseSignals } from './signals';

export function taskContext(): TaskContext {
  return { nodePath: process.execPath, cliPath: path.join(__dirname, 'cli.js') };
}

/** --launcher: where run, resume and sweep train. */
export const LAUNCHER_OPTIONS = {
  launcher: oneOf(
    ['local', 'slurm'] as const,
    'L',
    'local (this machine, the default) or slurm (a batch job through sbatch)',
    'local or slurm',
    { echo: true },
  ),
};

/** sbatch's resources; defaults under a sweep file's own slurm block. */
export const SLURM_OPTIONS = {
  partition: text('P', "sbatch --partition (default: the cluster's)"),
  time: text('T', 'sbatch --time per task, e.g. 4:00:00; tasks checkpoint and requeue themselves before it'),
  gres: text('G', 'sbatch --gres, e.g. gpu:1'),
  'cpus-per-task': number(
    'N',
    'sbatch --cpus-per-task; also the threads of runs whose config says threads: 0',
    'a positive integer',
    isPositiveInteger,
  ),
  mem: text('M', 'sbatch --mem, e.g. 8G'),
  account: text('A', 'sbatch --account'),
  qos: text('Q', 'sbatch --qos'),
};

export type LauncherValues = OptionValues<typeof LAUNCHER_OPTIONS>;
export type SlurmValues = OptionValues<typeof SLURM_OPTIONS>;

/** --partition … flags (defaults under the sweep file's own slurm block). */
export function slurmFlags(f: SlurmValues): SlurmOptions {
  const o: SlurmOptions = {};
  if (f.partition) o.partition = f.partition;
  if (f.time) o.time = f.time;
  if (f.gres) o.gres = f.gres;
  if (f.mem) o.mem = f.mem;
  if (f.account) o.account = f.account;
  if (f.qos) o.qos = f.qos;
  if (f['cpus-per-task'] !== undefined) o.cpusPerTask = f['cpus-per-task'];
  return o;
}

export function launcherFlag(f: LauncherValues): 'local' | 'slurm' {
  return f.launcher ?? 'local';
}

const POLL_MS = Number(process.env.DISTILL_POLL_MS) > 0 ? Number(process.env.DISTILL_POLL_MS) : 5000;

function printStates(s: VariantStatus[]): void {
  const t = new Date().toISOString().slice(11, 19);
  console.log(
    `[${t}] ` +
      s
        .map(
          (v) =>
            `${v.name}: ${v.state}${v.node ? `@${v.node}` : ''}${v.run === 'running' && v.unit ? ` ${v.unit} ${v.step}/${v.totalSteps}` : ''}`,
        )
        .join(' | '),
  );
}

/** The options of `distill sweep`. */
export const SWEEP_OPTIONS = {
  'runs-dir': text('DIR', 'where the sweep folder RUNS_DIR/<sweep name>/ goes (default: runs)'),
  ...LAUNCHER_OPTIONS,
  'max-parallel': number(
    'N',
    "runs at once (local: processes, default one per two cores; slurm: the array's %N limit)",
    'a positive integer',
    isPositiveInteger,
  ),
  'dry-run': flag('print the variants and the sbatch script; start nothing, write nothing'),
  detach: flag('return once the variants are started (local: a background process; slurm: once submitted)'),
  ...SLURM_OPTIONS,
};

export async function sweepCommand(file: string, o: OptionValues<typeof SWEEP_OPTIONS>): Promise<number> {
  const launcher = launcherFlag(o);
  const runsDir = path.resolve(o['runs-dir'] ?? 'runs');
  const maxParallel = o['max-parallel'];
  const dryRun = o['dry-run'] === true;
  const detach = o.detach === true;
  let plan;
  try {
    plan = planSweep(file, runsDir);
  } catch (e) {
    if (e instanceof SweepError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const opts = {
    launcher,
    maxParallel,
    slurmDefaults: slurmFlags(o),
    task: taskContext(),
    log: (l: string) => console.log(l),
  };
  const n = plan.variants.length;
  console.log(`sweep ${plan.sweep.spec.name}: ${n} variant(s) → ${plan.sweepDir}`);
  if (dryRun) {
    for (const v of plan.variants) {
      console.log(`  ${v.variant.name}${v.status ? `  (exists: ${v.status})` : ''}`);
      console.log(
        `      ${
          Object.entries(v.variant.params)
            .map(([k, x]) => `${k} = ${JSON.stringify(x)}`)
            .join(', ') || '(base config)'
        }`,
      );
    }
    const todo = plan.variants.filter((v) => v.status !== 'finished').map((v) => v.variant.index);
    console.log(`\nsbatch script${launcher === 'slurm' ? '' : ' (what --launcher slurm would submit)'}:\n`);
    console.log(todo.length ? sweepScript(plan, todo, opts) : '(every variant has finished: nothing to submit)');
    if (launcher === 'local')
      console.log(`local launcher: at most ${maxParallel ?? defaultLocalParallel()} process(es) at once`);
    return 0;
  }
  prepareSweep(plan, launcher);
  const before = await sweepStatus(plan.sweepDir, {}, { tolerant: launcher === 'local' });
  const start = variantsToStart(before);
  const finished = before.filter((s) => s.run === 'finished').length;
  const live = before.filter((s) => s.active).length;
  console.log(`${finished} finished, ${live} queued or running, starting ${start.length} (${launcher})`);

  if (launcher === 'slurm') {
    if (start.length) await submitSlurm(plan, start, opts);
    if (detach) {
      console.log(
        `detached; follow it with \`distill sweep ${file} --launcher slurm\` (never starts a variant twice), squeue, or the editor's Runs view`,
      );
      return 0;
    }
    const ac = new AbortController();
    const onSigint = () => {
      console.log(
        '\nStopped following; the jobs keep running on the cluster. Run the same command again to follow them.',
      );
      ac.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const end = await waitForSweep(plan.sweepDir, { pollMs: POLL_MS, signal: ac.signal, onChange: printStates });
      if (ac.signal.aborted) return 130;
      return report(end);
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  if (detach) {
    const { pid, logFile } = startLocalSweepDetached(file, runsDir, plan.sweepDir, opts.task, maxParallel);
    console.log(
      `detached: process ${pid} runs the sweep locally (log: ${logFile}); kill -INT ${pid} stops it with checkpoints`,
    );
    return 0;
  }
  const { pool, done } = runLocal(plan, start, opts);
  let interrupts = 0;
  const onSig = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write(
        '\nStopping the sweep: every running variant saves a checkpoint (run the sweep again to resume)…\n',
      );
      pool.stop();
    }
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    await done;
  } finally {
    releaseSignals({ SIGINT: onSig, SIGTERM: onSig });
  }
  // variants another process was already running: wait for them too
  const end = await waitForSweep(plan.sweepDir, {
    pollMs: POLL_MS,
    onChange: live ? printStates : undefined,
    tolerant: true,
  });
  if (interrupts) {
    console.log(formatSweepTable(end));
    console.log(
      `\nStopped. Continue with: distill sweep ${file}${o['runs-dir'] ? ` --runs-dir ${o['runs-dir']}` : ''}`,
    );
    return 0;
  }
  return report(end);
}

function report(end: VariantStatus[]): number {
  console.log('\n' + formatSweepTable(end));
  const bad = end.filter((s) => s.run !== 'finished');
  if (bad.length) {
    console.log(
      `\n${bad.length} of ${end.length} variant(s) did not finish: ${bad.map((b) => `${b.name} (${b.state})`).join(', ')}`,
    );
    return 1;
  }
  console.log(`\nall ${end.length} variant(s) finished`);
  return 0;
}

/** `distill run|resume … --launcher slurm`: submit the run folder as a job, then follow it unless --detach. */
export async function submitRunCommand(runDir: string, o: SlurmValues & { detach?: true }): Promise<number> {
  const jobId = await submitRunSlurm(runDir, {
    slurmDefaults: slurmFlags(o),
    task: taskContext(),
    log: (l) => console.log(l),
  });
  if (o.detach === true) {
    console.log(
      `detached; the run folder ${runDir} shows the progress (distill list, the editor's Runs view); cancel with scancel ${jobId}`,
    );
    return 0;
  }
  const ac = new AbortController();
  const onSigint = () => {
    console.log(`\nStopped following; job ${jobId} keeps running (scancel ${jobId} saves a checkpoint and stops it).`);
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const [end] = await waitUntilIdle(async () => [await runStatus(runDir)], {
      pollMs: POLL_MS,
      signal: ac.signal,
      onChange: printStates,
    });
    if (ac.signal.aborted) return 130;
    return report([end]);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
