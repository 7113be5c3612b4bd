/**
 * The run dashboard panel (one per run folder, create-or-reveal; one run-less dashboard for launching).
 * History comes from the run's events.jsonl, new events from the worker (services.onRunEvent) and from the file
 * growing (runs driven by the CLI), de-duplicated; they reach the webview in batches. The Report view follows
 * <run>/eval/report.json and its plots with the same watcher and timer (see report.ts). Webview messages are
 * validated and turned into services calls.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunEvent } from '../../engine/run/events';
import { ConfigEntry, HostToWebview, RunView, WebviewToHost } from '../../protocol';
import { errorText, panelHtml, postValidated, receiveValidated, runKey, webviewOptions } from './panel-webview';
import { readReport, REPORT_MD, reportDir, reportSignature } from './report';
import { buildRunView, runName } from './run-view';
import type { PanelServices } from './panel-services';
import { CompactLog } from '../model/run-log';
import { RunEventFeed } from './run-event-feed';

export const DASHBOARD_VIEW_TYPE = 'diffusionDistiller.dashboard';
/** Events are batched for this long before they are posted to the webview. */
const FLUSH_MS = 100;
/** How often the run's status (active / lock / rate) is re-checked while the panel is visible. */
const STATUS_MS = 2000;
/** A dashboard that launched a run adopts (or opens a dashboard for) the next new run within this time. */
const ADOPT_MS = 120_000;

export class DashboardPanel {
  private static readonly panels = new Map<string, DashboardPanel>();

  static createOrShow(extensionUri: vscode.Uri, runDir: string | undefined, services: PanelServices): void {
    const existing = DashboardPanel.panels.get(runKey(runDir));
    if (existing) {
      existing.panel.reveal(undefined, false);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      DASHBOARD_VIEW_TYPE,
      DashboardPanel.titleFor(runDir),
      { viewColumn: vscode.window.activeTextEditor?.viewColumn ?? vscode.ViewColumn.One, preserveFocus: false },
      webviewOptions(extensionUri, runDir),
    );
    new DashboardPanel(panel, extensionUri, runDir, services);
  }

  /** Restores a dashboard after a window reload (see registerPanelSerializers). */
  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    runDir: string | undefined,
    services: PanelServices,
  ): void {
    let dir = runDir;
    if (dir && !fs.existsSync(dir)) {
      services.log.warn(`dashboard: run folder ${dir} no longer exists; restoring an empty dashboard`);
      dir = undefined;
    }
    const existing = DashboardPanel.panels.get(runKey(dir));
    if (existing) {
      panel.dispose();
      existing.panel.reveal(undefined, true);
      return;
    }
    panel.webview.options = webviewOptions(extensionUri, dir);
    panel.title = DashboardPanel.titleFor(dir);
    new DashboardPanel(panel, extensionUri, dir, services);
  }

  /** Panels currently open (for tests and the extension's own bookkeeping). */
  static openRunDirs(): (string | undefined)[] {
    return [...DashboardPanel.panels.values()].map((p) => p.runDir);
  }

  private static titleFor(runDir: string | undefined): string {
    return runDir ? `Dashboard: ${runName(runDir)}` : 'Diffusion Distiller';
  }

  private readonly disposables: vscode.Disposable[] = [];
  private feed?: RunEventFeed;
  private ready = false;
  private outbox: RunEvent[] = [];
  private flushTimer?: NodeJS.Timeout;
  private statusTimer?: NodeJS.Timeout;
  private lastRunJson = '';
  private commandRunning = false;
  private awaitingLaunchSince = 0;
  private disposed = false;
  /** What the webview was last told about the report (files' sizes and times, evaluating or not). */
  private lastReportKey: string | undefined;
  /** The feed's events as far as the header's summary needs them (newest loss per unit), and how many were added. */
  private readonly summaryLog = new CompactLog();
  private summarized = 0;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private runDir: string | undefined,
    private readonly services: PanelServices,
  ) {
    DashboardPanel.panels.set(runKey(runDir), this);
    this.startFeed();
    panel.webview.html = panelHtml(panel.webview, extensionUri, 'dashboard', panel.title);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'distill.svg');
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidChangeViewState(() => {
        // A hidden webview is torn down (no retained context): it asks for a fresh init when shown again.
        if (!panel.visible) this.ready = false;
        else this.sendStatus(false);
      }),
      services.onRunEvent((dir, e) => this.onRunEvent(dir, e)),
      services.onToolsChanged(() => this.sendReport(false)),
    );
    this.statusTimer = setInterval(() => {
      if (this.panel.visible) this.sendStatus(false);
    }, STATUS_MS);
  }

  private startFeed(): void {
    this.feed?.dispose();
    this.feed = undefined;
    this.summaryLog.reset();
    this.summarized = 0;
    if (!this.runDir) return;
    this.feed = new RunEventFeed(
      this.runDir,
      (events, reset) => {
        if (reset) {
          this.summaryLog.reset();
          this.summarized = 0;
          this.outbox = [];
          void this.sendInit();
          return;
        }
        if (!this.ready) return; // the next init carries the whole history
        for (const e of events) this.outbox.push(e);
        this.scheduleFlush();
      },
      {
        onSkipped: (n) =>
          this.services.log.warn(`dashboard: skipped ${n} malformed line(s) in ${this.runDir}/events.jsonl`),
        onTick: () => this.sendReport(false),
      },
    );
  }

  private onRunEvent(dir: string, e: RunEvent): void {
    if (this.runDir && runKey(dir) === runKey(this.runDir)) {
      this.feed?.push(e);
      return;
    }
    // A run this dashboard launched has started: a run-less dashboard adopts it, otherwise it gets its own.
    if (e.type !== 'run_start' || !this.awaitingLaunchSince || Date.now() - this.awaitingLaunchSince > ADOPT_MS) return;
    if (DashboardPanel.panels.has(runKey(dir))) {
      this.awaitingLaunchSince = 0;
      return;
    }
    this.awaitingLaunchSince = 0;
    if (!this.runDir) this.adopt(dir);
    else DashboardPanel.createOrShow(this.extensionUri, dir, this.services);
  }

  private adopt(runDir: string): void {
    DashboardPanel.panels.delete(runKey(this.runDir));
    this.runDir = runDir;
    DashboardPanel.panels.set(runKey(runDir), this);
    this.panel.webview.options = webviewOptions(this.extensionUri, runDir);
    this.panel.title = DashboardPanel.titleFor(runDir);
    this.outbox = [];
    this.startFeed();
    void this.sendInit();
  }

  private post(m: HostToWebview): void {
    if (this.disposed) return;
    postValidated(this.panel.webview, m, (s) => this.services.log.warn(s), 'dashboard');
  }

  private onMessage(raw: unknown): void {
    const m = receiveValidated(raw, (s) => this.services.log.warn(s), 'dashboard');
    if (!m) return;
    switch (m.type) {
      case 'ready':
        void this.sendInit();
        return;
      case 'launch':
      case 'resume':
      case 'stop':
        void this.command(m);
        return;
      case 'evaluate':
        void this.evaluate(m.runDir);
        return;
      case 'openReport':
        void this.openReport(m.runDir);
        return;
      default:
        this.services.log.warn(`dashboard: ignoring ${m.type} (a preview message)`);
    }
  }

  private async command(m: Extract<WebviewToHost, { type: 'launch' | 'resume' | 'stop' }>): Promise<void> {
    const sameRun = (dir: string): boolean => !!this.runDir && runKey(dir) === runKey(this.runDir);
    if (this.commandRunning && m.type !== 'stop') {
      this.services.log.warn(`dashboard: ${m.type} ignored, another command is still running`);
      this.sendStatus(true);
      return;
    }
    if ((m.type === 'resume' || m.type === 'stop') && !sameRun(m.runDir)) {
      this.services.log.warn(
        `dashboard: ${m.type} of ${m.runDir} ignored (this dashboard shows ${this.runDir ?? 'no run'})`,
      );
      this.sendStatus(true);
      return;
    }
    this.commandRunning = true;
    try {
      if (m.type === 'launch') {
        this.awaitingLaunchSince = Date.now();
        await this.services.launch(m.configPath);
      } else if (m.type === 'resume') {
        await this.services.resume(m.runDir);
      } else {
        await this.services.stop(m.runDir);
      }
    } catch (e) {
      if (m.type === 'launch') this.awaitingLaunchSince = 0;
      const what =
        m.type === 'launch' ? `Launch of ${m.configPath}` : `${m.type === 'resume' ? 'Resume' : 'Stop'} of ${m.runDir}`;
      this.services.log.warn(`${what} failed: ${errorText(e)}`);
      void vscode.window.showErrorMessage(`${what} failed: ${errorText(e)}`);
    } finally {
      this.commandRunning = false;
      this.feed?.poll();
      this.sendStatus(true);
      if (m.type === 'launch') await this.sendConfigs();
    }
  }

  private isThisRun(dir: string): boolean {
    return !!this.runDir && runKey(dir) === runKey(this.runDir);
  }

  /** Run evaluation / Re-evaluate: the Evaluate Run command for this run (progress and Cancel in its notification). */
  private async evaluate(dir: string): Promise<void> {
    if (!this.runDir || !this.isThisRun(dir)) {
      this.services.log.warn(`dashboard: evaluate of ${dir} ignored (this dashboard shows ${this.runDir ?? 'no run'})`);
      this.sendReport(true);
      return;
    }
    if (this.services.isEvaluating(this.runDir)) {
      this.sendReport(true);
      return;
    }
    try {
      await this.services.evaluate(this.runDir);
    } catch (e) {
      this.services.log.warn(`dashboard: evaluation of ${this.runDir} failed: ${errorText(e)}`);
    } finally {
      this.sendReport(true);
    }
  }

  private async openReport(dir: string): Promise<void> {
    if (!this.runDir || !this.isThisRun(dir)) return;
    const file = path.join(reportDir(this.runDir), REPORT_MD);
    if (!fs.existsSync(file)) {
      void vscode.window.showWarningMessage(`Distill: ${path.basename(this.runDir)} has no ${REPORT_MD} yet.`);
      return;
    }
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(file));
  }

  /**
   * Posts the run's report when report.json, a plot or the evaluating state changed since the webview was last told
   * (or always with `force`). The plots are addressed by webview URIs that change with the file, so a rewritten
   * plot is loaded again rather than taken from the cache.
   */
  private sendReport(force: boolean): void {
    if (this.disposed || !this.ready || !this.runDir) return;
    const runDir = this.runDir;
    const evaluating = this.services.isEvaluating(runDir);
    const key = `${evaluating}|${reportSignature(runDir)}`;
    if (!force && key === this.lastReportKey) return;
    this.lastReportKey = key;
    const webview = this.panel.webview;
    try {
      const report = readReport(
        runDir,
        (abs, mtimeMs) => `${webview.asWebviewUri(vscode.Uri.file(abs)).toString()}?v=${Math.round(mtimeMs)}`,
      );
      this.post({ type: 'report', runDir, evaluating, report });
    } catch (e) {
      this.services.log.warn(`dashboard: ${runDir}: ${errorText(e)}`);
      this.post({ type: 'report', runDir, evaluating, error: errorText(e) });
    }
  }

  private async configs(): Promise<ConfigEntry[]> {
    try {
      return await this.services.listConfigs();
    } catch (e) {
      this.services.log.warn(`dashboard: could not list configurations: ${errorText(e)}`);
      return [];
    }
  }

  private async sendConfigs(): Promise<void> {
    const configs = await this.configs();
    if (this.ready) this.post({ type: 'configs', configs });
  }

  private runView(): RunView | undefined {
    if (!this.runDir || !this.feed) return undefined;
    // Sent after every batch of events: summarise only what arrived since (a long run's log has 100k+ events).
    const all = this.feed.events;
    if (all.length < this.summarized) {
      this.summaryLog.reset();
      this.summarized = 0;
    }
    this.summaryLog.add(all.slice(this.summarized));
    this.summarized = all.length;
    return buildRunView(this.runDir, this.summaryLog.events(), this.services.isActive(this.runDir));
  }

  private async sendInit(): Promise<void> {
    const configs = await this.configs();
    if (this.disposed) return;
    this.feed?.poll();
    this.outbox = [];
    const run = this.runView();
    this.lastRunJson = JSON.stringify(run ?? null);
    this.ready = true;
    this.post({
      type: 'init',
      view: 'dashboard',
      run,
      events: this.feed ? this.feed.events.slice() : [],
      configs,
      sampleBase: this.runDir ? this.panel.webview.asWebviewUri(vscode.Uri.file(this.runDir)).toString() : '',
    });
    this.sendReport(true);
  }

  private scheduleFlush(): void {
    if (this.flushTimer || !this.ready) return;
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (!this.ready || !this.runDir || this.outbox.length === 0) return;
    const events = this.outbox;
    this.outbox = [];
    this.post({ type: 'events', runDir: this.runDir, events });
    this.sendStatus(false);
  }

  /** Posts the run view when it changed (or always with `force`: the webview waits for it after a command). */
  private sendStatus(force: boolean): void {
    if (!this.ready) return;
    const run = this.runView();
    if (!run) {
      if (force) void this.sendConfigs();
      return;
    }
    const json = JSON.stringify(run);
    if (!force && json === this.lastRunJson) return;
    this.lastRunJson = json;
    this.post({ type: 'run', run });
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (DashboardPanel.panels.get(runKey(this.runDir)) === this) DashboardPanel.panels.delete(runKey(this.runDir));
    this.feed?.dispose();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
