/** Export Student and Evaluate Run: the CLI's export / eval tools, run in the tools worker of this window. */
import * as vscode from 'vscode';
import {
  estimateEvaluation,
  EvalPresetName,
  evaluationPreset,
  EvaluationCost,
} from '../../engine/tasks/evaluation-plan';
import { loadRunConfig, readDataInfoFile } from '../../engine/run/run-config';
import { lockIsLive, readEvents, readLock } from '../../engine/run/run-folder';
import type { Services } from '../services';
import { runTool, ToolKind } from '../tool-runner';

/** "about 3 min" from seconds; the estimate is rough, so whole minutes (or seconds under one). */
export function roughDuration(seconds: number): string {
  if (seconds < 60) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}

/** The picker's line for a preset: what it compares and, where the run measured its sampling speed, how long. */
export function describePreset(
  name: EvalPresetName,
  w: number[],
  samples: number,
  referenceSteps: number,
  cost: EvaluationCost | undefined,
): vscode.QuickPickItem {
  const what = `${samples} samples per row, w ${w.join(', ')}, ${referenceSteps}-step teacher reference`;
  const time = !cost
    ? 'time unknown'
    : cost.seconds === null
      ? 'time unknown: the run has not measured its sampling speed yet'
      : `${roughDuration(cost.seconds)} of sampling`;
  const judge = cost?.trainsJudge ? ', plus training the judge classifier once' : '';
  return {
    label: name === 'quick' ? 'Quick' : 'Full',
    description: what,
    detail: `${time}${judge} · ${cost ? `${(cost.nfe / 1e6).toFixed(1)} M network evaluations` : ''}`,
  };
}

/** Asks for the quick or the full evaluation, each with its estimated time; undefined when dismissed. */
async function pickPreset(runDir: string): Promise<EvalPresetName | undefined> {
  let items: (vscode.QuickPickItem & { preset: EvalPresetName })[];
  try {
    const cfg = loadRunConfig(runDir);
    const K = readDataInfoFile(runDir)?.numClasses;
    const events = readEvents(runDir).events;
    items = (['quick', 'full'] as const).map((preset) => {
      const choice = evaluationPreset(preset, cfg, K ?? 10);
      const cost = K === undefined ? undefined : estimateEvaluation(runDir, cfg, choice, events, K);
      return { preset, ...describePreset(preset, choice.w!, choice.samples!, Math.max(...choice.teacherSteps!), cost) };
    });
  } catch (e) {
    // the plan needs the teacher's checkpoint; the evaluation itself reports what is missing
    items = [
      {
        preset: 'quick',
        label: 'Quick',
        description: 'w 0 and 2, a 64-step teacher reference, few samples',
        detail: (e as Error).message,
      },
      { preset: 'full', label: 'Full', description: "the config's eval section" },
    ];
  }
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Distill: Evaluate Run',
    placeHolder: 'Which evaluation? (cancellable once started)',
  });
  return pick?.preset;
}

export function register(_context: vscode.ExtensionContext, s: Services): void {
  const tool = (kind: ToolKind) => async (arg?: unknown, preset?: unknown) => {
    const verb = kind === 'export' ? 'export' : 'evaluate';
    if (!s.trust.allow(`${verb} runs (a worker process)`)) return;
    const runDir =
      s.runArg(arg) ??
      (await s.pickRun(
        (r) => r.children.some((u) => u.children.length > 0),
        `Run to ${verb}`,
        'no run has a checkpoint yet.',
      ));
    if (!runDir) return;
    if (lockIsLive(readLock(runDir)) && kind === 'export')
      s.log.warn(`${runDir} is still training: exporting its newest checkpoint`);
    if (kind === 'export') return runTool(kind, runDir, s.manager, s.log);
    // a preset passed by a caller (a test, a keybinding) skips the picker
    const chosen = preset === 'quick' || preset === 'full' ? preset : await pickPreset(runDir);
    if (!chosen) return;
    await runTool(kind, runDir, s.manager, s.log, { preset: chosen });
  };
  s.command('distill.exportStudent', tool('export'));
  s.command('distill.evaluateRun', tool('eval'));
}
