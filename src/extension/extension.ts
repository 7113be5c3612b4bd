/**
 * The VS Code extension host side: commands, the Runs view, the status bar, notifications and the log channel.
 * Training and sampling run in worker processes (dist/worker.js) supervised by RunManager; this file never loads
 * tfjs. Kept thin: the logic lives in model/*.ts (no vscode) and is unit-tested there.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as vscode from 'vscode';
import { validateConfigFile } from '../engine/run/config';
import type { RunEvent } from '../engine/run/events';
import { lockIsLive, readLock } from '../engine/run/run-folder';
import type { Backend, ConfigEntry, EditInput, EditSource, EditTabResult, EditTabSpec, SampleResult, SampleSpec } from '../protocol';
import { CONFIG_SUFFIX, describeConfig, isConfigPath, listExamples, starterConfigText } from './configs';
import { formatDuration, lastLines, statusBarText, statusBarTooltip, unitLabel } from './model/format';
import { RunManager, RunOutcome } from './model/manager';
import { resolveNodeRuntime } from './model/runtime';
import { TreeNodeModel } from './model/run-nodes';
import { DashboardPanel, PanelServices, PreviewPanel, registerPanelSerializers } from './panels/panel-serializers';
import { RunsTreeProvider } from './runs-tree-provider';
import { onDidChangeTools, runTool, ToolKind, toolRunning } from './tool-runner';
import { registerBackendsDocument, showBackends } from './backends';
import { mentionsBackend } from './model/backends';
import { launcherSetting, registerSweeps, stopThroughSlurm, submitRunFromEditor } from './features/sweeps';
import { ComparePanel } from './panels/compare';

const CONFIG_GLOB = `**/*${CONFIG_SUFFIX}`;
const CONFIG_EXCLUDE = '**/{node_modules,.git,dist,out}/**';

let manager: RunManager | undefined;

/** What the integration tests and other extensions can reach: `vscode.extensions.getExtension(id).exports`. */
export interface DistillApi {
  runsDir(): string | undefined;
  manager: RunManager;
  tree: RunsTreeProvider;
  /** Measured start-up (npm run bench:editor and the e2e suite print them). */
  timings: ActivationTimings;
}

export interface ActivationTimings {
  /** Duration of activate() itself. */
  activateMs: number;
  /** From the start of activate() to the first listing of the runs folder (the Runs view's content), and its size. */
  treeReadyMs?: number;
  treeRuns?: number;
}

export function activate(context: vscode.ExtensionContext): DistillApi {
  const activateStart = performance.now();
  const timings: ActivationTimings = { activateMs: NaN };
  const log = vscode.window.createOutputChannel('Distill', { log: true });
  context.subscriptions.push(log);
  const cfg = () => vscode.workspace.getConfiguration('distill');

  const runsDir = (): string | undefined => {
    const setting = cfg().get<string>('runsFolder', 'runs') || 'runs';
    if (path.isAbsolute(setting)) return setting;
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, setting) : undefined;
  };
  const requireRunsDir = (): string => {
    const d = runsDir();
    if (!d) throw new Error('Open a folder first: runs are kept in its "runs" folder (setting distill.runsFolder).');
    return d;
  };

  const explicit = <T>(key: string): T | undefined => {
    const i = cfg().inspect<T>(key);
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  };

  // ─── worker supervision ───
  let runtime;
  try {
    runtime = resolveNodeRuntime(cfg().get<string>('nodePath'));
  } catch (e) {
    void vscode.window.showErrorMessage(`Distill: ${(e as Error).message}. Using the editor's own runtime.`);
    runtime = resolveNodeRuntime(undefined, { PATH: '' });
  }
  log.info(`worker runtime: ${runtime.nodePath} (${runtime.source}${runtime.electron ? ', ELECTRON_RUN_AS_NODE=1' : ''})`);
  const mgr = new RunManager({
    workerPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath,
    nodePath: runtime.nodePath,
    electron: runtime.electron,
    stopTimeoutMs: 30_000,
    // Only settings the user made override the run's config (its "backend" / "threads").
    settings: () => ({ backend: explicit<Backend>('backend'), threads: explicit<number>('threads') }),
    log: (level, text) => (level === 'error' ? log.error(text) : level === 'warn' ? log.warn(text) : log.info(text)),
  });
  manager = mgr;

  // ─── Runs view ───
  const crashes = new Map<string, string>();
  const tree = new RunsTreeProvider(runsDir, (d) => mgr.isActive(d), crashes, (e) => log.error(`runs folder: ${e.message}`));
  const view = vscode.window.createTreeView('distill.runs', { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(
    view,
    tree,
    tree.onFirstLoad((n) => {
      timings.treeReadyMs = performance.now() - activateStart;
      timings.treeRuns = n;
    }),
  );

  // ─── status bar ───
  const status = vscode.window.createStatusBarItem('distill.status', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Distill';
  context.subscriptions.push(status);
  let statusRun: string | undefined;
  const updateStatus = () => {
    const mine = mgr.activeRuns();
    const live = tree.runs.filter((r) => r.status === 'running' && !mgr.isActive(r.runDir)).map((r) => r.runDir);
    const all = [...mine, ...live];
    if (all.length === 0) {
      status.hide();
      statusRun = undefined;
      return;
    }
    statusRun = all[0];
    const summary = mgr.summary(statusRun) ?? tree.describe(statusRun).summary;
    status.text = statusBarText(summary, all.length - 1);
    status.tooltip = statusBarTooltip(path.basename(statusRun), summary, !mine.includes(statusRun));
    status.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [statusRun] };
    status.show();
  };
  let statusTimer: NodeJS.Timeout | undefined;
  const updateStatusSoon = () => {
    if (!statusTimer) statusTimer = setTimeout(() => ((statusTimer = undefined), updateStatus()), 250);
  };
  context.subscriptions.push({ dispose: () => statusTimer && clearTimeout(statusTimer) });

  // ─── events, ends, notifications ───
  context.subscriptions.push(
    mgr.onRunEvent((runDir, e) => {
      if (e.type === 'loss' || e.type === 'stage_start' || e.type === 'checkpoint' || e.type === 'stage_end' || e.type === 'run_end') {
        tree.refreshSoon(e.type === 'loss' ? 1000 : 200);
      }
      updateStatusSoon();
      if (e.type === 'stage_end' && mgr.isActive(runDir)) {
        void vscode.window.showInformationMessage(
          `Distill: ${path.basename(runDir)} — ${unitLabel(e.unit)} done (${e.step} steps in ${formatDuration(e.seconds)}).`,
        );
      }
      if (e.type === 'error') log.error(`${path.basename(runDir)}: ${e.message}`);
    }),
    mgr.onActiveChanged(() => {
      tree.refreshSoon(100);
      updateStatusSoon();
    }),
    mgr.onRunEnded((o) => void notifyEnd(o)),
  );

  async function notifyEnd(o: RunOutcome): Promise<void> {
    const name = path.basename(o.runDir);
    tree.refresh();
    if (o.status === 'finished') {
      crashes.delete(o.runDir);
      const pick = await vscode.window.showInformationMessage(`Distill: ${name} finished.`, 'Open Dashboard', 'Evaluate', 'Export Student');
      if (pick === 'Open Dashboard') await vscode.commands.executeCommand('distill.openDashboard', o.runDir);
      if (pick === 'Evaluate') await vscode.commands.executeCommand('distill.evaluateRun', o.runDir);
      if (pick === 'Export Student') await vscode.commands.executeCommand('distill.exportStudent', o.runDir);
    } else if (o.status === 'stopped') {
      crashes.delete(o.runDir);
      const pick = await vscode.window.showInformationMessage(`Distill: ${name} stopped; its checkpoints are saved.`, 'Resume');
      if (pick === 'Resume') await vscode.commands.executeCommand('distill.resumeRun', o.runDir);
    } else {
      const tail = lastLines((o.tail ?? []).join('\n'), 5);
      crashes.set(o.runDir, ['last output:', ...tail].join('\n'));
      log.error(`${name} failed: ${o.message ?? 'unknown error'}${tail.length ? `\n  ${tail.join('\n  ')}` : ''}`);
      tree.refresh();
      const pick = await vscode.window.showErrorMessage(
        `Distill: ${name} failed: ${o.message ?? 'unknown error'}${tail.length ? ` — ${tail[tail.length - 1]}` : ''}. Its checkpoints are kept.`,
        'Resume',
        'Show Log',
        ...(mentionsBackend(o.message) ? ['Show Backends'] : []),
      );
      if (pick === 'Resume') await vscode.commands.executeCommand('distill.resumeRun', o.runDir);
      if (pick === 'Show Log') log.show(true);
      if (pick === 'Show Backends') await vscode.commands.executeCommand('distill.showBackends');
    }
  }

  // ─── runs folder watcher: CLI runs appear and update live ───
  let watcher: vscode.FileSystemWatcher | undefined;
  const pendingDirs = new Set<string>();
  let watchTimer: NodeJS.Timeout | undefined;
  const onFsChange = (uri: vscode.Uri) => {
    const root = runsDir();
    if (!root) return;
    const rel = path.relative(root, uri.fsPath);
    if (rel.startsWith('..')) return;
    const first = rel.split(path.sep)[0];
    if (first) pendingDirs.add(path.join(root, first));
    if (watchTimer) return;
    watchTimer = setTimeout(() => {
      watchTimer = undefined;
      for (const d of pendingDirs) if (fs.existsSync(path.join(d, 'events.jsonl'))) mgr.syncFromDisk(d);
      pendingDirs.clear();
      tree.refresh();
      updateStatusSoon();
    }, 300);
  };
  const watch = () => {
    watcher?.dispose();
    const root = runsDir();
    if (!root) return;
    const folder = vscode.workspace.workspaceFolders?.[0];
    const rel = folder ? path.relative(folder.uri.fsPath, root) : '..';
    const pattern =
      folder && !rel.startsWith('..') && !path.isAbsolute(rel)
        ? new vscode.RelativePattern(folder, `${rel.split(path.sep).join('/')}/**`)
        : new vscode.RelativePattern(vscode.Uri.file(root), '**');
    watcher = vscode.workspace.createFileSystemWatcher(pattern);
    watcher.onDidCreate(onFsChange);
    watcher.onDidChange(onFsChange);
    watcher.onDidDelete(onFsChange);
    // Prime the tailers so later appends are delivered as live events.
    for (const r of tree.reload()) mgr.syncFromDisk(r.runDir);
    tree.refresh();
  };
  // The first listing reads every run's log: after activation, not inside it (activate() stays light).
  const firstWatch = setTimeout(() => {
    watch();
    updateStatus();
  }, 0);
  context.subscriptions.push({ dispose: () => clearTimeout(firstWatch) });
  // A slow poll covers file systems whose watchers miss appends (network drives, containers).
  const poll = setInterval(() => {
    const root = runsDir();
    if (!root) return;
    for (const r of tree.runs) if (r.status === 'running' && !mgr.isActive(r.runDir)) mgr.syncFromDisk(r.runDir);
    if (tree.runs.some((r) => r.status === 'running')) {
      tree.refreshSoon(100);
      updateStatusSoon();
    }
  }, 5000);
  context.subscriptions.push(
    { dispose: () => (watcher?.dispose(), clearInterval(poll), watchTimer && clearTimeout(watchTimer)) },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.runsFolder')) watch();
      if (e.affectsConfiguration('distill.nodePath')) {
        void vscode.window.showInformationMessage('Distill: the new Node path applies after reloading the window.', 'Reload').then((p) => {
          if (p === 'Reload') void vscode.commands.executeCommand('workbench.action.reloadWindow');
        });
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => watch()),
  );

  // ─── shared helpers ───
  const listConfigs = async (): Promise<ConfigEntry[]> => {
    const uris = await vscode.workspace.findFiles(CONFIG_GLOB, CONFIG_EXCLUDE, 500);
    return uris
      .map((u) => describeConfig(u.fsPath, vscode.workspace.asRelativePath(u)))
      .sort((a, b) => a.label.localeCompare(b.label));
  };

  const validateOrShow = async (configPath: string): Promise<boolean> => {
    const v = validateConfigFile(configPath);
    if (v.ok) return true;
    const errors = v.errors;
    log.error(`${configPath}: invalid configuration:\n  - ${errors.join('\n  - ')}`);
    const pick = await vscode.window.showErrorMessage(
      `Distill: ${path.basename(configPath)} is not a valid config: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? ` (+${errors.length - 3} more)` : ''}`,
      'Open Config',
      'Show Log',
    );
    if (pick === 'Open Config') await vscode.window.showTextDocument(vscode.Uri.file(configPath));
    if (pick === 'Show Log') log.show(true);
    return false;
  };

  // what the launchers (src/launcher) run for a task: this extension's CLI bundle on the worker's Node
  const taskContext = {
    nodePath: runtime.nodePath,
    cliPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath,
    env: runtime.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : undefined,
  };

  const launch = async (configPath: string): Promise<void> => {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === configPath);
    if (doc?.isDirty) await doc.save();
    if (!(await validateOrShow(configPath))) return;
    const dir = requireRunsDir();
    if (launcherSetting() === 'slurm') {
      log.info(`submitting a run from ${configPath} in ${dir} to Slurm (distill.launcher)`);
      await submitRunFromEditor({ configPath, runsDir: dir }, taskContext, log);
      tree.refresh();
      return;
    }
    log.info(`starting a run from ${configPath} in ${dir}`);
    const { runDir } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Distill: creating a run from ${path.basename(configPath)}` },
      () => mgr.start(configPath, dir),
    );
    log.info(`run ${runDir} started`);
    tree.refresh();
    updateStatus();
  };

  const resume = async (runDir: string): Promise<void> => {
    crashes.delete(path.resolve(runDir));
    if (launcherSetting() === 'slurm') {
      log.info(`resuming ${runDir} on Slurm (distill.launcher)`);
      await submitRunFromEditor({ runDir }, taskContext, log);
      tree.refresh();
      return;
    }
    log.info(`resuming ${runDir}`);
    mgr.resume(runDir);
    tree.refresh();
    updateStatus();
  };

  const stop = async (runDir: string, node?: TreeNodeModel): Promise<void> => {
    if (!mgr.isActive(runDir) && (await stopThroughSlurm(node, runDir, tree.jobs))) {
      tree.refreshSoon(100);
      return;
    }
    const how = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Distill: stopping ${path.basename(runDir)} (saving a checkpoint)…` },
      () => mgr.stop(runDir),
    );
    if (how === 'requested') {
      void vscode.window.showInformationMessage(
        `Distill: asked the process writing ${path.basename(runDir)} to save a checkpoint and stop.`,
      );
    }
    tree.refreshSoon(100);
  };

  const services: PanelServices = {
    worker: {
      sample: (spec: SampleSpec, onProgress?: (d: number, t: number) => void, signal?: AbortSignal): Promise<SampleResult> =>
        mgr.sample(spec, onProgress, signal),
      editInput: (runDir: string, source: EditSource, signal?: AbortSignal): Promise<EditInput> =>
        mgr.call<EditInput>((id, s) => ({ type: 'editInput', id, runDir, source, ...s }), undefined, signal),
      edit: (spec: EditTabSpec, onProgress?: (d: number, t: number) => void, signal?: AbortSignal): Promise<EditTabResult> =>
        mgr.call<EditTabResult>((id, s) => ({ type: 'edit', id, spec, ...s }), onProgress, signal),
    },
    launch,
    resume,
    stop,
    isActive: (runDir) => mgr.isActive(runDir),
    onRunEvent: (listener: (runDir: string, e: RunEvent) => void) => mgr.onRunEvent(listener),
    listConfigs,
    evaluate: async (runDir: string) => {
      await vscode.commands.executeCommand('distill.evaluateRun', runDir);
    },
    isEvaluating: (runDir: string) => toolRunning('eval', runDir),
    onToolsChanged: (listener: () => void) => onDidChangeTools(listener),
    log: { info: (s) => log.info(s), warn: (s) => log.warn(s) },
  };
  registerPanelSerializers(context, services);

  // ─── pickers ───
  const pickRun = async (filter: (n: TreeNodeModel) => boolean, placeHolder: string, none: string): Promise<string | undefined> => {
    tree.reload();
    const runs = tree.runs.filter(filter);
    if (runs.length === 0) {
      void vscode.window.showInformationMessage(`Distill: ${none}`);
      return undefined;
    }
    if (runs.length === 1) return runs[0].runDir;
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.label, description: r.description, detail: r.runDir, runDir: r.runDir })),
      { placeHolder },
    );
    return pick?.runDir;
  };

  /** A command argument → run folder: a tree node, a path string or a Uri. */
  const runArg = (arg: unknown): string | undefined => {
    if (typeof arg === 'string') return arg;
    if (arg instanceof vscode.Uri) return arg.fsPath;
    if (arg && typeof arg === 'object' && typeof (arg as TreeNodeModel).runDir === 'string') return (arg as TreeNodeModel).runDir;
    return undefined;
  };

  const run = (id: string, fn: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (e) {
          const msg = (e as Error).message ?? String(e);
          log.error(`${id}: ${(e as Error).stack ?? msg}`);
          void vscode.window.showErrorMessage(`Distill: ${msg}`, 'Show Log').then((p) => p && log.show(true));
          return undefined;
        }
      }),
    );

  // ─── commands ───
  run('distill.startRun', async (arg?: unknown) => {
    let configPath = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
    const active = vscode.window.activeTextEditor?.document;
    if (!configPath && active && isConfigPath(active.uri.fsPath)) configPath = active.uri.fsPath;
    if (!configPath) {
      const configs = await listConfigs();
      if (configs.length === 0) {
        const p = await vscode.window.showInformationMessage(`Distill: no *${CONFIG_SUFFIX} in the workspace.`, 'New Config');
        if (p) await vscode.commands.executeCommand('distill.newConfig');
        return;
      }
      const pick = await vscode.window.showQuickPick(
        configs.map((c) => ({
          label: c.label,
          description: c.error ? '$(error) invalid' : c.stages.join(' → '),
          detail: c.error,
          path: c.path,
        })),
        { placeHolder: 'Config to train (a *.distill.json)' },
      );
      if (!pick) return;
      configPath = pick.path;
    }
    await launch(configPath);
  });

  run('distill.resumeRun', async (arg?: unknown) => {
    const runDir =
      runArg(arg) ??
      (await pickRun(
        (r) => r.status === 'stopped' || r.status === 'failed' || r.status === 'new',
        'Run to resume',
        'no stopped or failed run to resume.',
      ));
    if (runDir) await resume(runDir);
  });

  run('distill.stopRun', async (arg?: unknown) => {
    const runDir = runArg(arg) ?? (await pickRun((r) => r.status === 'running' || mgr.isActive(r.runDir), 'Run to stop', 'no run is running.'));
    if (runDir) await stop(runDir, arg && typeof arg === 'object' && 'kind' in arg ? (arg as TreeNodeModel) : undefined);
  });

  run('distill.openDashboard', async (arg?: unknown) => {
    DashboardPanel.createOrShow(context.extensionUri, runArg(arg) ?? statusRun ?? tree.reload()[0]?.runDir, services);
  });

  run('distill.previewCheckpoint', async (arg?: unknown, checkpointArg?: unknown) => {
    let runDir = runArg(arg);
    let checkpoint = typeof checkpointArg === 'string' ? checkpointArg : (arg as TreeNodeModel | undefined)?.checkpoint;
    if (!runDir) runDir = await pickRun((r) => r.children.some((u) => u.children.length > 0), 'Run to preview', 'no run has a checkpoint yet.');
    if (!runDir) return;
    if (!checkpoint && typeof arg !== 'object') {
      const node = tree.runs.find((r) => r.runDir === runDir);
      const ckpts = (node?.children ?? []).flatMap((u) => u.children.map((c) => ({ label: `${u.label} · ${c.label}`, description: c.description, checkpoint: c.checkpoint })));
      if (ckpts.length > 1) {
        const pick = await vscode.window.showQuickPick(ckpts, { placeHolder: 'Checkpoint to sample from' });
        if (!pick) return;
        checkpoint = pick.checkpoint;
      }
    }
    PreviewPanel.createOrShow(context.extensionUri, runDir, checkpoint, services);
  });

  // distill.newConfig [template]: with an example's id (the walkthrough's buttons) it writes <id>.distill.json (or
  // <id>-2…) into the workspace folder and opens it; without, it asks for the example and the file name.
  run('distill.newConfig', async (template?: unknown) => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) throw new Error('Open a folder first: the new config is written into it.');
    const examples = listExamples(vscode.Uri.joinPath(context.extensionUri, 'examples').fsPath);
    if (examples.length === 0) throw new Error('this build ships no example configs (examples/*.distill.json)');
    const given = typeof template === 'string' ? examples.find((e) => e.id === template) : undefined;
    if (typeof template === 'string' && !given) throw new Error(`no example config "${template}"; examples: ${examples.map((e) => e.id).join(', ')}`);
    const pick = given
      ? { example: given }
      : await vscode.window.showQuickPick(
          examples.map((e) => ({ label: e.id, description: e.description, example: e })),
          { placeHolder: 'Start from which example?' },
        );
    if (!pick) return;
    let name = `${pick.example.id}${CONFIG_SUFFIX}`;
    for (let i = 2; fs.existsSync(path.join(folder.uri.fsPath, name)); i++) name = `${pick.example.id}-${i}${CONFIG_SUFFIX}`;
    const entered = given
      ? name
      : await vscode.window.showInputBox({
          prompt: 'File name of the new config (in the workspace folder)',
          value: name,
          validateInput: (v) =>
            !v.endsWith(CONFIG_SUFFIX)
              ? `must end with ${CONFIG_SUFFIX}`
              : fs.existsSync(path.join(folder.uri.fsPath, v))
                ? `${v} exists already`
                : undefined,
        });
    if (!entered) return;
    const target = path.join(folder.uri.fsPath, entered);
    const schemaUri = vscode.Uri.joinPath(context.extensionUri, 'src', 'engine', 'config.schema.json').toString();
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, starterConfigText(pick.example.file, schemaUri), { flag: 'wx' });
    await vscode.window.showTextDocument(vscode.Uri.file(target));
    log.info(`wrote ${target} from the ${pick.example.id} example`);
  });

  const tool = (kind: ToolKind) => async (arg?: unknown) => {
    const runDir =
      runArg(arg) ??
      (await pickRun((r) => r.children.some((u) => u.children.length > 0), `Run to ${kind === 'export' ? 'export' : 'evaluate'}`, 'no run has a checkpoint yet.'));
    if (!runDir) return;
    if (lockIsLive(readLock(runDir)) && kind === 'export') log.warn(`${runDir} is still training: exporting its newest checkpoint`);
    await runTool(kind, runDir, mgr, log);
  };
  run('distill.exportStudent', tool('export'));
  run('distill.evaluateRun', tool('eval'));

  const backendsDoc = registerBackendsDocument(context);
  run('distill.showBackends', () => showBackends(mgr, backendsDoc, log, explicit<Backend>('backend')));

  run('distill.showLog', () => log.show());
  run('distill.gettingStarted', () => {
    const id = `${context.extension.id}#distill.gettingStarted`;
    log.info(`opening the walkthrough ${id}`);
    return vscode.commands.executeCommand('workbench.action.openWalkthrough', id, false);
  });
  run('distill.refreshRuns', () => {
    tree.refresh();
    updateStatus();
  });

  registerSweeps({
    context,
    tree,
    runsDir,
    requireRunsDir,
    task: taskContext,
    log,
    register: run,
    openCompare: (sweepDir) => ComparePanel.createOrShow(context.extensionUri, sweepDir, services, () => tree.jobs),
  });

  timings.activateMs = performance.now() - activateStart;
  log.info(`activated in ${timings.activateMs.toFixed(1)} ms; runs folder: ${runsDir() ?? '(no folder open)'}`);
  return { runsDir, manager: mgr, tree, timings };
}

export async function deactivate(): Promise<void> {
  // Runs save a checkpoint and close cleanly; the editor allows a few seconds here, the workers go on saving if not.
  await manager?.dispose();
  manager = undefined;
}
