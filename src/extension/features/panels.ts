/**
 * The webview panels: the run dashboard, the checkpoint preview and the sweep comparison, their commands and their
 * serializers (open panels come back after a window reload). Sampling and editing go to the tools worker, which
 * Restricted Mode refuses (the panels show the message).
 */
import * as vscode from 'vscode';
import type { EditInput, EditSource, EditTabResult, EditTabSpec, SampleResult, SampleSpec } from '../../protocol';
import type { TreeNodeModel } from '../model/run-nodes';
import { ComparePanel } from '../panels/compare';
import type { CompareSource } from '../panels/compare-view';
import { DashboardPanel } from '../panels/dashboard';
import type { PanelServices } from '../panels/panel-services';
import { registerPanelSerializers } from '../panels/panel-serializers';
import { PreviewPanel } from '../panels/preview';
import { RestrictedModeError, Services } from '../services';
import { onDidChangeTools, toolRunning } from '../tool-runner';
import { listConfigs } from './configs';

const built = new WeakMap<Services, PanelServices>();

/** What the panels get from the extension (one object per activation). */
export function panelServices(s: Services): PanelServices {
  let p = built.get(s);
  if (p) return p;
  const { manager } = s;
  const trusted = (action: string) => {
    if (!s.trust.isTrusted()) throw new RestrictedModeError(action);
  };
  p = {
    worker: {
      sample: (
        spec: SampleSpec,
        onProgress?: (d: number, t: number) => void,
        signal?: AbortSignal,
      ): Promise<SampleResult> => {
        trusted('sample checkpoints');
        return manager.sample(spec, onProgress, signal);
      },
      editInput: (runDir: string, source: EditSource, signal?: AbortSignal): Promise<EditInput> => {
        trusted('run edits');
        return manager.call<EditInput>((id, o) => ({ type: 'editInput', id, runDir, source, ...o }), undefined, signal);
      },
      edit: (
        spec: EditTabSpec,
        onProgress?: (d: number, t: number) => void,
        signal?: AbortSignal,
      ): Promise<EditTabResult> => {
        trusted('run edits');
        return manager.call<EditTabResult>((id, o) => ({ type: 'edit', id, spec, ...o }), onProgress, signal);
      },
    },
    launch: (configPath) => s.runs.launch(configPath),
    resume: (runDir) => s.runs.resume(runDir),
    stop: (runDir) => s.runs.stop(runDir),
    isActive: (runDir) => manager.isActive(runDir),
    onRunEvent: (listener) => manager.onRunEvent(listener),
    listConfigs,
    evaluate: async (runDir: string) => {
      await vscode.commands.executeCommand('distill.evaluateRun', runDir);
    },
    isEvaluating: (runDir: string) => toolRunning('eval', runDir),
    onToolsChanged: (listener: () => void) => onDidChangeTools(listener),
    slurmJobs: () => s.tree.jobs,
    log: { info: (t) => s.log.info(t), warn: (t) => s.log.warn(t) },
  };
  built.set(s, p);
  return p;
}

/** Opens the comparison of a sweep's runs, or of any runs picked together. */
export function openCompare(s: Services, source: CompareSource): void {
  ComparePanel.createOrShow(s.extensionUri, source, panelServices(s));
}

export function register(context: vscode.ExtensionContext, s: Services): void {
  const services = panelServices(s);
  registerPanelSerializers(context, services);
  const { tree } = s;

  s.command('distill.openDashboard', async (arg?: unknown) => {
    DashboardPanel.createOrShow(
      context.extensionUri,
      s.runArg(arg) ?? s.status.run ?? tree.reload()[0]?.runDir,
      services,
    );
  });

  s.command('distill.previewCheckpoint', async (arg?: unknown, checkpointArg?: unknown) => {
    let runDir = s.runArg(arg);
    let checkpoint = typeof checkpointArg === 'string' ? checkpointArg : (arg as TreeNodeModel | undefined)?.checkpoint;
    if (!runDir)
      runDir = await s.pickRun(
        (r) => r.children.some((u) => u.children.length > 0),
        'Run to preview',
        'no run has a checkpoint yet.',
      );
    if (!runDir) return;
    if (!checkpoint && typeof arg !== 'object') {
      const node = tree.runs.find((r) => r.runDir === runDir);
      const ckpts = (node?.children ?? []).flatMap((u) =>
        u.children.map((c) => ({
          label: `${u.label} · ${c.label}`,
          description: c.description,
          checkpoint: c.checkpoint,
        })),
      );
      if (ckpts.length > 1) {
        const pick = await vscode.window.showQuickPick(ckpts, { placeHolder: 'Checkpoint to sample from' });
        if (!pick) return;
        checkpoint = pick.checkpoint;
      }
    }
    PreviewPanel.createOrShow(context.extensionUri, runDir, checkpoint, services);
  });
}
