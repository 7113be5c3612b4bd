/**
 * Texts shown by the status bar, the run explorer and notifications, computed from a run summary. No vscode.
 */
import type { RunSummary, UnitSummary } from '../../engine/run/events';

/**
 * "teacher", "guided", "progressive 64→32", "consistency · 2 steps" for the units named teacher | guided |
 * progressive-64-32 | consistency-2.
 */
export function unitLabel(unit: string): string {
  const m = /^progressive-(\d+)-(\d+)$/.exec(unit);
  if (m) return `progressive ${m[1]}→${m[2]}`;
  const c = /^consistency-(\d+)$/.exec(unit);
  return c ? `consistency · ${c[1]} step${c[1] === '1' ? '' : 's'}` : unit;
}

/** Compact duration: 45s, 2m, 1h 05m, 3d 4h. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 24) return `${h}h ${String(Math.round((s - h * 3600) / 60)).padStart(2, '0')}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h - d * 24}h`;
}

/** Seconds left in the current unit at the last logged rate (optimiser steps per second); undefined if unknown. */
export function etaSeconds(summary: Pick<RunSummary, 'step' | 'totalSteps' | 'rate'>): number | undefined {
  const { step, totalSteps, rate } = summary;
  if (step === undefined || totalSteps === undefined || !rate || !(rate > 0)) return undefined;
  return Math.max(0, totalSteps - step) / rate;
}

/** "guided 340/1000" for the current unit, or undefined before the first stage starts. */
export function progressText(summary: RunSummary): string | undefined {
  if (!summary.currentUnit || summary.step === undefined || summary.totalSteps === undefined) return undefined;
  return `${unitLabel(summary.currentUnit)} ${summary.step}/${summary.totalSteps}`;
}

/**
 * The status bar text of an active run: "$(sync~spin) Distill: guided 340/1000 · ETA 2m · GPU" — where it computes
 * (GPU, emulated GPU or CPU) once its backend is known.
 */
export function statusBarText(summary: RunSummary, othersActive = 0): string {
  const progress = progressText(summary) ?? 'starting…';
  const eta = summary.status === 'running' ? etaSeconds(summary) : undefined;
  const more = othersActive > 0 ? ` (+${othersActive})` : '';
  const device = summary.device ? ` · ${summary.device === 'emulated GPU' ? '$(warning) ' : ''}${summary.device}` : '';
  return `$(sync~spin) Distill: ${progress}${eta !== undefined ? ` · ETA ${formatDuration(eta)}` : ''}${device}${more}`;
}

/** The status bar tooltip: the run, who drives it, its backend label (adapter for webgpu) and what a click does. */
export function statusBarTooltip(name: string, summary: RunSummary, otherProcess: boolean): string {
  const lines = [`${name}${otherProcess ? ' (another process)' : ''}`];
  if (summary.backend) lines.push(`Backend: ${summary.backend}`);
  if (summary.device === 'emulated GPU')
    lines.push('The GPU is emulated on the CPU (a software WebGPU adapter): slower than wasm.');
  lines.push('Click to open the dashboard.');
  return lines.join('\n');
}

/** The run explorer's description of a run: "guided · 340/1000", or the status when nothing is running. */
export function runDescription(summary: RunSummary): string {
  const stage = summary.currentUnit ? unitLabel(summary.currentUnit) : undefined;
  const steps =
    summary.step !== undefined && summary.totalSteps !== undefined
      ? `${summary.step}/${summary.totalSteps}`
      : undefined;
  const where = stage && steps ? `${stage} · ${steps}` : stage;
  if (summary.status === 'running') return where ?? 'starting';
  if (summary.status === 'new') return 'new';
  return where ? `${summary.status} · ${where}` : summary.status;
}

export function unitDescription(
  u: Pick<UnitSummary, 'step' | 'totalSteps' | 'done' | 'lastLoss'> | undefined,
  planned?: number,
): string {
  if (!u) return planned !== undefined ? `pending · ${planned} steps` : 'pending';
  const loss = u.lastLoss !== undefined ? ` · loss ${u.lastLoss.toPrecision(3)}` : '';
  return u.done ? `done · ${u.totalSteps} steps${loss}` : `${u.step}/${u.totalSteps}${loss}`;
}

/** The last `n` non-empty lines of a text (crash reports). */
export function lastLines(text: string, n: number): string[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-n);
}
