/**
 * The serializers of the run dashboard, the checkpoint preview and the Compare view: open panels come back after a
 * window reload.
 * features/panels.ts registers them with the PanelServices it builds.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { COMPARE_VIEW_TYPE, ComparePanel } from './compare';
import { restorableSource } from './compare-view';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboard';
import { PREVIEW_VIEW_TYPE, PreviewPanel } from './preview';
import type { PanelServices } from './panel-services';

function stateOf(state: unknown): { runDir?: string; checkpoint?: string } {
  if (typeof state !== 'object' || state === null) return {};
  const s = state as Record<string, unknown>;
  return {
    runDir: typeof s.runDir === 'string' && s.runDir ? s.runDir : undefined,
    checkpoint: typeof s.checkpoint === 'string' && s.checkpoint ? s.checkpoint : undefined,
  };
}

/** Registers the serializers of the panels; called once per activation. */
export function registerPanelSerializers(context: vscode.ExtensionContext, services: PanelServices): void {
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        DashboardPanel.revive(panel, context.extensionUri, stateOf(state).runDir, services);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(PREVIEW_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const { runDir, checkpoint } = stateOf(state);
        if (!runDir || !fs.existsSync(runDir)) {
          services.log.warn(
            `preview: nothing to restore (${runDir ? `${runDir} no longer exists` : 'no run folder in the saved state'})`,
          );
          panel.dispose();
          return;
        }
        PreviewPanel.revive(panel, context.extensionUri, runDir, checkpoint, services);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(COMPARE_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const { source, why } = restorableSource(state);
        if (!source) {
          services.log.warn(`compare: nothing to restore (${why})`);
          panel.dispose();
          return;
        }
        ComparePanel.revive(panel, context.extensionUri, source, services);
      },
    }),
  );
}
