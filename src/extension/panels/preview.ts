/**
 * The checkpoint preview panel (one per run folder, create-or-reveal): samples the teacher and the student for
 * the same seeds through the worker, with progress, cancel, and saving a grid as PNG; its Edit tab edits (or
 * inpaints) one image with both (edittab.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { readEvents } from '../../engine/run/run-folder';
import { HostToWebview, SampleResult, SampleSpec, WebviewToHost } from '../../protocol';
import { EditJob, editInfoOf, runEdit } from './edit-tab';
import { errorText, panelHtml, postValidated, receiveValidated, runKey, webviewOptions } from './panel-webview';
import { previewDefaults, PreviewDefaults, previewStudentSpec, runName } from './run-view';
import type { PanelServices } from './panel-services';

export const PREVIEW_VIEW_TYPE = 'diffusionDistiller.preview';
/** Progress messages are posted at most this often. */
const PROGRESS_MS = 50;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** SampleSpec.checkpoint is relative to the run folder; callers may hand an absolute path. */
function relativeCheckpoint(runDir: string, checkpoint: string | undefined): string | undefined {
  if (!checkpoint) return undefined;
  return path.isAbsolute(checkpoint) ? path.relative(runDir, checkpoint) : checkpoint;
}

export class PreviewPanel {
  private static readonly panels = new Map<string, PreviewPanel>();

  static createOrShow(
    extensionUri: vscode.Uri,
    runDir: string,
    checkpoint: string | undefined,
    services: PanelServices,
  ): void {
    checkpoint = relativeCheckpoint(runDir, checkpoint);
    const existing = PreviewPanel.panels.get(runKey(runDir));
    if (existing) {
      existing.panel.reveal(undefined, false);
      if (checkpoint !== undefined && checkpoint !== existing.checkpoint) {
        existing.checkpoint = checkpoint;
        existing.cancel();
        void existing.sendInit();
      }
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PREVIEW_VIEW_TYPE,
      PreviewPanel.titleFor(runDir),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      webviewOptions(extensionUri, runDir),
    );
    new PreviewPanel(panel, extensionUri, runDir, checkpoint, services);
  }

  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    runDir: string,
    checkpoint: string | undefined,
    services: PanelServices,
  ): void {
    const existing = PreviewPanel.panels.get(runKey(runDir));
    if (existing) {
      panel.dispose();
      existing.panel.reveal(undefined, true);
      return;
    }
    panel.webview.options = webviewOptions(extensionUri, runDir);
    panel.title = PreviewPanel.titleFor(runDir);
    new PreviewPanel(panel, extensionUri, runDir, relativeCheckpoint(runDir, checkpoint), services);
  }

  private static titleFor(runDir: string): string {
    return `Preview: ${runName(runDir)}`;
  }

  private readonly disposables: vscode.Disposable[] = [];
  private job?: { id: number; abort: AbortController };
  private editJob?: EditJob;
  /** The Edit tab's last input, re-sent to a reloaded webview. */
  private editInput?: Extract<HostToWebview, { type: 'editInput' }>;
  private defaults?: PreviewDefaults;
  private disposed = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly runDir: string,
    private checkpoint: string | undefined,
    private readonly services: PanelServices,
  ) {
    PreviewPanel.panels.set(runKey(runDir), this);
    panel.webview.html = panelHtml(panel.webview, extensionUri, 'preview', panel.title);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'distill.svg');
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
    );
  }

  private post(m: HostToWebview): void {
    if (this.disposed) return;
    postValidated(this.panel.webview, m, (s) => this.services.log.warn(s), 'preview');
  }

  private onMessage(raw: unknown): void {
    const m = receiveValidated(raw, (s) => this.services.log.warn(s), 'preview');
    if (!m) return;
    switch (m.type) {
      case 'ready':
        // A (re)loaded webview has no request in flight.
        this.cancel();
        this.cancelEdit();
        void this.sendInit();
        return;
      case 'preview':
        void this.render(m);
        return;
      case 'cancelPreview':
        if (this.job && this.job.id === m.requestId) this.cancel();
        return;
      case 'savePng':
        void this.savePng(m.which, m.pngBase64);
        return;
      case 'editPickFile':
        void this.pickEditFile();
        return;
      case 'editPickExample':
        void this.loadEditInput({ example: m.index });
        return;
      case 'edit': {
        this.cancelEdit();
        const job: EditJob = { requestId: m.requestId, abort: new AbortController() };
        this.editJob = job;
        void runEdit(
          this.runDir,
          m,
          job,
          this.services.worker,
          (msg) => this.post(msg),
          () => this.editJob === job && !this.disposed,
        ).finally(() => {
          if (this.editJob === job) this.editJob = undefined;
        });
        return;
      }
      case 'cancelEdit':
        if (this.editJob && this.editJob.requestId === m.requestId) this.cancelEdit();
        return;
      default:
        this.services.log.warn(`preview: ignoring ${m.type} (a dashboard message)`);
    }
  }

  private async sendInit(): Promise<void> {
    const { events } = readEvents(this.runDir);
    this.defaults = previewDefaults(this.runDir, events, this.checkpoint);
    this.post({
      type: 'init',
      view: 'preview',
      runDir: this.runDir,
      checkpoint: this.checkpoint,
      stage: this.defaults.stage,
      classes: this.defaults.classes,
      wDefaults: this.defaults.wDefaults,
      students: this.defaults.students,
      student: this.defaults.student,
    });
    const info = editInfoOf(this.runDir);
    if (info) this.post(info);
    if (info && this.editInput) this.post(this.editInput);
  }

  private cancelEdit(): void {
    this.editJob?.abort.abort();
    this.editJob = undefined;
  }

  /** The Edit tab's "Choose image…": an image of the workspace (or anywhere), read by the worker at the model's size. */
  private async pickEditFile(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      canSelectFiles: true,
      canSelectFolders: false,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      filters: { Images: ['png', 'jpg', 'jpeg'] },
      openLabel: 'Edit this image',
      title: 'Image to edit',
    });
    const uri = picked?.[0];
    if (!uri) return;
    if (uri.scheme !== 'file') {
      this.post({
        type: 'editError',
        requestId: 0,
        message: `Cannot read ${uri.toString()}: only files on this machine can be edited.`,
      });
      return;
    }
    await this.loadEditInput({ file: uri.fsPath });
  }

  private async loadEditInput(source: { file: string } | { example: number }): Promise<void> {
    try {
      const input = await this.services.worker.editInput(this.runDir, source);
      this.editInput = { type: 'editInput', input };
      this.post(this.editInput);
    } catch (e) {
      this.post({ type: 'editError', requestId: 0, message: `Cannot use that image: ${errorText(e)}` });
    }
  }

  private cancel(): void {
    this.job?.abort.abort();
    this.job = undefined;
  }

  private async render(m: Extract<WebviewToHost, { type: 'preview' }>): Promise<void> {
    this.cancel();
    const abort = new AbortController();
    const job = { id: m.requestId, abort };
    this.job = job;
    // Re-read the run: new checkpoints may have appeared since the panel opened.
    const d = previewDefaults(this.runDir, readEvents(this.runDir).events, this.checkpoint);
    this.defaults = d;
    const base = { runDir: this.runDir, sampler: m.sampler, w: m.w, classes: m.classes, perClass: 1, seed: m.seed };
    const teacherSpec: SampleSpec = {
      ...base,
      stage: 'teacher',
      steps: m.teacherSteps,
      checkpoint: d.teacherCheckpoint,
    };
    const studentSpec = previewStudentSpec(this.runDir, d, m, base);
    let lastPost = 0;
    const progress =
      (phase: 'teacher' | 'student') =>
      (done: number, total: number): void => {
        const now = Date.now();
        if (this.job !== job || (now - lastPost < PROGRESS_MS && done < total)) return;
        lastPost = now;
        this.post({ type: 'previewBusy', requestId: m.requestId, done, total, phase });
      };
    try {
      const teacher: SampleResult = await this.services.worker.sample(teacherSpec, progress('teacher'), abort.signal);
      if (this.job !== job) return;
      const student = studentSpec
        ? await this.services.worker.sample(studentSpec, progress('student'), abort.signal)
        : undefined;
      if (this.job !== job) return;
      this.job = undefined;
      this.post({ type: 'previewResult', requestId: m.requestId, teacher, student });
    } catch (e) {
      const cancelled = abort.signal.aborted;
      if (this.job === job) this.job = undefined;
      if (!cancelled) this.services.log.warn(`preview of ${this.runDir} failed: ${errorText(e)}`);
      this.post({
        type: 'previewError',
        requestId: m.requestId,
        message: cancelled ? 'Cancelled.' : `Sampling failed: ${errorText(e)}`,
      });
    }
  }

  private async savePng(which: 'teacher' | 'student', pngBase64: string): Promise<void> {
    const bytes = Buffer.from(pngBase64, 'base64');
    if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
      this.services.log.warn('preview: savePng carried data that is not a PNG; ignored');
      return;
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.runDir, `preview-${which}-${stamp}.png`)),
      filters: { 'PNG image': ['png'] },
      saveLabel: 'Save grid',
      title: `Save the ${which} grid`,
    });
    if (!target) return;
    try {
      if (target.scheme === 'file') fs.writeFileSync(target.fsPath, bytes);
      else await vscode.workspace.fs.writeFile(target, bytes);
      this.services.log.info(`preview: saved the ${which} grid to ${target.fsPath || target.toString()}`);
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not save ${target.fsPath}: ${errorText(e)}`);
    }
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancel();
    this.cancelEdit();
    if (PreviewPanel.panels.get(runKey(this.runDir)) === this) PreviewPanel.panels.delete(runKey(this.runDir));
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
