/** Export Student and Evaluate Run: the CLI's export / eval tools, run in the tools worker of this window. */
import * as vscode from 'vscode';
import { lockIsLive, readLock } from '../../engine/run/run-folder';
import type { Services } from '../services';
import { runTool, ToolKind } from '../tool-runner';

export function register(_context: vscode.ExtensionContext, s: Services): void {
  const tool = (kind: ToolKind) => async (arg?: unknown) => {
    const verb = kind === 'export' ? 'export' : 'evaluate';
    if (!s.trust.allow(`${verb} runs (a worker process)`)) return;
    const runDir = s.runArg(arg) ?? (await s.pickRun((r) => r.children.some((u) => u.children.length > 0), `Run to ${verb}`, 'no run has a checkpoint yet.'));
    if (!runDir) return;
    if (lockIsLive(readLock(runDir)) && kind === 'export') s.log.warn(`${runDir} is still training: exporting its newest checkpoint`);
    await runTool(kind, runDir, s.manager, s.log);
  };
  s.command('distill.exportStudent', tool('export'));
  s.command('distill.evaluateRun', tool('eval'));
}
