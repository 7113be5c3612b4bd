/**
 * The Runs view's sweeps and Slurm jobs: a sweep folder (runs/<sweep>/sweep.json) is a parent node of its variants'
 * runs; a run with a Slurm job shows the job's state (PENDING / RUNNING / COMPLETED / FAILED / PREEMPTED /
 * CANCELLED …) and node. Plain data like tree.ts (no vscode): `jobs` is what the last squeue/sacct/scontrol said.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeRun, isRunDir } from '../../engine/run/run-folder';
import { isSweepDir, readSweepManifest, SWEEP_MANIFEST } from '../../engine/run/sweep';
import { JobInfo, readRunSlurm } from '../../launcher/slurm';
import { runNode, TreeNodeModel } from './run-nodes';

export type JobMap = ReadonlyMap<string, JobInfo>;

const SLURM_ICON: Record<string, { icon: string; color?: string }> = {
  PENDING: { icon: 'watch', color: 'charts.yellow' },
  CONFIGURING: { icon: 'watch', color: 'charts.yellow' },
  REQUEUED: { icon: 'watch', color: 'charts.yellow' },
  RUNNING: { icon: 'sync~spin', color: 'charts.blue' },
  COMPLETING: { icon: 'sync~spin', color: 'charts.blue' },
  COMPLETED: { icon: 'pass-filled', color: 'testing.iconPassed' },
  FAILED: { icon: 'error', color: 'testing.iconFailed' },
  NODE_FAIL: { icon: 'error', color: 'testing.iconFailed' },
  OUT_OF_MEMORY: { icon: 'error', color: 'testing.iconFailed' },
  TIMEOUT: { icon: 'clock', color: 'testing.iconFailed' },
  PREEMPTED: { icon: 'debug-pause', color: 'charts.orange' },
  CANCELLED: { icon: 'circle-slash', color: 'charts.yellow' },
};

/** The job id of a run (its slurm.json, or the sweep manifest's entry). */
export function runJobId(runDir: string, fromManifest?: string): string | undefined {
  return readRunSlurm(runDir)?.jobId ?? fromManifest;
}

/** Every Slurm job id the runs folder knows (what the view asks squeue about). */
export function knownJobIds(runsDir: string): string[] {
  const ids = new Set<string>();
  if (!fs.existsSync(runsDir)) return [];
  for (const d of fs.readdirSync(runsDir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    const dir = path.join(runsDir, d.name);
    const m = readSweepManifest(dir);
    if (m) for (const v of m.variants) if (v.jobId) ids.add(v.jobId);
    const r = readRunSlurm(dir);
    if (r) ids.add(r.jobId);
  }
  return [...ids];
}

/** Adds the Slurm job's state and node to a run node; a run whose job is queued or running gets ".slurm". */
export function withSlurm(node: TreeNodeModel, jobId: string | undefined, jobs: JobMap): TreeNodeModel {
  if (!jobId) return node;
  const job = jobs.get(jobId);
  const state = job?.state ?? 'UNKNOWN';
  const queued = job?.source === 'squeue';
  const where = job?.node ? ` on ${job.node}` : job?.reason ? ` (${job.reason})` : '';
  const out: TreeNodeModel = {
    ...node,
    slurm: { jobId, state, node: job?.node, reason: job?.reason, exitCode: job?.exitCode, queued },
    description: `${state}${where} · ${node.description ?? ''}`.replace(/ · $/, ''),
    tooltip: `${node.tooltip}\nSlurm job ${jobId}: ${state}${where}${job?.exitCode ? `, exit ${job.exitCode}` : ''}`,
    contextValue: queued ? `${node.contextValue}.slurm` : node.contextValue,
  };
  // While Slurm holds the job its state is the news; afterwards the run folder's status (finished, stopped…) is.
  if (queued || (job && node.status !== 'finished' && node.status !== 'running')) {
    const look = SLURM_ICON[state];
    if (look) {
      out.icon = look.icon;
      out.iconColor = look.color;
    }
  }
  return out;
}

/** A sweep folder's node: its runs (variant order) as children, counts of their states as the description. */
export function sweepNode(
  sweepDir: string,
  jobs: JobMap,
  opts: { isActive?: (runDir: string) => boolean; crashes?: Map<string, string> } = {},
): TreeNodeModel | undefined {
  const m = readSweepManifest(sweepDir);
  if (!m) return undefined;
  const children = m.variants
    .map((v) => ({ v, dir: path.join(sweepDir, v.dir) }))
    .filter(({ dir }) => isRunDir(dir))
    .map(({ v, dir }) => {
      const n = runNode(describeRun(dir), { active: opts.isActive?.(dir), crash: opts.crashes?.get(dir) });
      const params = Object.entries(v.params)
        .map(([k, x]) => `${k} = ${JSON.stringify(x)}`)
        .join(', ');
      return withSlurm({ ...n, tooltip: `${n.tooltip}${params ? `\n${params}` : ''}` }, runJobId(dir, v.jobId), jobs);
    });
  const counts = new Map<string, number>();
  for (const c of children) {
    const s = c.slurm?.queued ? c.slurm.state : (c.status ?? 'new');
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const active = children.some((c) => c.slurm?.queued || c.status === 'running');
  const allDone = children.length > 0 && children.every((c) => c.status === 'finished');
  const anyFailed = children.some(
    (c) => c.status === 'failed' || ['FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'TIMEOUT'].includes(c.slurm?.state ?? ''),
  );
  return {
    kind: 'sweep',
    id: `sweep::${sweepDir}`,
    label: m.name,
    description: `${m.launcher} · ${children.length} runs · ${[...counts].map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')}`,
    tooltip: `sweep ${m.name} (${m.launcher})\n${sweepDir}\nfrom ${m.sweepFile}${m.submissions.length ? `\nSlurm job arrays: ${m.submissions.map((s) => s.jobId).join(', ')}` : ''}`,
    icon: active ? 'sync~spin' : allDone ? 'pass-filled' : anyFailed ? 'error' : 'layers',
    iconColor: active ? 'charts.blue' : allDone ? 'testing.iconPassed' : anyFailed ? 'testing.iconFailed' : undefined,
    contextValue: active ? 'sweep.active' : 'sweep',
    runDir: sweepDir,
    command: { command: 'distill.compareSweep', title: 'Compare Runs', arguments: [sweepDir] },
    children,
  };
}

/** The sweep folders directly inside runsDir, newest first. */
export function sweepNodes(
  runsDir: string,
  jobs: JobMap,
  opts: { isActive?: (runDir: string) => boolean; crashes?: Map<string, string> } = {},
): TreeNodeModel[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && isSweepDir(path.join(runsDir, d.name)))
    .map((d) => ({
      dir: path.join(runsDir, d.name),
      t: fs.statSync(path.join(runsDir, d.name, SWEEP_MANIFEST)).mtimeMs,
    }))
    .sort((a, b) => b.t - a.t)
    .map((d) => sweepNode(d.dir, jobs, opts))
    .filter((n): n is TreeNodeModel => !!n);
}
