/**
 * The Compare view's data, host side: one row per run of a sweep — varied values, state (Slurm's or the run's), stage
 * and step, final loss per unit, downsampled loss curves, the headline of eval/report.json (4-step student and
 * reference teacher per w) and the newest grid of the last progressive unit. fs/path only (unit-tested directly).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { LossEvent } from '../../engine/run/events';
import { describeRun, readEvents } from '../../engine/run/run-folder';
import { readSweepManifest } from '../../engine/run/sweep';
import type { JobInfo } from '../../launcher/slurm';
import { readRunSlurm } from '../../launcher/slurm';
import type { CompareRow, CompareView } from '../../protocol';
import { PlotUri, readReport } from './report';

const MAX_POINTS = 400;

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

/** Newest PNG of the last progressive unit that has one (the fewest-step student). */
function studentGrid(runDir: string, toUri: PlotUri): CompareRow['grid'] {
  const dir = path.join(runDir, 'samples');
  if (!fs.existsSync(dir)) return undefined;
  const units = fs
    .readdirSync(dir)
    .filter((u) => /^progressive-\d+-\d+$/.test(u))
    .sort((a, b) => Number(a.split('-')[2]) - Number(b.split('-')[2]));
  for (const unit of units) {
    const files = fs
      .readdirSync(path.join(dir, unit))
      .filter((f) => /^step-\d+\.png$/.test(f))
      .sort();
    if (!files.length) continue;
    const file = path.join(dir, unit, files[files.length - 1]);
    return { src: toUri(file, fs.statSync(file).mtimeMs), unit, step: Number(/\d+/.exec(files[files.length - 1])![0]) };
  }
  return undefined;
}

export function buildCompareView(
  sweepDir: string,
  toUri: PlotUri,
  jobs: ReadonlyMap<string, JobInfo> = new Map(),
): CompareView {
  const m = readSweepManifest(sweepDir);
  if (!m) throw new Error(`${sweepDir}: not a sweep folder (no sweep.json)`);
  const params = [...new Set(m.variants.flatMap((v) => Object.keys(v.params)))];
  const units: string[] = [];
  const rows: CompareRow[] = [];
  for (const v of m.variants) {
    const runDir = path.join(sweepDir, v.dir);
    if (!fs.existsSync(path.join(runDir, 'run.json'))) continue;
    const { summary } = describeRun(runDir);
    const curves: Record<string, [number, number][]> = {};
    const losses: Record<string, number> = {};
    for (const e of readEvents(runDir).events) {
      if (e.type !== 'loss') continue;
      const l = e as LossEvent;
      if (!Number.isFinite(l.loss)) continue;
      (curves[l.unit] ??= []).push([l.step, l.loss]);
      losses[l.unit] = l.loss;
      if (!units.includes(l.unit)) units.push(l.unit);
    }
    for (const u of Object.keys(curves)) curves[u] = downsample(curves[u]);
    const jobId = readRunSlurm(runDir)?.jobId ?? v.jobId;
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
        };
      }
    } catch {
      quality = undefined; // an unreadable report is the Report view's business; Compare shows none
    }
    rows.push({
      name: v.name,
      runDir,
      params: Object.fromEntries(params.map((p) => [p, scalar(v.params[p] ?? null)])),
      status: summary.status,
      state: job?.state ?? v.state,
      node: job?.node ?? v.node,
      unit: summary.currentUnit,
      step: cur?.step,
      totalSteps: cur?.totalSteps,
      losses,
      curves,
      quality,
      grid: studentGrid(runDir, toUri),
    });
  }
  return { name: m.name, sweepDir, launcher: m.launcher, params, units, rows };
}
