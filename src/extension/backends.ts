/**
 * "Distill: Show Backends": asks the tools worker (the extension never loads tfjs) for its BackendsReport and shows it
 * as a read-only markdown document (scheme `distill-backends`), in the markdown preview when the editor has one.
 * Running the command again probes again and refreshes the open document.
 */
import * as vscode from 'vscode';
import { asBackendsReport, Backend, BackendsReport } from '../protocol';
import { backendsLogLine, backendsMarkdown } from './model/backends';
import type { RunManager } from './model/manager';

export const BACKENDS_SCHEME = 'distill-backends';
export const BACKENDS_URI = vscode.Uri.from({ scheme: BACKENDS_SCHEME, path: '/Distill Backends.md' });

/** The read-only document's content. */
export class BackendsDocument implements vscode.TextDocumentContentProvider {
  private text = '# Distill: backends\n\nProbing…\n';
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(): string {
    return this.text;
  }

  update(text: string): void {
    this.text = text;
    this.changed.fire(BACKENDS_URI);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Registers the document provider; returns it for showBackends. */
export function registerBackendsDocument(context: vscode.ExtensionContext): BackendsDocument {
  const doc = new BackendsDocument();
  context.subscriptions.push(doc, vscode.workspace.registerTextDocumentContentProvider(BACKENDS_SCHEME, doc));
  return doc;
}

/** Probes in the worker, fills the document and shows it. Resolves with the report (tests read it). */
export async function showBackends(
  mgr: Pick<RunManager, 'call'>,
  doc: BackendsDocument,
  log: Pick<vscode.LogOutputChannel, 'info'>,
  setting: Backend | undefined,
): Promise<BackendsReport> {
  const raw = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: 'Distill: probing backends (WebGPU adapter, CUDA, wasm)…',
    },
    () => mgr.call<unknown>((id) => ({ type: 'backends', id })),
  );
  const report = asBackendsReport(raw);
  if (!report) throw new Error(`the worker's backends report is malformed: ${JSON.stringify(raw)?.slice(0, 200)}`);
  log.info(backendsLogLine(report));
  doc.update(backendsMarkdown(report, { setting, probedAt: new Date() }));
  try {
    await vscode.commands.executeCommand('markdown.showPreview', BACKENDS_URI);
  } catch {
    // No markdown preview in this editor: the markdown source is readable too.
    await vscode.window.showTextDocument(BACKENDS_URI, { preview: true });
  }
  return report;
}
