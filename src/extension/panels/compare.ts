/**
 * The dashboard's Compare view (create-or-reveal: one panel per sweep folder, one per set of runs picked together):
 * posts the view built by compare-view.ts, again every few seconds while it is visible and something changed;
 * "openRun" opens the dashboard of one of its runs. Messages both ways are validated (src/protocol). The webview
 * keeps what it compares in its state, so the panel comes back after a window reload (panel-serializers.ts).
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { buildCompareView, compareKey, CompareSource } from './compare-view';
import { errorText, panelHtml, postValidated, receiveValidated, runKey, webviewOptions } from './panel-webview';
import { DashboardPanel } from './dashboard';
import type { PanelServices } from './panel-services';

export const COMPARE_VIEW_TYPE = 'diffusionDistiller.compare';
const REFRESH_MS = 3000;

/** The folders the panel may load images from: the sweep folder, or each run folder. */
function roots(source: CompareSource): string[] {
  return 'sweepDir' in source ? [source.sweepDir] : source.runDirs;
}

function titleOf(source: CompareSource): string {
  if ('sweepDir' in source) return `Compare: ${path.basename(source.sweepDir)}`;
  const names = source.runDirs.map((d) => path.basename(d));
  return `Compare: ${names.length <= 3 ? names.join(', ') : `${names.length} runs`}`;
}

export class ComparePanel {
  private static readonly panels = new Map<string, ComparePanel>();

  static createOrShow(extensionUri: vscode.Uri, source: CompareSource, services: PanelServices): void {
    const existing = ComparePanel.panels.get(compareKey(source));
    if (existing) {
      existing.panel.reveal(undefined, false);
      existing.send(true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      COMPARE_VIEW_TYPE,
      titleOf(source),
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      webviewOptions(extensionUri, roots(source)),
    );
    new ComparePanel(panel, extensionUri, source, services);
  }

  /** A panel restored after a window reload (panel-serializers.ts). */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, source: CompareSource, services: PanelServices) {
    const existing = ComparePanel.panels.get(compareKey(source));
    if (existing) {
      panel.dispose();
      existing.panel.reveal(undefined, true);
      return;
    }
    panel.webview.options = webviewOptions(extensionUri, roots(source));
    panel.title = titleOf(source);
    new ComparePanel(panel, extensionUri, source, services);
  }

  private last = '';
  private ready = false;
  private timer: NodeJS.Timeout;
  private disposables: vscode.Disposable[] = [];
  private readonly key: string;
  private readonly runDirs: Set<string>;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly source: CompareSource,
    private readonly services: PanelServices,
  ) {
    this.key = compareKey(source);
    this.runDirs = new Set('runDirs' in source ? source.runDirs.map(runKey) : []);
    ComparePanel.panels.set(this.key, this);
    panel.webview.html = panelHtml(panel.webview, extensionUri, 'compare', panel.title);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'distill.svg');
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const m = receiveValidated(raw, (s) => services.log.warn(s), 'compare');
        if (m?.type === 'ready') {
          this.ready = true;
          this.send(true);
        } else if (m?.type === 'openRun') {
          if (this.mayOpen(m.runDir)) DashboardPanel.createOrShow(this.extensionUri, m.runDir, this.services);
          else services.log.warn(`compare: not opening ${m.runDir}, which is not one of the compared runs`);
        }
      }),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
    this.timer = setInterval(() => this.panel.visible && this.send(false), REFRESH_MS);
  }

  /** Only the compared runs' dashboards open from this panel. */
  private mayOpen(runDir: string): boolean {
    if ('sweepDir' in this.source) {
      const rel = path.relative(path.resolve(this.source.sweepDir), path.resolve(runDir));
      return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
    }
    return this.runDirs.has(runKey(runDir));
  }

  private send(force: boolean): void {
    if (!this.ready) return;
    try {
      const webview = this.panel.webview;
      const view = buildCompareView(
        this.source,
        (abs, mtime) => `${webview.asWebviewUri(vscode.Uri.file(abs)).toString()}?v=${Math.round(mtime)}`,
        this.services.slurmJobs(),
      );
      const json = JSON.stringify(view);
      if (!force && json === this.last) return;
      this.last = json;
      postValidated(webview, { type: 'compare', view }, (s) => this.services.log.warn(s), 'compare');
    } catch (e) {
      this.services.log.warn(`compare: ${errorText(e)}`);
    }
  }

  private dispose(): void {
    if (ComparePanel.panels.get(this.key) === this) ComparePanel.panels.delete(this.key);
    clearInterval(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
