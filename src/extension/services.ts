/**
 * What every feature of the extension shares, built once by activate(): the log channel, the run manager (worker
 * supervision), the runs folder and its Runs view model, Workspace Trust, the launch context for the CLI, command
 * registration with one error handling, and the pickers. Features (features/*.ts) receive it in register().
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskContext } from '../launcher/local';
import type { Backend } from '../protocol';
import { RunManager } from './model/manager';
import type { TreeNodeModel } from './model/run-nodes';
import { NodeRuntime, resolveNodeRuntime } from './model/runtime';
import { RunsTreeProvider } from './runs-tree-provider';

export interface ActivationTimings {
  /** Duration of activate() itself. */
  activateMs: number;
  /** From the start of activate() to the first listing of the runs folder (the Runs view's content), and its size. */
  treeReadyMs?: number;
  treeRuns?: number;
}

/** Starting, resuming and stopping runs (the run commands implement it; the panels call it). */
export interface RunOperations {
  launch(configPath: string): Promise<void>;
  resume(runDir: string): Promise<void>;
  stop(runDir: string, node?: TreeNodeModel): Promise<void>;
}

/** The status-bar item's run (the status-bar feature implements it). */
export interface StatusService {
  /** The run the status bar shows, if any. */
  readonly run: string | undefined;
  update(): void;
  updateSoon(): void;
}

export interface Services {
  readonly context: vscode.ExtensionContext;
  readonly extensionUri: vscode.Uri;
  readonly log: vscode.LogOutputChannel;
  readonly manager: RunManager;
  readonly tree: RunsTreeProvider;
  /** The last output of runs that failed in this window, by run folder (shown in the Runs view's tooltips). */
  readonly crashes: Map<string, string>;
  readonly timings: ActivationTimings;
  /** Measured from here (performance.now() at the start of activate()). */
  readonly activateStart: number;
  /** The runs folder (setting distill.runsFolder), undefined without an open folder. */
  runsDir(): string | undefined;
  /** The runs folder, or an error telling to open a folder. */
  requireRunsDir(): string;
  /** A distill.* setting only if the user set it (in any scope), else undefined. */
  explicit<T>(key: string): T | undefined;
  /** The worker's Node executable as last resolved (distill.nodePath, PATH or the editor's runtime). */
  runtime(): NodeRuntime;
  /** What the launchers run for a task: this extension's CLI bundle on the worker's Node. */
  task(): TaskContext;
  /** Workspace Trust: in Restricted Mode nothing starts a process. */
  readonly trust: {
    isTrusted(): boolean;
    /** True when trusted; else shows why `action` is not done (with a button to manage trust) and returns false. */
    allow(action: string): boolean;
  };
  /** Registers a command whose errors are logged and shown, not thrown. */
  command(id: string, fn: (...args: unknown[]) => unknown): void;
  /** A command argument (a Runs view node, a path string or a Uri) → run folder. */
  runArg(arg: unknown): string | undefined;
  /** Asks for a run among those `filter` keeps (the only one without asking); says `none` when there is none. */
  pickRun(filter: (n: TreeNodeModel) => boolean, placeHolder: string, none: string): Promise<string | undefined>;
  /** Set by the run commands and the status bar features. */
  runs: RunOperations;
  status: StatusService;
}

const cfg = () => vscode.workspace.getConfiguration('distill');

/** The message shown when Restricted Mode refuses an action. */
export function restrictedMessage(action: string): string {
  return `Distill: this folder is open in Restricted Mode, so Distill does not ${action}. Runs, sample grids, reports and previews can still be looked at; trust the folder to train, sample, evaluate and export.`;
}

/** An error thrown where a process would start in Restricted Mode. */
export class RestrictedModeError extends Error {
  constructor(action: string) {
    super(restrictedMessage(action).replace(/^Distill: /, ''));
  }
}

function resolveRuntime(log: vscode.LogOutputChannel): NodeRuntime {
  try {
    return resolveNodeRuntime(cfg().get<string>('nodePath'));
  } catch (e) {
    log.warn(`${(e as Error).message}; using the editor's own runtime`);
    void vscode.window.showErrorMessage(`Distill: ${(e as Error).message}. Using the editor's own runtime.`);
    return resolveNodeRuntime(undefined, { PATH: '' });
  }
}

export function createServices(context: vscode.ExtensionContext, activateStart: number): Services {
  const log = vscode.window.createOutputChannel('Distill', { log: true });
  context.subscriptions.push(log);
  const runsDir = (): string | undefined => {
    const setting = cfg().get<string>('runsFolder', 'runs') || 'runs';
    if (path.isAbsolute(setting)) return setting;
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, setting) : undefined;
  };
  const explicit = <T>(key: string): T | undefined => {
    const i = cfg().inspect<T>(key);
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  };
  const isTrusted = () => vscode.workspace.isTrusted;
  const allow = (action: string): boolean => {
    if (isTrusted()) return true;
    log.warn(`Restricted Mode: did not ${action}`);
    void vscode.window.showWarningMessage(restrictedMessage(action), 'Manage Workspace Trust').then((p) => {
      if (p) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return false;
  };

  // In Restricted Mode the editor hides the workspace's distill.nodePath: it is resolved again once trusted, and
  // whenever the setting changes (running workers keep the Node they started with).
  let runtime = resolveRuntime(log);
  log.info(
    `worker runtime: ${runtime.nodePath} (${runtime.source}${runtime.electron ? ', ELECTRON_RUN_AS_NODE=1' : ''})`,
  );
  const manager = new RunManager({
    workerPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath,
    nodePath: runtime.nodePath,
    electron: runtime.electron,
    stopTimeoutMs: 30_000,
    // Only settings the user made override the run's config (its "backend" / "threads").
    settings: () => ({ backend: explicit<Backend>('backend'), threads: explicit<number>('threads') }),
    mayStartProcess: () => {
      if (!isTrusted()) throw new RestrictedModeError('start a worker process');
    },
    log: (level, text) => (level === 'error' ? log.error(text) : level === 'warn' ? log.warn(text) : log.info(text)),
  });
  const reresolve = (why: string) => {
    runtime = resolveRuntime(log);
    manager.setRuntime(runtime.nodePath, runtime.electron);
    log.info(`${why}; worker runtime for new workers: ${runtime.nodePath} (${runtime.source})`);
  };
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => reresolve('workspace trusted')),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.nodePath')) reresolve('distill.nodePath changed');
    }),
  );

  const crashes = new Map<string, string>();
  const tree = new RunsTreeProvider(
    runsDir,
    (d) => manager.isActive(d),
    crashes,
    (e) => log.error(`runs folder: ${e.message}`),
  );
  context.subscriptions.push(tree);

  const notReady = (what: string) => () => {
    throw new Error(`${what} is not registered yet`);
  };
  const services: Services = {
    context,
    extensionUri: context.extensionUri,
    log,
    manager,
    tree,
    crashes,
    timings: { activateMs: NaN },
    activateStart,
    runsDir,
    requireRunsDir: () => {
      const d = runsDir();
      if (!d) throw new Error('Open a folder first: runs are kept in its "runs" folder (setting distill.runsFolder).');
      return d;
    },
    explicit,
    runtime: () => runtime,
    task: () => ({
      nodePath: runtime.nodePath,
      cliPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath,
      env: runtime.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : undefined,
    }),
    trust: { isTrusted, allow },
    command: (id, fn) =>
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
      ),
    runArg: (arg) => {
      if (typeof arg === 'string') return arg;
      if (arg instanceof vscode.Uri) return arg.fsPath;
      if (arg && typeof arg === 'object' && typeof (arg as TreeNodeModel).runDir === 'string')
        return (arg as TreeNodeModel).runDir;
      return undefined;
    },
    pickRun: async (filter, placeHolder, none) => {
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
    },
    runs: { launch: notReady('Start Run'), resume: notReady('Resume Run'), stop: notReady('Stop Run') },
    status: { run: undefined, update: () => undefined, updateSoon: () => undefined },
  };
  return services;
}
