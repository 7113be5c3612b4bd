/**
 * What the webviews are told about a run, derived from its folder and event log: the RunView of the dashboard
 * header and progress bars, and the defaults of the checkpoint preview. fs only (no `vscode`, no tfjs).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { RunEvent, StageName } from '../../engine/run/events';
import { summarizeEvents } from '../../engine/run/events';
import { FILES, listCheckpoints, lockIsLive, readLock, readMeta } from '../../engine/run/run-folder';
import type { RunView, SampleSpec, StageChoice, StudentChoice } from '../../protocol';
import { plannedStudents } from '../model/run-nodes';

export function runName(runDir: string): string {
  try {
    return readMeta(runDir).name;
  } catch {
    return path.basename(runDir);
  }
}

export function buildRunView(runDir: string, events: RunEvent[], active: boolean): RunView {
  const live = active || lockIsLive(readLock(runDir));
  const s = summarizeEvents(events, live);
  const status = active && s.status !== 'running' && s.status !== 'new' ? s.status : active ? 'running' : s.status;
  const view: RunView = {
    runDir,
    name: runName(runDir),
    status,
    active,
    units: s.units.map((u) => ({ unit: u.unit, stage: u.stage, totalSteps: u.totalSteps, step: u.step, done: u.done })),
  };
  if (s.backend) view.backend = s.backend;
  if (s.device) view.device = s.device;
  const warning = lastBackendWarning(events);
  if (warning) view.backendWarning = warning;
  if (status === 'running' && s.rate !== undefined && s.rate > 0) {
    view.rate = s.rate;
    const remaining = s.units.filter((u) => !u.done).reduce((n, u) => n + Math.max(0, u.totalSteps - u.step), 0);
    view.etaSeconds = remaining / s.rate;
  }
  return view;
}

/** The warning of the run's latest backend event (a resume may pick another backend), if it has one. */
function lastBackendWarning(events: RunEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === 'backend') return typeof e.warning === 'string' && e.warning ? e.warning : undefined;
  }
  return undefined;
}

function stageOfUnit(unit: string): StageChoice {
  if (unit.startsWith('progressive')) return 'progressive';
  if (unit.startsWith('consistency')) return 'consistency';
  if (unit.startsWith('guided')) return 'guided';
  return 'teacher';
}

function readConfig(runDir: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(runDir, FILES.config), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function numbers(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? (v as number[])
    : undefined;
}

export interface PreviewDefaults {
  stage: StageChoice;
  /** Number of classes (class ids are 0..classes-1). */
  classes: number;
  wDefaults: number[];
  /** The student checkpoint (relative to the run) the preview samples, if any. */
  studentCheckpoint?: string;
  /** The teacher checkpoint, when the chosen checkpoint is a teacher one. */
  teacherCheckpoint?: string;
  /** Every few-step student of the run, each method's, fewest steps first. */
  students: StudentChoice[];
  /** The student unit picked first: the chosen checkpoint's, else the newest trained student's. */
  student?: string;
}

/**
 * Every few-step student of a run (from its config.json through the engine's students(), and any other student unit
 * its log started), fewest steps first and progressive before consistency at the same count, each saying whether it
 * has a checkpoint.
 */
export function runStudents(runDir: string, events: RunEvent[] = []): StudentChoice[] {
  const out: StudentChoice[] = plannedStudents(readConfig(runDir)).map((s) => ({ ...s, trained: false }));
  for (const e of events) {
    if (e.type !== 'stage_start' || (e.stage !== 'progressive' && e.stage !== 'consistency')) continue;
    if (out.some((s) => s.unit === e.unit)) continue;
    const m = /-(\d+)$/.exec(e.unit);
    if (m) out.push({ unit: e.unit, method: e.stage, steps: Number(m[1]), trained: false });
  }
  for (const s of out) s.trained = listCheckpoints(runDir, s.unit).length > 0;
  const rank = (m: string) => (m === 'progressive' ? 0 : 1);
  return out.sort((a, b) => a.steps - b.steps || rank(a.method) - rank(b.method)).slice(0, 64);
}

/** Unit of a checkpoint path `checkpoints/<unit>/step-….ckpt` (either separator). */
export function unitOfCheckpoint(checkpoint: string): string | undefined {
  const parts = checkpoint.split(/[\\/]+/).filter(Boolean);
  const i = parts.indexOf(FILES.checkpoints);
  return i >= 0 && i + 1 < parts.length ? parts[i + 1] : parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

export function previewDefaults(runDir: string, events: RunEvent[], checkpoint: string | undefined): PreviewDefaults {
  const cfg = readConfig(runDir);
  const guidance = (cfg.guidance ?? {}) as Record<string, unknown>;
  const sampling = (cfg.sampling ?? {}) as Record<string, unknown>;
  const data = (cfg.data ?? {}) as Record<string, unknown>;
  const grids = events.filter((e): e is Extract<RunEvent, { type: 'samples' }> => e.type === 'samples');
  const lastGrid = grids[grids.length - 1];
  const wDefaults = (numbers(guidance.sampleW) ?? lastGrid?.w ?? [0, 1, 2, 4]).slice(0, 16);

  let classes = 0;
  if (Array.isArray(data.classNames)) classes = data.classNames.length;
  if (typeof data.classes === 'number') classes = Math.max(classes, data.classes);
  for (const c of numbers(sampling.classes) ?? []) classes = Math.max(classes, c + 1);
  for (const g of grids) for (const c of g.classes) classes = Math.max(classes, c + 1);
  if (classes <= 0) classes = 10;

  const unitStage = new Map<string, StageName>();
  for (const e of events) if (e.type === 'stage_start' && e.stage !== 'autoencoder') unitStage.set(e.unit, e.stage);
  const stageOf = (unit: string): StageChoice => unitStage.get(unit) ?? stageOfUnit(unit);

  const students = runStudents(runDir, events);
  const chosenUnit = checkpoint ? unitOfCheckpoint(checkpoint) : undefined;
  const studentOf = (unit: string) => (students.some((s) => s.unit === unit) ? unit : undefined);
  if (checkpoint && chosenUnit && stageOf(chosenUnit) !== 'teacher') {
    return {
      stage: stageOf(chosenUnit),
      classes,
      wDefaults,
      studentCheckpoint: checkpoint,
      students,
      student: studentOf(chosenUnit),
    };
  }
  // Otherwise the newest student checkpoint on disk (later units are further distilled).
  const units = [...new Set(events.filter((e) => e.type === 'stage_start').map((e) => (e as { unit: string }).unit))];
  for (let i = units.length - 1; i >= 0; i--) {
    if (stageOf(units[i]) === 'teacher') continue;
    const ck = listCheckpoints(runDir, units[i]);
    if (ck.length) {
      return {
        stage: stageOf(units[i]),
        classes,
        wDefaults,
        studentCheckpoint: ck[ck.length - 1].file,
        teacherCheckpoint: checkpoint,
        students,
        student: studentOf(units[i]),
      };
    }
  }
  return { stage: checkpoint ? 'teacher' : 'guided', classes, wDefaults, teacherCheckpoint: checkpoint, students };
}

/**
 * The student half of a preview request: the picked student unit (`student`) — the preview's own checkpoint when it is
 * of that unit, else the unit's newest — sampled at `studentSteps` as its method's stage; without a pick, the
 * defaults' student. Undefined when that student has no checkpoint yet (or is not one of the run's).
 */
export function previewStudentSpec(
  runDir: string,
  d: PreviewDefaults,
  m: { studentSteps: number; student?: string },
  base: Omit<SampleSpec, 'stage' | 'steps' | 'checkpoint'>,
): SampleSpec | undefined {
  if (m.student === undefined)
    return d.studentCheckpoint
      ? { ...base, stage: d.stage, steps: m.studentSteps, checkpoint: d.studentCheckpoint }
      : undefined;
  const s = d.students.find((x) => x.unit === m.student);
  if (!s) return undefined;
  const own = d.studentCheckpoint && unitOfCheckpoint(d.studentCheckpoint) === s.unit ? d.studentCheckpoint : undefined;
  const list = own ? [] : listCheckpoints(runDir, s.unit);
  const checkpoint = own ?? list[list.length - 1]?.file;
  return checkpoint ? { ...base, stage: s.method, steps: m.studentSteps, checkpoint } : undefined;
}
