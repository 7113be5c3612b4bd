/**
 * Sweeps end to end, shared by `distill sweep` and the extension's Start Sweep: plan (expand + check existing run
 * folders), prepare (create the missing folders and runs/<sweep>/sweep.json), launch the unfinished variants
 * (local child processes or one Slurm job array), follow their states, and the final table.
 * Running a sweep again never starts a finished variant twice, leaves live ones alone and resumes the others.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createRunFolder } from '../engine/run/create-run';
import { ResolvedConfig, runHash } from '../engine/run/config';
import { loadRunConfig } from '../engine/run/run-config';
import type { RunStatus } from '../engine/run/events';
import { describeRun, isRunDir, readMeta, requestStop } from '../engine/run/run-folder';
import {
  Launcher,
  loadSweepFile,
  LoadedSweep,
  readSweepManifest,
  SlurmOptions,
  SweepManifest,
  Variant,
  writeSweepManifest,
} from '../engine/run/sweep';
import { LocalPool, TaskContext } from './local';
import { batchScript, JobInfo, queryJobs, readRunSlurm, sbatch, scancel, SlurmRunner, writeRunSlurm } from './slurm';

export interface PlannedVariant {
  variant: Variant;
  runDir: string;
  /** Status of an existing run folder (undefined: not created yet). */
  status?: RunStatus;
}

export interface SweepPlan {
  sweep: LoadedSweep;
  sweepDir: string;
  variants: PlannedVariant[];
}

/**
 * True when a variant's run folder was created from this variant's config. Stricter than resuming: a changed
 * `progressive.targetSteps` counts too, because the sweep resumes the folder's own config.json, not the sweep's.
 */
function sameConfig(runDir: string, cfg: ResolvedConfig): boolean {
  if (runHash(cfg, readMeta(runDir).configHash) === undefined) return false;
  try {
    return loadRunConfig(runDir).progressive.targetSteps === cfg.progressive.targetSteps;
  } catch {
    return false;
  }
}

/** Expands the sweep and looks at what already exists under runsDir/<name>/ (no writes). */
export function planSweep(file: string, runsDir: string): SweepPlan {
  const sweep = loadSweepFile(file);
  const sweepDir = path.resolve(runsDir, sweep.spec.name);
  const problems: string[] = [];
  const variants = sweep.variants.map((variant) => {
    const runDir = path.join(sweepDir, variant.name);
    let status: RunStatus | undefined;
    if (isRunDir(runDir)) {
      if (!sameConfig(runDir, variant.config)) {
        problems.push(
          `variant ${variant.name}: ${runDir} was created from a different config (the sweep or its base changed); move it away or rename the sweep`,
        );
      }
      status = describeRun(runDir).summary.status;
    } else if (fs.existsSync(runDir))
      problems.push(`variant ${variant.name}: ${runDir} exists but is not a run folder`);
    return { variant, runDir, status };
  });
  if (problems.length) throw new Error(`${sweep.file}:\n  - ${problems.join('\n  - ')}`);
  return { sweep, sweepDir, variants };
}

/** Creates the missing run folders and writes/updates the manifest. */
export function prepareSweep(plan: SweepPlan, launcher: Launcher): SweepManifest {
  fs.mkdirSync(plan.sweepDir, { recursive: true });
  const old = readSweepManifest(plan.sweepDir);
  for (const v of plan.variants) if (!v.status) createRunFolder(v.runDir, v.variant.config, plan.sweep.file);
  const byName = new Map(old?.variants.map((v) => [v.name, v]) ?? []);
  const m: SweepManifest = {
    version: 1,
    name: plan.sweep.spec.name,
    sweepFile: plan.sweep.file,
    baseSource: plan.sweep.baseSource,
    createdAt: old?.createdAt ?? Date.now(),
    updatedAt: Date.now(),
    launcher,
    submissions: old?.submissions ?? [],
    variants: plan.variants.map(({ variant }) => ({
      ...byName.get(variant.name),
      index: variant.index,
      name: variant.name,
      dir: variant.name,
      params: variant.params,
    })),
  };
  writeSweepManifest(plan.sweepDir, m);
  return m;
}

export interface VariantStatus {
  index: number;
  name: string;
  runDir: string;
  params: Record<string, unknown>;
  /** Run folder status (events.jsonl + lock). */
  run: RunStatus;
  /** What the launcher says: Slurm's state, or the local pool's. */
  state: string;
  /** True while a launcher may still run it (listed by squeue, or a live local writer). */
  active: boolean;
  jobId?: string;
  node?: string;
  reason?: string;
  exitCode?: string;
  unit?: string;
  step?: number;
  totalSteps?: number;
  /** Last loss of each trained unit. */
  losses: Record<string, number>;
}

const RUN_STATE: Record<RunStatus, string> = {
  new: 'NEW',
  running: 'RUNNING',
  stopped: 'STOPPED',
  finished: 'COMPLETED',
  failed: 'FAILED',
};

/** Combines a run folder with its Slurm job (when it has one) into one status. */
export function variantStatus(
  v: { index: number; name: string; runDir: string; params: Record<string, unknown>; jobId?: string; node?: string },
  job?: JobInfo,
): VariantStatus {
  const { summary } = describeRun(v.runDir);
  const losses: Record<string, number> = {};
  for (const u of summary.units) if (u.lastLoss !== undefined) losses[u.unit] = u.lastLoss;
  const cur = summary.units.find((u) => u.unit === summary.currentUnit);
  const inQueue = job?.source === 'squeue';
  let state = RUN_STATE[summary.status];
  if (job) state = job.state;
  // Slurm's word is final only while the job is queued or running; after that the run folder knows more
  // (a job COMPLETED after a Stop holds a stopped run).
  if (job && !inQueue && summary.status !== 'finished' && job.state === 'COMPLETED') state = RUN_STATE[summary.status];
  return {
    index: v.index,
    name: v.name,
    runDir: v.runDir,
    params: v.params,
    run: summary.status,
    state,
    // squeue lists every live job: a run whose job it does not list is not running, whatever a lock left by a
    // killed task on another node says
    active: v.jobId ? inQueue : summary.status === 'running',
    jobId: v.jobId,
    node: job?.node ?? v.node,
    reason: job?.reason,
    exitCode: job?.exitCode,
    unit: summary.currentUnit,
    step: cur?.step,
    totalSteps: cur?.totalSteps,
    losses,
  };
}

/** Status of every variant of a sweep folder (one squeue call for all of them). */
export async function sweepStatus(
  sweepDir: string,
  runner: SlurmRunner = {},
  { tolerant = true } = {},
): Promise<VariantStatus[]> {
  const m = readSweepManifest(sweepDir);
  if (!m) throw new Error(`${sweepDir}: not a sweep folder (no sweep.json)`);
  const ids = m.variants.map((v) => v.jobId).filter((x): x is string => !!x);
  let jobs = new Map<string, JobInfo>();
  if (ids.length) {
    try {
      jobs = await queryJobs(ids, runner);
    } catch (e) {
      if (!tolerant) throw e;
      jobs = new Map(); // no Slurm reachable here: the run folders still tell most of it
    }
  }
  return m.variants.map((v) =>
    variantStatus({ ...v, runDir: path.join(sweepDir, v.dir) }, v.jobId ? jobs.get(v.jobId) : undefined),
  );
}

export interface LaunchOptions {
  launcher: Launcher;
  /** Local: processes at once (default one per two cores). Slurm: the array's %M (default: no limit). */
  maxParallel?: number;
  /** Defaults (settings / CLI); the sweep file's own slurm block wins. */
  slurmDefaults?: SlurmOptions;
  task: TaskContext;
  runner?: SlurmRunner;
  log?: (line: string) => void;
}

export function defaultLocalParallel(): number {
  return Math.max(1, Math.floor(os.cpus().length / 2));
}

/** Which variants a launch starts: not finished, and not queued/running already. */
export function variantsToStart(statuses: VariantStatus[]): number[] {
  return statuses.filter((s) => s.run !== 'finished' && !s.active).map((s) => s.index);
}

export function slurmOptionsFor(plan: { sweep: LoadedSweep }, defaults: SlurmOptions = {}): SlurmOptions {
  return {
    ...defaults,
    ...plan.sweep.spec.slurm,
    extra: [...(defaults.extra ?? []), ...(plan.sweep.spec.slurm?.extra ?? [])],
  };
}

export function sweepScript(
  plan: SweepPlan,
  indices: number[],
  opts: Pick<LaunchOptions, 'maxParallel' | 'slurmDefaults' | 'task'>,
): string {
  return batchScript({
    jobName: `distill-${plan.sweep.spec.name}`,
    runDirs: new Map(plan.variants.map((v) => [v.variant.index, v.runDir])),
    indices,
    maxParallel: opts.maxParallel,
    threads: new Map(
      plan.variants
        .filter((v) => v.variant.config.threads === 0)
        .map((v) => [v.variant.index, slurmOptionsFor(plan, opts.slurmDefaults).cpusPerTask ?? 1]),
    ),
    logDir: path.join(plan.sweepDir, 'slurm'),
    slurm: slurmOptionsFor(plan, opts.slurmDefaults),
    nodePath: opts.task.nodePath,
    cliPath: opts.task.cliPath,
    origin: `sweep ${plan.sweep.spec.name} (${plan.sweep.file})`,
  });
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

/** Submits the given variants as one job array; records job ids in the manifest and in each run's slurm.json. */
export async function submitSlurm(plan: SweepPlan, indices: number[], opts: LaunchOptions): Promise<string> {
  const dir = path.join(plan.sweepDir, 'slurm');
  fs.mkdirSync(dir, { recursive: true });
  const scriptFile = path.join(dir, `submit-${stamp()}.sbatch`);
  fs.writeFileSync(scriptFile, sweepScript(plan, indices, opts), { mode: 0o755 });
  const jobId = await sbatch(scriptFile, opts.runner);
  const m = readSweepManifest(plan.sweepDir)!;
  const at = Date.now();
  m.launcher = 'slurm';
  m.submissions.push({ jobId, script: path.relative(plan.sweepDir, scriptFile), variants: indices, at });
  for (const v of m.variants) {
    if (!indices.includes(v.index)) continue;
    v.jobId = `${jobId}_${v.index}`;
    v.state = 'PENDING';
    writeRunSlurm(path.join(plan.sweepDir, v.dir), { jobId: v.jobId, script: scriptFile, submittedAt: at });
  }
  writeSweepManifest(plan.sweepDir, m);
  opts.log?.(`submitted job array ${jobId} (${indices.length} task(s)): ${scriptFile}`);
  return jobId;
}

/** Runs the given variants as local child processes; resolves when all ended. stop() via the returned pool. */
export function runLocal(
  plan: SweepPlan,
  indices: number[],
  opts: LaunchOptions,
): { pool: LocalPool; done: Promise<Map<number, number | null>> } {
  const m = readSweepManifest(plan.sweepDir)!;
  // a resumed sweep keeps its first --max-parallel: configs with threads: 0 get cores / maxParallel threads, and the
  // thread count is part of what makes a resumed run reproduce the uninterrupted one exactly
  const maxParallel = opts.maxParallel ?? m.maxParallel ?? defaultLocalParallel();
  const threads = Math.max(1, Math.floor(os.cpus().length / maxParallel));
  const pool = new LocalPool(opts.task, maxParallel);
  const tasks = plan.variants
    .filter((v) => indices.includes(v.variant.index))
    .map((v) => ({
      index: v.variant.index,
      runDir: v.runDir,
      logFile: path.join(plan.sweepDir, 'logs', `${v.variant.name}.log`),
      threads: v.variant.config.threads > 0 ? undefined : threads,
    }));
  m.launcher = 'local';
  m.maxParallel = maxParallel;
  writeSweepManifest(plan.sweepDir, m);
  const done = pool.run(tasks, (index, state, code) => {
    const cur = readSweepManifest(plan.sweepDir);
    const v = cur?.variants.find((x) => x.index === index);
    if (!cur || !v) return;
    v.state = state;
    v.node = os.hostname();
    if (code !== undefined && code !== null) v.exitCode = String(code);
    delete v.jobId;
    writeSweepManifest(plan.sweepDir, cur);
    opts.log?.(`${v.name}: ${state}${code !== undefined && code !== null ? ` (exit ${code})` : ''}`);
  });
  return { pool, done };
}

/** Polls `read` until no entry is queued or running, calling onChange whenever a state changes. */
export async function waitUntilIdle(
  read: () => Promise<VariantStatus[]>,
  {
    pollMs = 5000,
    signal,
    onChange,
  }: { pollMs?: number; signal?: AbortSignal; onChange?: (s: VariantStatus[]) => void } = {},
): Promise<VariantStatus[]> {
  let last = '';
  let failures = 0;
  for (;;) {
    let s: VariantStatus[];
    try {
      s = await read();
      failures = 0;
    } catch (e) {
      // a scheduler that does not answer once (busy controller, failover) is no reason to stop following
      if (++failures >= 10 || signal?.aborted) throw e;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    const key = s.map((v) => `${v.state}/${v.node ?? ''}/${v.unit ?? ''}`).join(',');
    if (key !== last) {
      last = key;
      onChange?.(s);
    }
    if (!s.some((v) => v.active) || signal?.aborted) return s;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The sweep as a whole: running while anything is queued or running, else finished / failed / stopped. */
export function sweepState(s: VariantStatus[]): 'running' | 'finished' | 'failed' | 'stopped' {
  if (s.some((v) => v.active)) return 'running';
  if (s.every((v) => v.run === 'finished')) return 'finished';
  if (
    s.some(
      (v) => v.run === 'failed' || ['FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'TIMEOUT'].includes(v.state),
    )
  )
    return 'failed';
  return 'stopped';
}

/** Follows a sweep until none of its variants is queued or running, keeping sweep.json's states current. */
export function waitForSweep(
  sweepDir: string,
  opts: {
    runner?: SlurmRunner;
    pollMs?: number;
    signal?: AbortSignal;
    onChange?: (s: VariantStatus[]) => void;
    tolerant?: boolean;
  } = {},
): Promise<VariantStatus[]> {
  // tolerant: the local launcher follows its own processes; jobs of an earlier Slurm submission need no answer
  return waitUntilIdle(() => sweepStatus(sweepDir, opts.runner, { tolerant: opts.tolerant ?? false }), {
    ...opts,
    onChange: (s) => {
      recordStates(sweepDir, s);
      opts.onChange?.(s);
    },
  });
}

function recordStates(sweepDir: string, s: VariantStatus[]): void {
  const m = readSweepManifest(sweepDir);
  if (!m) return;
  for (const v of m.variants) {
    const st = s.find((x) => x.index === v.index);
    if (st) Object.assign(v, { state: st.state, node: st.node ?? v.node, exitCode: st.exitCode ?? v.exitCode });
  }
  m.state = sweepState(s);
  writeSweepManifest(sweepDir, m);
}

// ---------------------------------------------------------------------------------------------------------------
// One run on Slurm (`distill run|resume --launcher slurm`, the extension's Start/Resume with distill.launcher slurm)

/** Submits one run folder as a one-task array; records the job in <run>/slurm.json. Returns "<job>_0". */
export async function submitRunSlurm(
  runDir: string,
  opts: Pick<LaunchOptions, 'slurmDefaults' | 'task' | 'runner' | 'log'>,
): Promise<string> {
  const dir = path.join(runDir, 'slurm');
  fs.mkdirSync(dir, { recursive: true });
  const scriptFile = path.join(dir, `submit-${stamp()}.sbatch`);
  const cfgThreads =
    (JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { threads?: number }).threads ?? 0;
  const script = batchScript({
    jobName: `distill-${path.basename(runDir)}`,
    runDirs: new Map([[0, path.resolve(runDir)]]),
    threads: cfgThreads > 0 ? undefined : new Map([[0, opts.slurmDefaults?.cpusPerTask ?? 1]]),
    indices: [0],
    logDir: dir,
    slurm: opts.slurmDefaults ?? {},
    nodePath: opts.task.nodePath,
    cliPath: opts.task.cliPath,
    origin: `run ${runDir}`,
  });
  fs.writeFileSync(scriptFile, script, { mode: 0o755 });
  const jobId = `${await sbatch(scriptFile, opts.runner)}_0`;
  writeRunSlurm(runDir, { jobId, script: scriptFile, submittedAt: Date.now() });
  opts.log?.(`submitted job ${jobId}: ${scriptFile}`);
  return jobId;
}

/** A single run's status with its Slurm job (if it has one). */
export async function runStatus(runDir: string, runner: SlurmRunner = {}): Promise<VariantStatus> {
  const rec = readRunSlurm(runDir);
  let job: JobInfo | undefined;
  if (rec) {
    try {
      job = (await queryJobs([rec.jobId], runner)).get(rec.jobId);
    } catch {
      job = undefined;
    }
  }
  return variantStatus({ index: 0, name: path.basename(runDir), runDir, params: {}, jobId: rec?.jobId }, job);
}

/** The end-of-sweep table: variant, state, job, node, run status and the final loss of each unit. */
export function formatSweepTable(statuses: VariantStatus[]): string {
  const units: string[] = [];
  for (const s of statuses) for (const u of Object.keys(s.losses)) if (!units.includes(u)) units.push(u);
  const rows = [
    ['variant', 'state', 'job', 'node', 'run', ...units.map((u) => `${u} loss`)],
    ...statuses.map((s) => [
      s.name,
      s.state,
      s.jobId ?? '-',
      s.node ?? '-',
      s.run === 'running' && s.step !== undefined ? `${s.unit} ${s.step}/${s.totalSteps}` : s.run,
      ...units.map((u) => (s.losses[u] !== undefined ? s.losses[u].toPrecision(4) : '-')),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map(
      (r, k) =>
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd() + (k === 0 ? '\n' + widths.map((w) => '─'.repeat(w)).join('  ') : ''),
    )
    .join('\n');
}

/** Starts `distill sweep FILE --launcher local` as a detached process (its own log): the CLI's --detach, the editor's Start Sweep. */
export function startLocalSweepDetached(
  file: string,
  runsDir: string,
  sweepDir: string,
  task: TaskContext,
  maxParallel?: number,
): { pid: number | undefined; logFile: string } {
  fs.mkdirSync(sweepDir, { recursive: true });
  const args = [
    task.cliPath,
    'sweep',
    path.resolve(file),
    '--runs-dir',
    path.resolve(runsDir),
    '--launcher',
    'local',
    ...(maxParallel ? ['--max-parallel', String(maxParallel)] : []),
  ];
  const logFile = path.join(sweepDir, 'sweep.log');
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(task.nodePath, args, { detached: true, stdio: ['ignore', fd, fd], env: task.env ?? process.env });
  child.unref();
  fs.closeSync(fd);
  return { pid: child.pid, logFile };
}

/**
 * Stop for a run with a Slurm job: a stop request (the task saves a checkpoint and exits, ending its job), and
 * scancel for a job that has not started (or has not stopped after `graceMs`). Resolves with what it did.
 */
export async function stopSlurmRun(
  runDir: string,
  jobId: string,
  { runner = {}, graceMs = 120_000, pollMs = 2000 }: { runner?: SlurmRunner; graceMs?: number; pollMs?: number } = {},
): Promise<'cancelled' | 'stopped'> {
  requestStop(runDir);
  const t0 = Date.now();
  for (;;) {
    const job = (await queryJobs([jobId], runner)).get(jobId);
    if (!job || job.source !== 'squeue') return 'stopped';
    if (job.state === 'PENDING' || Date.now() - t0 > graceMs) {
      await scancel([jobId], runner);
      return 'cancelled';
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
