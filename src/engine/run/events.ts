/**
 * The run's append-only event log (`events.jsonl`): one JSON object per line.
 * Every writer (CLI, worker) appends these; every reader (sidebar, dashboard, `distill list`) replays them.
 * Pure types and validation: no tfjs, no fs, so the extension host and the webview can import it.
 */

/** A stage-2 method: progressive halving (the paper's stage 2) or guided multistep consistency distillation. */
export type DistillMethod = 'progressive' | 'consistency';
/**
 * What a training unit is: the teacher, stage 1, or one student of a stage-2 method (units "progressive-64-32",
 * "consistency-2").
 */
export type StageName = 'teacher' | 'guided' | DistillMethod;
/** What a unit trains: a diffusion stage, or (latent-space runs) the autoencoder that comes first. */
export type UnitStage = StageName | 'autoencoder';

export interface EventBase {
  /** Milliseconds since the Unix epoch. */
  t: number;
}

export interface RunStartEvent extends EventBase {
  type: 'run_start';
  pid: number;
  host: string;
  resumed: boolean;
  configHash: string;
}
export interface BackendEvent extends EventBase {
  type: 'backend';
  name: string;
  version: string;
  threads: number;
  simd: boolean;
  note?: string;
  /** webgpu: the adapter Dawn chose; `software` when it is emulated on the CPU (SwiftShader, llvmpipe, WARP). */
  adapter?: {
    vendor: string;
    architecture: string;
    description: string;
    software: boolean;
    maxBufferSize?: number;
    maxStorageBufferBindingSize?: number;
  };
  /** Something the user should know about this backend (e.g. an emulated GPU). */
  warning?: string;
}

/** "webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)", "wasm 4.22.0 (2 threads, SIMD)". */
export function backendLabel(e: Pick<BackendEvent, 'name' | 'version' | 'threads' | 'simd' | 'adapter'>): string {
  if (e.adapter) {
    const a = e.adapter;
    const name = a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'adapter';
    return `${e.name} ${e.version} · ${name} (${a.software ? 'software adapter, emulated on the CPU' : 'GPU'})`;
  }
  return `${e.name} ${e.version} (${e.threads} thread${e.threads === 1 ? '' : 's'}${e.simd ? ', SIMD' : ''})`;
}
export interface ModelEvent extends EventBase {
  type: 'model';
  kind: 'unet' | 'mlp';
  params: number;
  /** Multiply-adds ×2 of one forward pass for one example. */
  flopsPerExample: number;
}
export interface StageStartEvent extends EventBase {
  type: 'stage_start';
  stage: UnitStage;
  unit: string;
  /** Progressive phases: teacher steps N → student steps N/2. */
  fromSteps?: number;
  /** Progressive phases and consistency students: the student's sampling steps. */
  toSteps?: number;
  totalSteps: number;
  startStep: number;
}
export interface LossEvent extends EventBase {
  type: 'loss';
  unit: string;
  step: number;
  loss: number;
  lr: number;
  /** Optimiser steps per second over the last logging interval. */
  rate: number;
}
export interface SamplesEvent extends EventBase {
  type: 'samples';
  unit: string;
  step: number;
  /** Path relative to the run folder. */
  file: string;
  w: number[];
  classes: number[];
  /** Sampling steps and network evaluations per sample. */
  steps: number;
  nfe: number;
}
export interface CheckpointEvent extends EventBase {
  type: 'checkpoint';
  unit: string;
  step: number;
  /** Path relative to the run folder. */
  file: string;
  final: boolean;
}
export interface StageEndEvent extends EventBase {
  type: 'stage_end';
  unit: string;
  step: number;
  seconds: number;
}
export interface ErrorEvent extends EventBase {
  type: 'error';
  message: string;
  unit?: string;
}
export interface RunEndEvent extends EventBase {
  type: 'run_end';
  status: 'finished' | 'stopped' | 'failed';
}
export interface SummaryEvent extends EventBase {
  type: 'summary';
  rows: SummaryRow[];
  /** The real held-out data's own values of the same measures (absent in logs written before they were measured). */
  real?: SummaryReal;
}
export interface SummaryReal {
  /** The judge's accuracy on held-out data (images; null for toy data). */
  accuracy: number | null;
  recall: number;
  /** 1 by definition: the reference of the rows' diversity ratio. */
  diversity: number;
  /** Classifier-FID of one held-out half against the other (images; the floor the rows' FID can reach at this size). */
  fid?: number | null;
  /** Held-out rows per class behind `recall` (as many as the rows have samples per class). */
  perClass: number;
}
export interface SummaryRow {
  model: string;
  steps: number;
  nfe: number;
  msPerSample: number;
  w: number;
  /** Quality metric name and value (e.g. classifier accuracy, sliced Wasserstein distance). */
  metric: string;
  value: number;
  /** Diversity beside it: recall against held-out data, and within-class diversity ÷ real data's (absent in old logs). */
  recall?: number;
  diversity?: number;
  /** Classifier-FID in the judge's features against the held-out split (images; absent for toy data and old logs). */
  fid?: number;
}

export type RunEvent =
  | RunStartEvent
  | BackendEvent
  | ModelEvent
  | StageStartEvent
  | LossEvent
  | SamplesEvent
  | CheckpointEvent
  | StageEndEvent
  | ErrorEvent
  | RunEndEvent
  | SummaryEvent;

export type RunEventType = RunEvent['type'];

type FieldKind = 'number' | 'string' | 'boolean' | 'number[]' | 'array';
const REQUIRED: Record<RunEventType, Record<string, FieldKind>> = {
  run_start: { pid: 'number', host: 'string', resumed: 'boolean', configHash: 'string' },
  backend: { name: 'string', version: 'string', threads: 'number', simd: 'boolean' },
  model: { kind: 'string', params: 'number', flopsPerExample: 'number' },
  stage_start: { stage: 'string', unit: 'string', totalSteps: 'number', startStep: 'number' },
  loss: { unit: 'string', step: 'number', loss: 'number', lr: 'number', rate: 'number' },
  samples: {
    unit: 'string',
    step: 'number',
    file: 'string',
    w: 'number[]',
    classes: 'number[]',
    steps: 'number',
    nfe: 'number',
  },
  checkpoint: { unit: 'string', step: 'number', file: 'string', final: 'boolean' },
  stage_end: { unit: 'string', step: 'number', seconds: 'number' },
  error: { message: 'string' },
  run_end: { status: 'string' },
  summary: { rows: 'array' },
};

function hasKind(v: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'number':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'number');
    case 'array':
      return Array.isArray(v);
  }
}

/** Returns the event if `value` is a well-formed RunEvent, else undefined. Used on every line read and every message received. */
export function asRunEvent(value: unknown): RunEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.type !== 'string' || typeof o.t !== 'number') return undefined;
  const spec = REQUIRED[o.type as RunEventType];
  if (!spec) return undefined;
  for (const [key, kind] of Object.entries(spec)) if (!hasKind(o[key], kind)) return undefined;
  return o as unknown as RunEvent;
}

/** Parses the text of an events.jsonl file. A torn last line (a writer killed mid-write) and malformed lines are skipped and counted. */
export function parseEventLines(text: string): { events: RunEvent[]; skipped: number } {
  const events: RunEvent[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const ev = asRunEvent(parsed);
    if (ev) events.push(ev);
    else skipped++;
  }
  return { events, skipped };
}

export type RunStatus = 'running' | 'stopped' | 'finished' | 'failed' | 'new';

export interface UnitSummary {
  unit: string;
  stage: UnitStage;
  fromSteps?: number;
  toSteps?: number;
  totalSteps: number;
  step: number;
  done: boolean;
  checkpoints: { step: number; file: string; final: boolean }[];
  lastLoss?: number;
}

export interface RunSummary {
  status: RunStatus;
  units: UnitSummary[];
  currentUnit?: string;
  step?: number;
  totalSteps?: number;
  rate?: number;
  lastError?: string;
  backend?: string;
  /** Where training computes: 'GPU', 'emulated GPU' (a software WebGPU adapter) or 'CPU'. */
  device?: 'GPU' | 'emulated GPU' | 'CPU';
  startedAt?: number;
  endedAt?: number;
}

/**
 * Folds the event log into what a run explorer shows. `lockAlive` says whether a live process holds the run's lock:
 * a log that ends without run_end and no live lock means the writer died (failed).
 */
export function summarizeEvents(events: RunEvent[], lockAlive: boolean): RunSummary {
  const units = new Map<string, UnitSummary>();
  const s: RunSummary = { status: 'new', units: [] };
  for (const e of events) {
    switch (e.type) {
      case 'run_start':
        s.status = 'running';
        s.startedAt ??= e.t;
        s.endedAt = undefined;
        s.lastError = undefined;
        break;
      case 'backend':
        s.backend = backendLabel(e);
        s.device = e.adapter
          ? e.adapter.software
            ? 'emulated GPU'
            : 'GPU'
          : e.name === 'tensorflow' && /gpu/.test(e.note ?? '')
            ? 'GPU'
            : 'CPU';
        break;
      case 'stage_start': {
        const u = units.get(e.unit) ?? {
          unit: e.unit,
          stage: e.stage,
          fromSteps: e.fromSteps,
          toSteps: e.toSteps,
          totalSteps: e.totalSteps,
          step: e.startStep,
          done: false,
          checkpoints: [],
        };
        u.totalSteps = e.totalSteps;
        u.step = e.startStep;
        units.set(e.unit, u);
        s.currentUnit = e.unit;
        break;
      }
      case 'loss': {
        const u = units.get(e.unit);
        if (u) {
          u.step = e.step;
          u.lastLoss = e.loss;
        }
        s.rate = e.rate;
        break;
      }
      case 'checkpoint': {
        const u = units.get(e.unit);
        if (u) {
          u.checkpoints = u.checkpoints.filter((c) => c.step !== e.step);
          u.checkpoints.push({ step: e.step, file: e.file, final: e.final });
        }
        break;
      }
      case 'stage_end': {
        const u = units.get(e.unit);
        if (u) {
          u.step = e.step;
          u.done = true;
        }
        break;
      }
      case 'error':
        s.lastError = e.message;
        break;
      case 'run_end':
        s.status = e.status;
        s.endedAt = e.t;
        break;
    }
  }
  if (s.status === 'running' && !lockAlive) {
    s.status = 'failed';
    s.lastError ??= 'the writing process ended without closing the run (crash or kill)';
  }
  s.units = [...units.values()];
  const cur = s.currentUnit ? units.get(s.currentUnit) : undefined;
  if (cur) {
    s.step = cur.step;
    s.totalSteps = cur.totalSteps;
  }
  return s;
}
