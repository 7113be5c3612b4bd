/**
 * The dashboard's Compare view for a sweep (one panel per sweep folder, create-or-reveal): posts the view built by
 * compareview.ts, again every few seconds while it is visible and something changed; "openRun" opens a run's
 * dashboard. Messages both ways are validated (src/protocol).
 */
import * as vscode from 'vscode';
import type { JobInfo } from '../../launcher/slurm';
import { buildCompareView } from './compare-view';
import { errorText, panelHtml, postValidated, receiveValidated, runKey, webviewOptions } from './panel-webview';
import { DashboardPanel } from './dashboard';
import type { PanelServices } from './panel-services';

export const COMPARE_VIEW_TYPE = 'diffusionDistiller.compare';
const REFRESH_MS = 3000;

export class ComparePanel {
  private static readonly panels = new Map<string, ComparePanel>();

  static createOrShow(
    extensionUri: vscode.Uri,
    sweepDir: string,
    services: PanelServices,
    jobs: () => ReadonlyMap<string, JobInfo>,
  ): void {
    const existing = ComparePanel.panels.get(runKey(sweepDir));
    if (existing) {
      existing.panel.reveal(undefined, false);
      existing.send(true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      COMPARE_VIEW_TYPE,
      `Compare: ${sweepDir.split(/[\\/]/).pop()}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      webviewOptions(extensionUri, sweepDir),
    );
    new ComparePanel(panel, extensionUri, sweepDir, services, jobs);
  }

  private last = '';
  private ready = false;
  private timer: NodeJS.Timeout;
  private disposables: vscode.Disposable[] = [];

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly sweepDir: string,
    private readonly services: PanelServices,
    private readonly jobs: () => ReadonlyMap<string, JobInfo>,
  ) {
    ComparePanel.panels.set(runKey(sweepDir), this);
    panel.webview.html = panelHtml(panel.webview, extensionUri, 'compare', panel.title);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'distill.svg');
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const m = receiveValidated(raw, (s) => services.log.warn(s), 'compare');
        if (m?.type === 'ready') {
          this.ready = true;
          this.send(true);
        } else if (m?.type === 'openRun' && m.runDir.startsWith(this.sweepDir)) {
          DashboardPanel.createOrShow(this.extensionUri, m.runDir, this.services);
        }
      }),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
    this.timer = setInterval(() => this.panel.visible && this.send(false), REFRESH_MS);
  }

  private send(force: boolean): void {
    if (!this.ready) return;
    try {
      const webview = this.panel.webview;
      const view = buildCompareView(
        this.sweepDir,
        (abs, mtime) => `${webview.asWebviewUri(vscode.Uri.file(abs)).toString()}?v=${Math.round(mtime)}`,
        this.jobs(),
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
    ComparePanel.panels.delete(runKey(this.sweepDir));
    clearInterval(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
