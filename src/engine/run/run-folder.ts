/**
 * The run folder: the one on-disk contract shared by the CLI, the worker, the extension and the dashboard.
 *
 *   <run>/config.json                       resolved config (every default filled in), written once
 *   <run>/run.json                          { name, createdAt, configSource, configHash, version }
 *   <run>/events.jsonl                      append-only event log (see events.ts)
 *   <run>/run.lock                          { pid, host, startedAt } while a process writes; a second writer is refused
 *   <run>/stop.request                      created by anyone who wants the writer to save and exit (removed by the writer)
 *   <run>/checkpoints/<unit>/step-NNNNNNN.ckpt  checkpoints (unit = teacher | guided | progressive-64-32 | …; latent-space
 *                                            runs first train `autoencoder`, whose final checkpoint holds the latent scale)
 *   <run>/samples/<unit>/step-NNNNNNN.png   sample grids: rows = classes, columns = guidance weights w
 *   <run>/eval/                             `distill eval` output (report.md, report.json, plots)
 *
 * Only fs and path here: the extension host imports this without loading tfjs.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseEventLines, RunEvent, RunSummary, summarizeEvents } from './events';

export const FILES = {
  config: 'config.json',
  meta: 'run.json',
  events: 'events.jsonl',
  lock: 'run.lock',
  stop: 'stop.request',
  checkpoints: 'checkpoints',
  samples: 'samples',
  eval: 'eval',
} as const;

export interface RunMeta {
  name: string;
  createdAt: number;
  configSource?: string;
  configHash: string;
  version: string;
}

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: number;
  /** SLURM_JOB_ID of the writer when it ran as a Slurm job (a requeued job restarts under the same id). */
  slurmJob?: string;
}

export function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, FILES.meta)) && fs.existsSync(path.join(dir, FILES.config));
}

/** Writes `data` to `file` atomically: a temp file in the same folder, fsync, then rename over the target. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function unitDir(runDir: string, kind: 'checkpoints' | 'samples', unit: string): string {
  return path.join(runDir, FILES[kind], unit);
}

export function stepFileName(step: number, ext: string): string {
  return `step-${String(step).padStart(7, '0')}.${ext}`;
}

export function parseStepFileName(name: string): number | undefined {
  const m = /^step-(\d+)\.(ckpt|png)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Checkpoint files of a unit that exist on disk, oldest first. */
export function listCheckpoints(runDir: string, unit: string): { step: number; file: string }[] {
  const dir = unitDir(runDir, 'checkpoints', unit);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, step: parseStepFileName(name) }))
    .filter((x): x is { name: string; step: number } => x.step !== undefined && x.name.endsWith('.ckpt'))
    .sort((a, b) => a.step - b.step)
    .map((x) => ({ step: x.step, file: path.join(FILES.checkpoints, unit, x.name) }));
}

export function readEvents(runDir: string): { events: RunEvent[]; skipped: number } {
  const file = path.join(runDir, FILES.events);
  if (!fs.existsSync(file)) return { events: [], skipped: 0 };
  return parseEventLines(fs.readFileSync(file, 'utf8'));
}

export function readMeta(runDir: string): RunMeta {
  const file = path.join(runDir, FILES.meta);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunMeta;
  } catch (e) {
    throw new Error(`${file}: not a readable run description (${(e as Error).message})`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(runDir: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, FILES.lock), 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/** True when a live process on this host holds the lock (a lock from another host is trusted as live). */
export function lockIsLive(lock: LockInfo | undefined): boolean {
  if (!lock) return false;
  if (lock.host !== os.hostname()) return true;
  return processAlive(lock.pid);
}

/**
 * Takes the run's writer lock or throws a clear error naming the holder. A stale lock (its process is gone) is replaced.
 * Returns a release function.
 */
export function acquireLock(runDir: string): () => void {
  const file = path.join(runDir, FILES.lock);
  const slurmJob = process.env.SLURM_JOB_ID || undefined;
  const mine: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: Date.now(),
    ...(slurmJob ? { slurmJob } : {}),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const cur = readLock(runDir);
        if (cur && cur.pid === mine.pid && cur.host === mine.host) fs.rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLock(runDir);
      // Slurm runs one instance of a job at a time: a lock left by this same job (killed, then requeued, maybe on
      // another node) belongs to a process that is gone.
      const sameSlurmJob = !!slurmJob && holder?.slurmJob === slurmJob;
      if (holder && lockIsLive(holder) && !sameSlurmJob) {
        throw new Error(
          `${runDir} is in use: process ${holder.pid} on ${holder.host} has been writing it since ` +
            `${new Date(holder.startedAt).toISOString()} (${file}). Stop that process first.`,
        );
      }
      fs.rmSync(file, { force: true }); // stale: its writer is gone
    }
  }
  throw new Error(`${file}: could not take the run lock`);
}

/** Appends events to events.jsonl, one line each, flushed at once so readers (and a crash) see whole lines. */
export class EventLog {
  private fd: number;
  constructor(readonly runDir: string) {
    this.fd = fs.openSync(path.join(runDir, FILES.events), 'a');
  }
  append(event: RunEvent): void {
    fs.writeSync(this.fd, JSON.stringify(event) + '\n');
  }
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export function requestStop(runDir: string): void {
  fs.writeFileSync(path.join(runDir, FILES.stop), String(Date.now()));
}

export function stopRequested(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, FILES.stop));
}

export function clearStopRequest(runDir: string): void {
  fs.rmSync(path.join(runDir, FILES.stop), { force: true });
}

export interface RunListing {
  dir: string;
  name: string;
  meta?: RunMeta;
  summary: RunSummary;
  lock?: LockInfo;
}

/** Reads one run folder into what the explorer and `distill list` show. */
/** `events`: the run's log when the caller already has it (or an equivalent compacted one, see the editor's runlog.ts). */
export function describeRun(runDir: string, events: RunEvent[] = readEvents(runDir).events): RunListing {
  const lock = readLock(runDir);
  const live = lockIsLive(lock);
  let meta: RunMeta | undefined;
  try {
    meta = readMeta(runDir);
  } catch {
    meta = undefined;
  }
  const summary = summarizeEvents(events, live);
  // Checkpoints: what is on disk (retention deletes old ones), not what the log once announced.
  for (const u of summary.units) {
    const finals = new Set(u.checkpoints.filter((c) => c.final).map((c) => c.step));
    u.checkpoints = listCheckpoints(runDir, u.unit).map((c) => ({ ...c, final: finals.has(c.step) }));
  }
  return { dir: runDir, name: meta?.name ?? path.basename(runDir), meta, summary, lock: live ? lock : undefined };
}

/** Every run folder directly inside `runsDir`, newest first. */
export function listRuns(runsDir: string, describe: (runDir: string) => RunListing = describeRun): RunListing[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && isRunDir(path.join(runsDir, d.name)))
    .map((d) => describe(path.join(runsDir, d.name)))
    .sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0));
}
