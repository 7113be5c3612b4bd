/**
 * The run explorer's model: run folders → runs → training units → checkpoints on disk.
 * Plain data (labels, descriptions, codicon ids, context values, click commands) so it is testable without VS Code;
 * the vscode TreeDataProvider only maps these nodes onto TreeItems.
 */
import * as fs from 'fs';
import * as path from 'path';
import { configSchema, type ResolvedConfig, type StudentSpec, students, units } from '../../engine/run/config';
import type { DistillMethod, RunStatus, UnitStage, UnitSummary } from '../../engine/run/events';
import { FILES, RunListing } from '../../engine/run/run-folder';
import { formatDuration, runDescription, unitDescription, unitLabel } from './format';

export type NodeKind = 'run' | 'unit' | 'checkpoint' | 'sweep';

export interface TreeNodeModel {
  kind: NodeKind;
  /** Stable id (for selection / reveal). */
  id: string;
  label: string;
  description?: string;
  tooltip: string;
  /** A codicon id, e.g. "sync~spin". */
  icon: string;
  /** ThemeColor id for the icon, if any. */
  iconColor?: string;
  /** For `when` clauses on view/item/context: run.<status> | unit | checkpoint. */
  contextValue: string;
  runDir: string;
  /** Checkpoint path relative to runDir (checkpoint nodes). */
  checkpoint?: string;
  unit?: string;
  status?: RunStatus;
  /** The run's Slurm job (model/sweeps.ts): state and node as squeue/sacct/scontrol last said. */
  slurm?: { jobId: string; state: string; node?: string; reason?: string; exitCode?: string; queued: boolean };
  /** Command run on click. */
  command?: { command: string; title: string; arguments: unknown[] };
  children: TreeNodeModel[];
}

export const STATUS_ICON: Record<RunStatus, { icon: string; color?: string }> = {
  running: { icon: 'sync~spin', color: 'charts.blue' },
  stopped: { icon: 'debug-pause', color: 'charts.yellow' },
  finished: { icon: 'pass-filled', color: 'testing.iconPassed' },
  failed: { icon: 'error', color: 'testing.iconFailed' },
  new: { icon: 'circle-large-outline' },
};

interface PlannedUnit {
  unit: string;
  stage: UnitStage;
  steps: number;
}

type Section = Record<string, unknown> | undefined;
const SCHEMA_PROPS = (
  configSchema as unknown as { properties: Record<string, { properties?: Record<string, { default?: unknown }> }> }
).properties;
/** A field of a config section, or the schema's default for it when the section does not say (partial configs). */
function field<T>(c: Record<string, Section>, section: string, key: string, ok: (v: unknown) => v is T): T {
  const v = c[section]?.[key];
  return ok(v) ? v : (SCHEMA_PROPS[section]?.properties?.[key]?.default as T);
}
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const isStepList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.length <= 32 && v.every(isPosInt);
const METHODS_DEFAULT = (configSchema.properties.methods as { default: DistillMethod[] }).default;
const isMethods = (v: unknown): v is DistillMethod[] =>
  Array.isArray(v) && v.every((m) => m === 'progressive' || m === 'consistency');

/**
 * The units a resolved config (config.json of a run) will train, in order: (latent-space runs: autoencoder,) then the
 * engine's own list (run/config.ts units(): teacher, guided, each stage-2 method's students). A stage configured with
 * 0 steps is left out (an exact teacher, teacher.kind "exact", trains nothing: its unit is done at 0 steps).
 */
export function plannedUnits(config: unknown): PlannedUnit[] {
  const c = (config ?? {}) as Record<string, Section>;
  const steps = (s: Section): number | undefined =>
    typeof s?.steps === 'number' && Number.isFinite(s.steps) ? s.steps : undefined;
  const out: PlannedUnit[] = [];
  if (c.model?.space === 'latent')
    out.push({ unit: 'autoencoder', stage: 'autoencoder', steps: steps(c.autoencoder) ?? 0 });
  for (const u of units(planOf(c)).slice(0, 64)) {
    const s = u.stage === 'teacher' && c.teacher?.kind === 'exact' ? 0 : steps(c[u.stage]);
    if (s === 0 && !(u.stage === 'teacher' && c.teacher?.kind === 'exact')) continue;
    out.push({ unit: u.unit, stage: u.stage, steps: s ?? 0 });
  }
  return out;
}

/** Every few-step student a run's config.json trains (the engine's students()), those of 0-step stages left out. */
export function plannedStudents(config: unknown): StudentSpec[] {
  const planned = new Set(plannedUnits(config).map((u) => u.unit));
  return students(planOf((config ?? {}) as Record<string, Section>)).filter((s) => planned.has(s.unit));
}

/** What units() and students() read of a config.json, each field checked (or its schema default). */
function planOf(c: Record<string, Section>): ResolvedConfig {
  const plan = {
    methods: isMethods(c.methods) && c.methods.length ? c.methods : METHODS_DEFAULT,
    progressive: {
      n0: field(c, 'progressive', 'n0', isPosInt),
      targetSteps: field(c, 'progressive', 'targetSteps', isPosInt),
    },
    consistency: { studentSteps: field(c, 'consistency', 'studentSteps', isStepList) },
  } as unknown as ResolvedConfig;
  // a malformed config.json must not make the Runs view loop: halvings need n0 ≥ 2
  if (!(plan.progressive.n0 >= 2) || !(plan.progressive.targetSteps >= 1))
    plan.methods = plan.methods.filter((m) => m !== 'progressive');
  return plan;
}

function readConfig(runDir: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, FILES.config), 'utf8'));
  } catch {
    return undefined;
  }
}

function checkpointNodes(runDir: string, u: UnitSummary): TreeNodeModel[] {
  return [...u.checkpoints]
    .sort((a, b) => b.step - a.step)
    .map((c) => ({
      kind: 'checkpoint' as const,
      id: `${runDir}::${c.file}`,
      label: `step ${c.step}`,
      description: c.final ? 'final' : undefined,
      icon: c.final ? 'package' : 'save',
      contextValue: 'checkpoint',
      runDir,
      unit: u.unit,
      checkpoint: c.file,
      // the autoencoder (latent-space runs) draws no samples: its grids are reconstructions, in samples/autoencoder/
      ...(u.unit === 'autoencoder'
        ? {
            tooltip: `${path.join(runDir, c.file)}\nThe autoencoder of this latent-space run; its reconstructions are in samples/autoencoder/.`,
          }
        : {
            tooltip: `${path.join(runDir, c.file)}\nClick to preview samples from this checkpoint.`,
            command: { command: 'distill.previewCheckpoint', title: 'Preview Checkpoint', arguments: [runDir, c.file] },
          }),
      children: [],
    }));
}

/** One run folder's node, its units (trained, running and still planned) and their checkpoints. */
export function runNode(listing: RunListing, opts: { active?: boolean; crash?: string } = {}): TreeNodeModel {
  const { summary } = listing;
  const runDir = listing.dir;
  const byUnit = new Map(summary.units.map((u) => [u.unit, u]));
  const planned = plannedUnits(readConfig(runDir));
  const order = [
    ...planned.map((p) => p.unit),
    ...summary.units.map((u) => u.unit).filter((u) => !planned.some((p) => p.unit === u)),
  ];
  const units: TreeNodeModel[] = order.map((unit) => {
    const u = byUnit.get(unit);
    const plan = planned.find((p) => p.unit === unit);
    const current = summary.status === 'running' && summary.currentUnit === unit && !u?.done;
    const icon = !u ? 'circle-large-outline' : u.done ? 'check' : current ? 'sync~spin' : 'debug-pause';
    return {
      kind: 'unit' as const,
      id: `${runDir}::unit::${unit}`,
      label: unitLabel(unit),
      description: unitDescription(u, plan?.steps),
      tooltip: `${unitLabel(unit)}${u ? `\n${u.checkpoints.length} checkpoint(s) on disk` : '\nnot started'}`,
      icon,
      contextValue: 'unit',
      runDir,
      unit,
      children: u ? checkpointNodes(runDir, u) : [],
    };
  });
  const { icon, color } = STATUS_ICON[summary.status];
  const lines = [
    `${listing.name} — ${summary.status}${opts.active ? ' (driven by this window)' : listing.lock ? ` (process ${listing.lock.pid} on ${listing.lock.host})` : ''}`,
    runDir,
  ];
  if (summary.backend) lines.push(`backend: ${summary.backend}`);
  if (summary.rate) lines.push(`rate: ${summary.rate.toFixed(2)} steps/s`);
  if (summary.startedAt) {
    const end = summary.endedAt ?? Date.now();
    lines.push(
      `started ${new Date(summary.startedAt).toLocaleString()} · ${formatDuration((end - summary.startedAt) / 1000)}`,
    );
  }
  if (summary.lastError && summary.status === 'failed') lines.push(`error: ${summary.lastError}`);
  if (opts.crash && summary.status !== 'running') lines.push(opts.crash);
  return {
    kind: 'run',
    id: runDir,
    label: listing.name,
    description: runDescription(summary),
    tooltip: lines.join('\n'),
    icon,
    iconColor: color,
    contextValue: `run.${summary.status}`,
    runDir,
    status: summary.status,
    command: { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [runDir] },
    children: units,
  };
}
