/** Notifications about runs: a unit finished, a run finished / stopped / failed (with the next step as a button). */
import * as path from 'path';
import * as vscode from 'vscode';
import { mentionsBackend } from '../model/backends';
import { formatDuration, lastLines, unitLabel } from '../model/format';
import type { RunOutcome } from '../model/manager';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  const { manager, tree, log, crashes } = s;

  async function notifyEnd(o: RunOutcome): Promise<void> {
    const name = path.basename(o.runDir);
    tree.refresh();
    if (o.status === 'finished') {
      crashes.delete(o.runDir);
      const pick = await vscode.window.showInformationMessage(
        `Distill: ${name} finished.`,
        'Open Dashboard',
        'Evaluate',
        'Export Student',
      );
      if (pick === 'Open Dashboard') await vscode.commands.executeCommand('distill.openDashboard', o.runDir);
      if (pick === 'Evaluate') await vscode.commands.executeCommand('distill.evaluateRun', o.runDir);
      if (pick === 'Export Student') await vscode.commands.executeCommand('distill.exportStudent', o.runDir);
    } else if (o.status === 'stopped') {
      crashes.delete(o.runDir);
      const pick = await vscode.window.showInformationMessage(
        `Distill: ${name} stopped; its checkpoints are saved.`,
        'Resume',
      );
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

  context.subscriptions.push(
    manager.onRunEvent((runDir, e) => {
      if (e.type === 'stage_end' && manager.isActive(runDir)) {
        void vscode.window.showInformationMessage(
          `Distill: ${path.basename(runDir)} — ${unitLabel(e.unit)} done (${e.step} steps in ${formatDuration(e.seconds)}).`,
        );
      }
      if (e.type === 'error') log.error(`${path.basename(runDir)}: ${e.message}`);
    }),
    manager.onRunEnded((o) => void notifyEnd(o)),
  );
}
