/**
 * Start Run, Resume Run, Stop Run: in a worker of this window (distill.launcher "local") or as a one-task Slurm job
 * (distill.launcher "slurm"). The same operations back the dashboard's buttons (Services.runs).
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { validateConfigFile } from '../../engine/run/config';
import { CONFIG_SUFFIX, isConfigPath } from '../configs';
import type { TreeNodeModel } from '../model/run-nodes';
import type { Services } from '../services';
import { listConfigs } from './configs';
import { launcherSetting, stopThroughSlurm, submitRunFromEditor } from './sweeps';

export function register(_context: vscode.ExtensionContext, s: Services): void {
  const { manager, tree, log } = s;

  const validateOrShow = async (configPath: string): Promise<boolean> => {
    const v = validateConfigFile(configPath);
    if (v.ok) return true;
    const errors = v.errors;
    log.error(`${configPath}: invalid configuration:\n  - ${errors.join('\n  - ')}`);
    const pick = await vscode.window.showErrorMessage(
      `Distill: ${path.basename(configPath)} is not a valid config: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? ` (+${errors.length - 3} more)` : ''}`,
      'Open Config',
      'Show Log',
    );
    if (pick === 'Open Config') await vscode.window.showTextDocument(vscode.Uri.file(configPath));
    if (pick === 'Show Log') log.show(true);
    return false;
  };

  const launch = async (configPath: string): Promise<void> => {
    if (!s.trust.allow(`train ${path.basename(configPath)}`)) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === configPath);
    if (doc?.isDirty) await doc.save();
    if (!(await validateOrShow(configPath))) return;
    const dir = s.requireRunsDir();
    if (launcherSetting() === 'slurm') {
      log.info(`submitting a run from ${configPath} in ${dir} to Slurm (distill.launcher)`);
      await submitRunFromEditor({ configPath, runsDir: dir }, s.task(), log);
      tree.refresh();
      return;
    }
    log.info(`starting a run from ${configPath} in ${dir}`);
    const { runDir } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Distill: creating a run from ${path.basename(configPath)}` },
      () => manager.start(configPath, dir),
    );
    log.info(`run ${runDir} started`);
    tree.refresh();
    s.status.update();
  };

  const resume = async (runDir: string): Promise<void> => {
    if (!s.trust.allow(`resume ${path.basename(runDir)}`)) return;
    s.crashes.delete(path.resolve(runDir));
    if (launcherSetting() === 'slurm') {
      log.info(`resuming ${runDir} on Slurm (distill.launcher)`);
      await submitRunFromEditor({ runDir }, s.task(), log);
      tree.refresh();
      return;
    }
    log.info(`resuming ${runDir}`);
    manager.resume(runDir);
    tree.refresh();
    s.status.update();
  };

  const stop = async (runDir: string, node?: TreeNodeModel): Promise<void> => {
    // A run with a Slurm job is stopped through Slurm (scancel), which starts a process: trusted folders only.
    if (!manager.isActive(runDir) && s.trust.isTrusted() && (await stopThroughSlurm(node, runDir, tree.jobs))) {
      tree.refreshSoon(100);
      return;
    }
    const how = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Distill: stopping ${path.basename(runDir)} (saving a checkpoint)…`,
      },
      () => manager.stop(runDir),
    );
    if (how === 'requested') {
      void vscode.window.showInformationMessage(
        `Distill: asked the process writing ${path.basename(runDir)} to save a checkpoint and stop.`,
      );
    }
    tree.refreshSoon(100);
  };
  s.runs = { launch, resume, stop };

  s.command('distill.startRun', async (arg?: unknown) => {
    let configPath = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
    if (!s.trust.allow(configPath ? `train ${path.basename(configPath)}` : 'start runs')) return;
    const active = vscode.window.activeTextEditor?.document;
    if (!configPath && active && isConfigPath(active.uri.fsPath)) configPath = active.uri.fsPath;
    if (!configPath) {
      const configs = await listConfigs();
      if (configs.length === 0) {
        const p = await vscode.window.showInformationMessage(
          `Distill: no *${CONFIG_SUFFIX} in the workspace.`,
          'New Config',
        );
        if (p) await vscode.commands.executeCommand('distill.newConfig');
        return;
      }
      const pick = await vscode.window.showQuickPick(
        configs.map((c) => ({
          label: c.label,
          description: c.error ? '$(error) invalid' : c.stages.join(' → '),
          detail: c.error,
          path: c.path,
        })),
        { placeHolder: 'Config to train (a *.distill.json)' },
      );
      if (!pick) return;
      configPath = pick.path;
    }
    await launch(configPath);
  });

  s.command('distill.resumeRun', async (arg?: unknown) => {
    if (!s.trust.allow('resume runs')) return;
    const runDir =
      s.runArg(arg) ??
      (await s.pickRun(
        (r) => r.status === 'stopped' || r.status === 'failed' || r.status === 'new',
        'Run to resume',
        'no stopped or failed run to resume.',
      ));
    if (runDir) await resume(runDir);
  });

  s.command('distill.stopRun', async (arg?: unknown) => {
    const runDir =
      s.runArg(arg) ??
      (await s.pickRun(
        (r) => r.status === 'running' || manager.isActive(r.runDir),
        'Run to stop',
        'no run is running.',
      ));
    if (runDir)
      await stop(runDir, arg && typeof arg === 'object' && 'kind' in arg ? (arg as TreeNodeModel) : undefined);
  });
}
