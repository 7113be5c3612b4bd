/**
 * Export Student / Evaluate Run: the `distill export` / `distill eval` tools, run in the tools worker with a
 * cancellable progress notification. Cancel sends the worker a `cancel` for the call; the engine stops at its next
 * check without writing a result (evaluate writes its report only at the very end), and the user is told the tool
 * was cancelled, not that it failed. Which tools are running is tracked per run (the dashboard's Report view shows
 * it, and a second evaluation of the same run is refused while one is under way).
 */
import * as vscode from 'vscode';
import * as path from 'path';
import type { ToolName, ToolResult } from '../protocol';
import { CallCancelled, RunManager } from './model/manager';

export type ToolKind = ToolName;

const running = new Set<string>();
const changed = new vscode.EventEmitter<void>();
const key = (kind: ToolKind, runDir: string): string => `${kind}\0${path.resolve(runDir)}`;

/** True while this window runs `kind` for the run. */
export function toolRunning(kind: ToolKind, runDir: string): boolean {
  return running.has(key(kind, runDir));
}

/** Fires when a tool starts or ends. */
export const onDidChangeTools: vscode.Event<void> = changed.event;

const NAMES: Record<ToolKind, { noun: string; busy: string }> = {
  export: { noun: 'Export', busy: 'being exported' },
  eval: { noun: 'Evaluation', busy: 'being evaluated' },
};

export async function runTool(
  kind: ToolKind,
  runDir: string,
  mgr: RunManager,
  log: vscode.LogOutputChannel,
  opts: { preset?: 'quick' | 'full' } = {},
): Promise<void> {
  const name = path.basename(runDir);
  const { noun, busy } = NAMES[kind];
  const k = key(kind, runDir);
  if (running.has(k)) {
    void vscode.window.showInformationMessage(`Distill: ${name} is already ${busy} in this window.`);
    return;
  }
  const title =
    kind === 'export'
      ? `exporting the student of ${name}`
      : `evaluating ${name}${opts.preset ? ` (${opts.preset})` : ''}`;
  log.info(`${title}…`);
  running.add(k);
  changed.fire();
  let outcome: { result: ToolResult } | { cancelled: string };
  try {
    outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Distill: ${title}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        let last = 0;
        const sub = token.onCancellationRequested(() => {
          log.info(`${title}: cancel requested`);
          progress.report({ message: 'cancelling…' });
          abort.abort();
        });
        try {
          const result = await mgr.call<ToolResult>(
            (id, s) => ({
              type: 'tool',
              id,
              tool: kind,
              runDir,
              ...s,
              ...(opts.preset ? { preset: opts.preset } : {}),
            }),
            (done, total) => {
              if (abort.signal.aborted) return;
              const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
              progress.report({ increment: pct - last, message: `${Math.floor(pct)} %` });
              last = pct;
            },
            abort.signal,
          );
          return { result };
        } catch (e) {
          if (e instanceof CallCancelled) return { cancelled: e.detail };
          throw e;
        } finally {
          sub.dispose();
        }
      },
    );
  } finally {
    running.delete(k);
    changed.fire();
  }
  if ('cancelled' in outcome) {
    log.info(`${title}: cancelled (${outcome.cancelled})`);
    void vscode.window.showInformationMessage(`Distill: ${noun} cancelled (${name}).`);
    return;
  }
  const result = outcome.result;
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
