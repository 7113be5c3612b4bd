/**
 * The editor side of sweeps and Slurm: Start Sweep (a *.sweep.json and a launcher), Cancel (scancel), Stop for runs
 * with a Slurm job (stop request, then scancel if it has not started), Compare, and the squeue poll that feeds the
 * Runs view's Slurm states. The work is the launcher module's (src/launcher), the same code `distill sweep` runs.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { readSweepManifest, SweepError } from '../../engine/run/sweep';
import type { TaskContext } from '../../launcher/local';
import { JobInfo, queryJobs, readRunSlurm, scancel } from '../../launcher/slurm';
import {
  planSweep,
  prepareSweep,
  startLocalSweepDetached,
  stopSlurmRun,
  submitRunSlurm,
  submitSlurm,
  sweepStatus,
  variantsToStart,
} from '../../launcher/sweep';
import { loadConfigFile } from '../../engine/run/config';
import { createRunFolder, defaultRunName } from '../../engine/run/create-run';
import type { SlurmOptions } from '../../engine/run/sweep';
import { knownJobIds } from '../model/sweeps';
import type { TreeNodeModel } from '../model/run-nodes';
import type { Services } from '../services';
import { openCompare } from './panels';

/** distill.slurm.* settings → sbatch options (a sweep file's own slurm block wins over them). */
export function slurmSettings(): SlurmOptions {
  const c = vscode.workspace.getConfiguration('distill.slurm');
  const o: SlurmOptions = {};
  for (const k of ['partition', 'time', 'gres', 'mem', 'account', 'qos'] as const) {
    const v = c.get<string>(k);
    if (v) o[k] = v;
  }
  const cpus = c.get<number>('cpusPerTask');
  if (cpus && cpus > 0) o.cpusPerTask = cpus;
  const extra = c.get<string[]>('extra');
  if (extra?.length) o.extra = extra;
  return o;
}

const nodeArg = (arg: unknown): TreeNodeModel | undefined =>
  arg && typeof arg === 'object' && 'kind' in (arg as object) ? (arg as TreeNodeModel) : undefined;

export function register(context: vscode.ExtensionContext, h: Services): void {
  const { tree, log } = h;

  // ─── Slurm states for the Runs view: one squeue (then sacct / scontrol) call for every known job ───
  let polling = false;
  const pollJobs = async () => {
    const dir = h.runsDir();
    if (!dir || polling || !h.trust.isTrusted()) return; // squeue is a process: not in Restricted Mode
    const ids = knownJobIds(dir);
    if (!ids.length) return;
    polling = true;
    try {
      const jobs = await queryJobs(ids);
      const key = (m: ReadonlyMap<string, JobInfo>) =>
        [...m.values()]
          .map((j) => `${j.jobId}:${j.state}:${j.node ?? ''}`)
          .sort()
          .join(',');
      if (key(jobs) !== key(tree.jobs)) {
        tree.jobs = jobs;
        tree.refresh();
      }
    } catch (e) {
      log.warn(`Slurm: ${(e as Error).message}`);
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void pollJobs(), 10_000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
  void pollJobs();

  h.command('distill.startSweep', async (arg?: unknown) => {
    if (!h.trust.allow('start sweeps')) return;
    let file = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
    const active = vscode.window.activeTextEditor?.document;
    if (!file && active?.uri.fsPath.endsWith('.sweep.json')) file = active.uri.fsPath;
    if (!file) {
      const uris = await vscode.workspace.findFiles('**/*.sweep.json', '**/{node_modules,.git,dist,out}/**', 200);
      if (!uris.length)
        throw new Error('no *.sweep.json in the workspace (see the README\'s "Clusters" section for the format)');
      const pick = await vscode.window.showQuickPick(
        uris.map((u) => ({ label: vscode.workspace.asRelativePath(u), file: u.fsPath })),
        { placeHolder: 'Sweep to start (a *.sweep.json)' },
      );
      if (!pick) return;
      file = pick.file;
    }
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
    if (doc?.isDirty) await doc.save();
    const setting = vscode.workspace.getConfiguration('distill').get<'local' | 'slurm'>('launcher', 'local');
    const picked = await vscode.window.showQuickPick(
      [
        {
          label: 'slurm',
          description: 'one job array through sbatch (preemption-safe: checkpoints and requeues)',
          launcher: 'slurm' as const,
        },
        { label: 'local', description: 'child processes on this machine', launcher: 'local' as const },
      ].sort((a) => (a.launcher === setting ? -1 : 1)),
      { placeHolder: `Launcher for ${path.basename(file)} (setting distill.launcher: ${setting})` },
    );
    if (!picked) return;
    const runsDir = h.requireRunsDir();
    let plan;
    try {
      plan = planSweep(file, runsDir);
    } catch (e) {
      if (e instanceof SweepError) {
        log.error(e.message);
        const p = await vscode.window.showErrorMessage(
          `Distill: ${path.basename(file)} is not a valid sweep: ${e.errors.slice(0, 3).join('; ')}${e.errors.length > 3 ? ` (+${e.errors.length - 3} more)` : ''}`,
          'Open Sweep',
          'Show Log',
        );
        if (p === 'Open Sweep') await vscode.window.showTextDocument(vscode.Uri.file(file));
        if (p === 'Show Log') log.show(true);
        return;
      }
      throw e;
    }
    const maxParallel = vscode.workspace.getConfiguration('distill').get<number>('maxParallel', 0) || undefined;
    if (picked.launcher === 'local') {
      const { pid, logFile } = startLocalSweepDetached(file, runsDir, plan.sweepDir, h.task(), maxParallel);
      log.info(`sweep ${plan.sweep.spec.name}: local launcher, process ${pid}, log ${logFile}`);
      void vscode.window.showInformationMessage(
        `Distill: sweep ${plan.sweep.spec.name} started locally (${plan.variants.length} runs).`,
      );
    } else {
      prepareSweep(plan, 'slurm');
      const start = variantsToStart(await sweepStatus(plan.sweepDir));
      if (!start.length) {
        void vscode.window.showInformationMessage(
          `Distill: every run of ${plan.sweep.spec.name} has finished or is queued already.`,
        );
      } else {
        const jobId = await submitSlurm(plan, start, {
          launcher: 'slurm',
          maxParallel,
          slurmDefaults: slurmSettings(),
          task: h.task(),
          log: (l) => log.info(l),
        });
        void vscode.window.showInformationMessage(
          `Distill: sweep ${plan.sweep.spec.name} submitted as Slurm job array ${jobId} (${start.length} tasks).`,
        );
      }
    }
    setTimeout(() => void pollJobs().then(() => tree.refresh()), 1000);
    tree.refresh();
  });

  /** The Slurm jobs of a node that are queued or running: a run's own, or every run's of a sweep. */
  const queuedJobs = (
    n: TreeNodeModel | undefined,
    runDir?: string,
  ): { runDir: string; jobId: string; state: string }[] => {
    const nodes = n?.kind === 'sweep' ? n.children : n ? [n] : [];
    const out = nodes
      .filter((c) => c.slurm?.queued)
      .map((c) => ({ runDir: c.runDir, jobId: c.slurm!.jobId, state: c.slurm!.state }));
    if (!n && runDir) {
      const rec = readRunSlurm(runDir);
      const j = rec && tree.jobs.get(rec.jobId);
      if (rec && j?.source === 'squeue') out.push({ runDir, jobId: rec.jobId, state: j.state });
    }
    return out;
  };

  h.command('distill.cancelJob', async (arg?: unknown) => {
    if (!h.trust.allow('cancel Slurm jobs (scancel)')) return;
    const n = nodeArg(arg);
    const jobs = queuedJobs(n, typeof arg === 'string' ? arg : undefined);
    if (!jobs.length) throw new Error('no queued or running Slurm job here');
    const ok = await vscode.window.showWarningMessage(
      `Cancel ${jobs.length} Slurm job(s) (${jobs.map((j) => j.jobId).join(', ')})? Running tasks save a checkpoint first; Resume continues them.`,
      { modal: true },
      'Cancel Jobs',
    );
    if (ok !== 'Cancel Jobs') return;
    await scancel(jobs.map((j) => j.jobId));
    log.info(`scancel ${jobs.map((j) => j.jobId).join(' ')}`);
    await pollJobs();
  });

  h.command('distill.stopSweep', async (arg?: unknown) => {
    if (!h.trust.allow('stop sweeps')) return;
    const n = nodeArg(arg);
    if (n?.kind !== 'sweep') throw new Error('Stop Sweep works on a sweep in the Runs view');
    const jobs = queuedJobs(n);
    const runningLocal = n.children.filter((c) => !c.slurm?.queued && c.status === 'running');
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Distill: stopping sweep ${n.label} (checkpoints first)…`,
      },
      async () => {
        const { requestStop } = await import('../../engine/run/run-folder');
        for (const c of runningLocal) requestStop(c.runDir);
        await Promise.all(jobs.map((j) => stopSlurmRun(j.runDir, j.jobId)));
      },
    );
    await pollJobs();
    tree.refresh();
  });

  h.command('distill.compareSweep', async (arg?: unknown) => {
    const n = nodeArg(arg);
    let dir = n?.kind === 'sweep' ? n.runDir : typeof arg === 'string' ? arg : undefined;
    if (!dir) {
      const sweeps = tree.reload().filter((r) => r.kind === 'sweep');
      if (!sweeps.length) throw new Error('no sweep in the runs folder yet (Distill: Start Sweep)');
      const pick =
        sweeps.length === 1
          ? sweeps[0]
          : await vscode.window.showQuickPick(
              sweeps.map((s) => ({ label: s.label, description: s.description, node: s })),
            );
      if (!pick) return;
      dir = 'node' in pick ? pick.node.runDir : pick.runDir;
    }
    if (!readSweepManifest(dir)) throw new Error(`${dir}: not a sweep folder (no sweep.json)`);
    openCompare(h, { sweepDir: dir });
  });

  // Any 2+ runs side by side: the Runs view's selection (a sweep in it brings its runs), run folders given as
  // arguments, or a pick among the workspace's runs.
  h.command('distill.compareRuns', async (arg?: unknown, selection?: unknown) => {
    const given = (Array.isArray(selection) ? selection : Array.isArray(arg) ? arg : [arg]).flatMap((x): string[] => {
      if (typeof x === 'string') return [x];
      const n = nodeArg(x);
      if (n?.kind === 'sweep') return n.children.map((c) => c.runDir);
      return n?.kind === 'run' ? [n.runDir] : [];
    });
    let runDirs = [...new Set(given)];
    if (runDirs.length < 2) {
      tree.reload();
      const runs = tree.runs;
      if (runs.length < 2) throw new Error('Compare Runs needs at least two runs in the runs folder');
      const sweepOf = new Map(
        tree
          .reload()
          .filter((r) => r.kind === 'sweep')
          .flatMap((sw) => sw.children.map((c) => [c.runDir, sw.label] as const)),
      );
      const picks = await vscode.window.showQuickPick(
        runs.map((r) => ({
          label: r.label,
          description: [sweepOf.get(r.runDir), r.description].filter(Boolean).join(' · '),
          detail: r.runDir,
          picked: runDirs.includes(r.runDir),
          runDir: r.runDir,
        })),
        { canPickMany: true, placeHolder: 'Runs to compare side by side (two or more)', matchOnDetail: true },
      );
      if (!picks) return;
      runDirs = picks.map((p) => p.runDir);
      if (runDirs.length < 2) throw new Error(`Compare Runs needs at least two runs; ${runDirs.length} picked`);
    }
    openCompare(h, { runDirs });
  });
}

/** Stop for a run node: a run with a queued/running Slurm job is stopped through Slurm (stop request, then scancel). */
export async function stopThroughSlurm(
  node: TreeNodeModel | undefined,
  runDir: string,
  jobs: ReadonlyMap<string, JobInfo>,
): Promise<boolean> {
  const jobId = node?.slurm?.queued ? node.slurm.jobId : readRunSlurm(runDir)?.jobId;
  if (!jobId || jobs.get(jobId)?.source !== 'squeue') return false;
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Distill: stopping ${path.basename(runDir)} (Slurm job ${jobId}: checkpoint, then the job ends)…`,
    },
    () => stopSlurmRun(runDir, jobId),
  );
  return true;
}

/** distill.launcher */
export function launcherSetting(): 'local' | 'slurm' {
  return vscode.workspace.getConfiguration('distill').get<'local' | 'slurm'>('launcher', 'local') === 'slurm'
    ? 'slurm'
    : 'local';
}

/**
 * Start Run / Resume Run with distill.launcher "slurm": the run folder is created here (as `distill run` would) and
 * trained by a one-task Slurm job — the same launcher code as `distill run|resume --launcher slurm`.
 */
export async function submitRunFromEditor(
  target: { configPath: string; runsDir: string } | { runDir: string },
  task: TaskContext,
  log: vscode.LogOutputChannel,
): Promise<string> {
  let runDir: string;
  if ('configPath' in target) {
    const cfg = loadConfigFile(target.configPath);
    runDir = createRunFolder(path.join(target.runsDir, defaultRunName(cfg.name)), cfg, path.resolve(target.configPath));
  } else runDir = target.runDir;
  const jobId = await submitRunSlurm(runDir, { slurmDefaults: slurmSettings(), task, log: (l) => log.info(l) });
  void vscode.window.showInformationMessage(`Distill: ${path.basename(runDir)} submitted to Slurm as job ${jobId}.`);
  return runDir;
}
