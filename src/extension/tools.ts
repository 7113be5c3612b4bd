/** Export Student / Evaluate Run: the `distill export` / `distill eval` tools, run in the tools worker with progress. */
import * as vscode from 'vscode';
import * as path from 'path';
import type { ToolName, ToolResult } from '../protocol';
import type { RunManager } from './model/manager';

export type ToolKind = ToolName;

export async function runTool(kind: ToolKind, runDir: string, mgr: RunManager, log: vscode.LogOutputChannel): Promise<void> {
  const title = kind === 'export' ? `exporting the student of ${path.basename(runDir)}` : `evaluating ${path.basename(runDir)}`;
  log.info(`${title}…`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Distill: ${title}`, cancellable: false },
    async (progress) => {
      let last = 0;
      return mgr.call<ToolResult>(
        (id, s) => ({ type: 'tool', id, tool: kind, runDir, ...s }),
        (done, total) => {
          const pct = total > 0 ? (100 * done) / total : 0;
          progress.report({ increment: pct - last, message: `${done}/${total}` });
          last = pct;
        },
      );
    },
  );
  log.info(result.summary);
  const open = result.files.find((f) => /\.(md|json|html)$/i.test(f)) ?? result.files[0];
  const actions = open ? ['Open', 'Reveal'] : [];
  const pick = await vscode.window.showInformationMessage(`Distill: ${result.summary}`, ...actions);
  if (pick === 'Open' && open) {
    if (/\.md$/i.test(open)) await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(open));
    else await vscode.window.showTextDocument(vscode.Uri.file(open));
  }
  if (pick === 'Reveal' && open) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(open));
}
