/**
 * The VS Code extension host side. activate() builds the shared services once (services.ts) and lets each feature
 * register its commands, views and listeners (features/*.ts). Training and sampling run in worker processes
 * (dist/worker.js) supervised by RunManager; this side never loads tfjs, and its logic lives in model/ (no vscode).
 */
import { performance } from 'perf_hooks';
import type * as vscode from 'vscode';
import * as backends from './features/backends';
import * as configs from './features/configs';
import * as nodeCheck from './features/node-check';
import * as panels from './features/panels';
import * as runCommands from './features/run-commands';
import * as runNotifications from './features/run-notifications';
import * as runsView from './features/runs-view';
import * as statusBar from './features/status-bar';
import * as sweeps from './features/sweeps';
import * as tools from './features/tools';
import * as walkthrough from './features/walkthrough';
import type { RunManager } from './model/manager';
import type { RunsTreeProvider } from './runs-tree-provider';
import { ActivationTimings, createServices } from './services';

export type { ActivationTimings } from './services';

/** What the integration tests and other extensions can reach: `vscode.extensions.getExtension(id).exports`. */
export interface DistillApi {
  runsDir(): string | undefined;
  manager: RunManager;
  tree: RunsTreeProvider;
  /** Measured start-up (npm run bench:editor and the e2e suite print them). */
  timings: ActivationTimings;
}

/** Each feature registers itself; the status bar first (the others update it), the run commands before the panels. */
const FEATURES = [
  statusBar,
  runsView,
  runNotifications,
  runCommands,
  panels,
  tools,
  configs,
  backends,
  sweeps,
  walkthrough,
  nodeCheck,
];

let manager: RunManager | undefined;

export function activate(context: vscode.ExtensionContext): DistillApi {
  const start = performance.now();
  const services = createServices(context, start);
  manager = services.manager;
  for (const feature of FEATURES) feature.register(context, services);
  services.timings.activateMs = performance.now() - start;
  services.log.info(
    `activated in ${services.timings.activateMs.toFixed(1)} ms; runs folder: ${services.runsDir() ?? '(no folder open)'}`,
  );
  return { runsDir: services.runsDir, manager: services.manager, tree: services.tree, timings: services.timings };
}

export async function deactivate(): Promise<void> {
  // Runs save a checkpoint and close cleanly; the editor allows a few seconds here, the workers go on saving if not.
  await manager?.dispose();
  manager = undefined;
}
