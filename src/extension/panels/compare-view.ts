/**
 * The Compare view's data, host side: one row per run — a sweep's variants, or any runs picked together (different
 * configs, methods, in sweeps or not) — with the varied values (a sweep's parameters, or the config fields the picked
 * runs differ in), state (Slurm's or the run's), stage and step, final loss per unit, downsampled loss curves, the
 * headline of eval/report.json (the 4-step student and reference teacher per w, and every student of every method)
 * and the newest grid of each few-step student. fs/path only (unit-tested directly).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DistillMethod, LossEvent } from '../../engine/run/events';
import { describeRun, FILES, isRunDir, readEvents } from '../../engine/run/run-folder';
import { readSweepManifest } from '../../engine/run/sweep';
import type { JobInfo } from '../../launcher/slurm';
import { readRunSlurm } from '../../launcher/slurm';
import type { CompareRow, CompareView } from '../../protocol';
import { PlotUri, readReport } from './report';

const MAX_POINTS = 400;
/** At most this many differing config fields become columns of a selection's table. */
const MAX_PARAMS = 24;

/** What a Compare view shows: a sweep folder's runs, or any runs picked together. */
export type CompareSource = { sweepDir: string } | { runDirs: string[] };

function downsample(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS) return points;
  const out: [number, number][] = [];
  const stride = points.length / MAX_POINTS;
  for (let i = 0; i < MAX_POINTS; i++) out.push(points[Math.floor(i * stride)]);
  out[out.length - 1] = points[points.length - 1];
  return out;
}

function scalar(v: unknown): number | string | boolean | null {
  return v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v);
}

/** The student a sample folder's unit holds: progressive-64-32 → 32 steps, consistency-2 → 2 steps. */
export function studentOfUnit(unit: string): { method: DistillMethod; steps: number } | undefined {
  const p = /^progressive-\d+-(\d+)$/.exec(unit);
  if (p) return { method: 'progressive', steps: Number(p[1]) };
  const c = /^consistency-(\d+)$/.exec(unit);
  return c ? { method: 'consistency', steps: Number(c[1]) } : undefined;
}

/**
 * The newest PNG of each few-step student that has one, fewest steps first (progressive before consistency at the
 * same count).
 */
export function studentGrids(runDir: string, toUri: PlotUri): NonNullable<CompareRow['students']> {
  const dir = path.join(runDir, FILES.samples);
  if (!fs.existsSync(dir)) return [];
  const out: NonNullable<CompareRow['students']> = [];
  for (const unit of fs.readdirSync(dir)) {
    const who = studentOfUnit(unit);
    if (!who) continue;
    let files: string[];
    try {
      files = fs
        .readdirSync(path.join(dir, unit))
        .filter((f) => /^step-\d+\.png$/.test(f))
        .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
    } catch {
      continue;
    }
    if (!files.length) continue;
    const last = files[files.length - 1];
    const file = path.join(dir, unit, last);
    out.push({ ...who, unit, step: Number(/\d+/.exec(last)![0]), src: toUri(file, fs.statSync(file).mtimeMs) });
  }
  return out
    .sort((a, b) => a.steps - b.steps || (a.method === b.method ? 0 : a.method === 'progressive' ? -1 : 1))
    .slice(0, 32);
}

/** The few-step student grid a row shows first: the fewest-step progressive student's (as before), else any. */
function headlineGrid(students: NonNullable<CompareRow['students']>): CompareRow['grid'] {
  const g = students.find((s) => s.method === 'progressive') ?? students[0];
  return g ? { src: g.src, unit: g.unit, step: g.step } : undefined;
}

/** A config flattened to dotted paths of scalars (lists as JSON text). */
function flatten(v: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = Array.isArray(v) ? JSON.stringify(v) : v;
  return out;
}

function readConfig(runDir: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(runDir, FILES.config), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The config fields (dotted paths) whose values differ between the runs, in the first run's order, at most
 * MAX_PARAMS; and each run's values of them. `name` and paths of data files are not parameters.
 */
export function differingParams(configs: Record<string, unknown>[]): {
  params: string[];
  values: Record<string, unknown>[];
} {
  const flat = configs.map((c) => flatten(c));
  const keys: string[] = [];
  for (const f of flat) for (const k of Object.keys(f)) if (!keys.includes(k)) keys.push(k);
  const params = keys
    .filter((k) => k !== 'name' && !/(^|\.)(path|file|dir)$/i.test(k))
    .filter((k) => new Set(flat.map((f) => JSON.stringify(f[k] ?? null))).size > 1)
    .slice(0, MAX_PARAMS);
  return { params, values: flat };
}

interface RunEntry {
  name: string;
  runDir: string;
  params: Record<string, unknown>;
  jobId?: string;
  state?: string;
  node?: string;
}

function compareRow(
  e: RunEntry,
  params: string[],
  units: string[],
  toUri: PlotUri,
  jobs: ReadonlyMap<string, JobInfo>,
): CompareRow {
  const { runDir } = e;
  const { summary } = describeRun(runDir);
  const curves: Record<string, [number, number][]> = {};
  const losses: Record<string, number> = {};
  for (const ev of readEvents(runDir).events) {
    if (ev.type !== 'loss') continue;
    const l = ev as LossEvent;
    if (!Number.isFinite(l.loss)) continue;
    (curves[l.unit] ??= []).push([l.step, l.loss]);
    losses[l.unit] = l.loss;
    if (!units.includes(l.unit)) units.push(l.unit);
  }
  for (const u of Object.keys(curves)) curves[u] = downsample(curves[u]);
  const jobId = readRunSlurm(runDir)?.jobId ?? e.jobId;
  const job = jobId ? jobs.get(jobId) : undefined;
  const cur = summary.units.find((u) => u.unit === summary.currentUnit);
  let quality: CompareRow['quality'];
  try {
    const r = readReport(runDir, toUri);
    if (r) {
      quality = {
        metric: r.metric,
        w: r.rows.map((x) => x.w),
        student: r.rows.map((x) => x.student),
        teacher: r.rows.map((x) => x.teacher),
        studentSteps: r.studentSteps,
        teacherSteps: r.referenceSteps,
        students: r.students.map((s) => ({ method: s.method, steps: s.steps, quality: s.quality })),
      };
    }
  } catch {
    quality = undefined; // an unreadable report is the Report view's business; Compare shows none
  }
  const students = studentGrids(runDir, toUri);
  const row: CompareRow = {
    name: e.name,
    runDir,
    params: Object.fromEntries(params.map((p) => [p, scalar(e.params[p] ?? null)])),
    status: summary.status,
    state: job?.state ?? e.state,
    node: job?.node ?? e.node,
    unit: summary.currentUnit,
    step: cur?.step,
    totalSteps: cur?.totalSteps,
    losses,
    curves,
    quality,
    grid: headlineGrid(students),
    students,
  };
  for (const k of Object.keys(row) as (keyof CompareRow)[]) if (row[k] === undefined) delete row[k];
  return row;
}

/** Distinct row names: a run's folder name, with its parent folder's where two runs share one. */
function names(runDirs: string[]): string[] {
  const base = runDirs.map((d) => path.basename(d));
  return runDirs.map((d, i) =>
    base.indexOf(base[i]) !== base.lastIndexOf(base[i]) ? `${path.basename(path.dirname(d))}/${base[i]}` : base[i],
  );
}

/** The Compare view of a sweep folder (its variants in order) or of any runs picked together. */
export function buildCompareView(
  source: CompareSource | string,
  toUri: PlotUri,
  jobs: ReadonlyMap<string, JobInfo> = new Map(),
): CompareView {
  const src: CompareSource = typeof source === 'string' ? { sweepDir: source } : source;
  const units: string[] = [];
  if ('sweepDir' in src) {
    const { sweepDir } = src;
    const m = readSweepManifest(sweepDir);
    if (!m) throw new Error(`${sweepDir}: not a sweep folder (no sweep.json)`);
    const params = [...new Set(m.variants.flatMap((v) => Object.keys(v.params)))];
    const rows = m.variants
      .map((v) => ({ v, runDir: path.join(sweepDir, v.dir) }))
      .filter(({ runDir }) => fs.existsSync(path.join(runDir, FILES.meta)))
      .map(({ v, runDir }) =>
        compareRow(
          { name: v.name, runDir, params: v.params, jobId: v.jobId, state: v.state, node: v.node },
          params,
          units,
          toUri,
          jobs,
        ),
      );
    return { name: m.name, sweepDir, launcher: m.launcher, params, units, rows };
  }
  const runDirs = [...new Set(src.runDirs.map((d) => path.resolve(d)))].filter((d) => isRunDir(d));
  if (!runDirs.length)
    throw new Error(
      `no run folder to compare among ${src.runDirs.join(', ') || 'the runs given'} (a run folder has run.json and config.json)`,
    );
  const { params, values } = differingParams(runDirs.map(readConfig));
  const shown = names(runDirs);
  const rows = runDirs.map((runDir, i) =>
    compareRow({ name: shown[i], runDir, params: values[i] }, params, units, toUri, jobs),
  );
  const name = shown.length <= 3 ? shown.join(', ') : `${shown.length} runs`;
  return { name, runDirs, params, units, rows };
}

/** A folder's identity (resolved; case-insensitive where the file system is), as panels/panel-webview.ts runKey. */
function folderKey(dir: string): string {
  const p = path.resolve(dir);
  return process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p;
}

/** The identity of what a Compare panel shows: the sweep folder, or the set of runs (in any order). */
export function compareKey(source: CompareSource): string {
  if ('sweepDir' in source) return folderKey(source.sweepDir);
  return `runs:${[...new Set(source.runDirs.map(folderKey))].sort().join('|')}`;
}

/**
 * What a Compare panel's saved webview state asks to compare, when it still exists: a sweep folder with its
 * sweep.json, or 2+ run folders. Otherwise the reason it cannot come back.
 */
export function restorableSource(state: unknown): { source?: CompareSource; why?: string } {
  const s = typeof state === 'object' && state !== null ? (state as Record<string, unknown>) : {};
  if (typeof s.sweepDir === 'string' && s.sweepDir) {
    return readSweepManifest(s.sweepDir)
      ? { source: { sweepDir: s.sweepDir } }
      : { why: `${s.sweepDir} is no longer a sweep folder` };
  }
  if (Array.isArray(s.runDirs)) {
    const runDirs = s.runDirs.filter((d): d is string => typeof d === 'string' && isRunDir(d));
    return runDirs.length >= 2 ? { source: { runDirs } } : { why: 'fewer than two of its runs still exist' };
  }
  return { why: 'no sweep or runs in the saved state' };
}
