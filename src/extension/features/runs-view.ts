/**
 * The Runs view: the tree over the runs folder, kept current by the run manager's events, a file watcher on the runs
 * folder (runs started by the CLI appear and update live) and a slow poll for file systems whose watchers miss appends.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as vscode from 'vscode';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  const { manager, tree, log } = s;
  // canSelectMany: Compare Runs takes the selected runs
  const view = vscode.window.createTreeView('distill.runs', {
    treeDataProvider: tree,
    showCollapseAll: true,
    canSelectMany: true,
  });
  context.subscriptions.push(
    view,
    tree.onFirstLoad((n) => {
      s.timings.treeReadyMs = performance.now() - s.activateStart;
      s.timings.treeRuns = n;
    }),
    manager.onRunEvent((_runDir, e) => {
      if (
        e.type === 'loss' ||
        e.type === 'stage_start' ||
        e.type === 'checkpoint' ||
        e.type === 'stage_end' ||
        e.type === 'run_end'
      ) {
        tree.refreshSoon(e.type === 'loss' ? 1000 : 200);
      }
      s.status.updateSoon();
    }),
    manager.onActiveChanged(() => {
      tree.refreshSoon(100);
      s.status.updateSoon();
    }),
  );

  let watcher: vscode.FileSystemWatcher | undefined;
  const pendingDirs = new Set<string>();
  let watchTimer: NodeJS.Timeout | undefined;
  const onFsChange = (uri: vscode.Uri) => {
    const root = s.runsDir();
    if (!root) return;
    const rel = path.relative(root, uri.fsPath);
    if (rel.startsWith('..')) return;
    const first = rel.split(path.sep)[0];
    if (first) pendingDirs.add(path.join(root, first));
    if (watchTimer) return;
    watchTimer = setTimeout(() => {
      watchTimer = undefined;
      for (const d of pendingDirs) if (fs.existsSync(path.join(d, 'events.jsonl'))) manager.syncFromDisk(d);
      pendingDirs.clear();
      tree.refresh();
      s.status.updateSoon();
    }, 300);
  };
  const watch = () => {
    watcher?.dispose();
    const root = s.runsDir();
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
    for (const r of tree.reload()) manager.syncFromDisk(r.runDir);
    tree.refresh();
  };
  // The first listing reads every run's log: after activation, not inside it (activate() stays light).
  const firstWatch = setTimeout(() => {
    watch();
    s.status.update();
  }, 0);
  const poll = setInterval(() => {
    if (!s.runsDir()) return;
    for (const r of tree.runs)
      if (r.status === 'running' && !manager.isActive(r.runDir)) manager.syncFromDisk(r.runDir);
    if (tree.runs.some((r) => r.status === 'running')) {
      tree.refreshSoon(100);
      s.status.updateSoon();
    }
  }, 5000);
  context.subscriptions.push(
    {
      dispose: () => (
        clearTimeout(firstWatch), watcher?.dispose(), clearInterval(poll), watchTimer && clearTimeout(watchTimer)
      ),
    },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.runsFolder')) watch();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => watch()),
  );

  s.command('distill.refreshRuns', () => {
    tree.refresh();
    s.status.update();
  });
  s.command('distill.showLog', () => log.show());
}
