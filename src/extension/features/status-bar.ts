/** The status-bar item: the progress of the first running run (this window's, else one written by another process). */
import * as path from 'path';
import * as vscode from 'vscode';
import { statusBarText, statusBarTooltip } from '../model/format';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  const { manager, tree } = s;
  const item = vscode.window.createStatusBarItem('distill.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Distill';
  let run: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const update = () => {
    const mine = manager.activeRuns();
    const live = tree.runs.filter((r) => r.status === 'running' && !manager.isActive(r.runDir)).map((r) => r.runDir);
    const all = [...mine, ...live];
    if (all.length === 0) {
      item.hide();
      run = undefined;
      return;
    }
    run = all[0];
    const summary = manager.summary(run) ?? tree.describe(run).summary;
    item.text = statusBarText(summary, all.length - 1);
    item.tooltip = statusBarTooltip(path.basename(run), summary, !mine.includes(run));
    item.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [run] };
    item.show();
  };
  s.status = {
    get run() {
      return run;
    },
    update,
    updateSoon: () => {
      if (!timer) timer = setTimeout(() => ((timer = undefined), update()), 250);
    },
  };
  context.subscriptions.push(item, { dispose: () => timer && clearTimeout(timer) });
}
