/**
 * The one protocol module: every message between the extension host, the worker process and the webviews.
 * One discriminated union per direction, a validator per direction (every message is validated on receipt;
 * unknown or malformed messages are dropped and logged by the receiver), and a small request/reply helper.
 * Pure types and functions: imported by the extension, the worker and the webview bundles alike.
 */
import { asRunEvent, RunEvent } from './engine/run/events';
import type { BackendsReport } from './engine/backend/report';
import type { SamplerKind, SampleResult, SampleSpec, StageChoice } from './engine/tasks/sample';
import type { EditInput, EditSource, EditTabResult, EditTabSpec } from './engine/tasks/edit-request';

export type { SamplerKind, SampleResult, SampleSpec, StageChoice, EditInput, EditSource, EditTabResult, EditTabSpec };

export type { BackendsReport };

export const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu', 'tensorflow'] as const;
export type Backend = (typeof BACKENDS)[number];
// ───────────────────────────── host → worker ─────────────────────────────
export type HostToWorker =
  | { type: 'start'; id: number; configPath: string; runsDir: string; name?: string; backend?: Backend; threads?: number }
  | { type: 'resume'; id: number; runDir: string; backend?: Backend; threads?: number }
  | { type: 'stop' }
  | { type: 'sample'; id: number; spec: SampleSpec; backend?: Backend; threads?: number }
  /** The run tools behind `distill export` / `distill eval`, run by the worker for the editor's commands. */
  | { type: 'tool'; id: number; tool: ToolName; runDir: string; backend?: Backend; threads?: number }
  /** Every backend of the worker's machine, available or not and why (`distill backends`); replies a BackendsReport. */
  | { type: 'backends'; id: number }
  | { type: 'cancel'; id: number }
  /** The preview's Edit tab: an input image at the model's resolution (replies EditInput), and one model's edit (replies EditTabResult). */
  | { type: 'editInput'; id: number; runDir: string; source: EditSource; backend?: Backend; threads?: number }
  | { type: 'edit'; id: number; spec: EditTabSpec; backend?: Backend; threads?: number };

export type ToolName = 'export' | 'eval';

/** What a `tool` request replies: the files it wrote (absolute paths) and a one-line summary. */
export interface ToolResult {
  files: string[];
  summary: string;
}

// ───────────────────────────── worker → host ─────────────────────────────
export type WorkerToHost =
  | { type: 'ready'; pid: number }
  | { type: 'event'; runDir: string; event: RunEvent }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; text: string }
  | { type: 'progress'; id: number; done: number; total: number }
  /** A `start` request's run folder exists (sent before training begins, so the host can follow the run at once). */
  | { type: 'runCreated'; id: number; runDir: string }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

// ──────────────────────────── host → webview ─────────────────────────────
export interface ConfigEntry {
  /** Absolute path of a *.distill.json in the workspace. */
  path: string;
  label: string;
  stages: string[];
  error?: string;
}

export interface RunView {
  runDir: string;
  name: string;
  status: 'running' | 'stopped' | 'finished' | 'failed' | 'new';
  /** True while this window's worker drives the run. */
  active: boolean;
  units: { unit: string; stage: StageChoice | 'autoencoder'; totalSteps: number; step: number; done: boolean }[];
  backend?: string;
  /** Where the run computes (RunSummary.device): 'GPU', 'emulated GPU' (a software WebGPU adapter) or 'CPU'. */
  device?: 'GPU' | 'emulated GPU' | 'CPU';
  /** The backend event's warning (e.g. the WebGPU adapter is emulated on the CPU). */
  backendWarning?: string;
  rate?: number;
  etaSeconds?: number;
}

/** One line of the dashboard's Report table: at one w, the reference teacher vs the headline few-step student. */
export interface ReportRow {
  w: number;
  /** Quality (FID for images, SWD to held-out data for 2-D toy data; lower is better) of the reference teacher. */
  teacher: number | null;
  /** The same for the distilled student at `studentSteps` (DDIM). */
  student: number | null;
  /** The same for the teacher's own plain DDIM at `studentSteps`. */
  teacherFew: number | null;
  /** Classifier accuracy on the requested class (images only). */
  teacherAccuracy: number | null;
  studentAccuracy: number | null;
  /** Wall-clock speed-up of the student over the reference teacher, and the ratio of their NFE. */
  speedup: number | null;
  nfeRatio: number | null;
  /**
   * Diversity beside accuracy: recall (share of the real data's k-NN manifold the samples cover) and within-class
   * diversity as a ratio to real data's; null in reports written before `distill eval` measured them.
   */
  teacherRecall: number | null;
  studentRecall: number | null;
  teacherDiversity: number | null;
  studentDiversity: number | null;
}

/** What the dashboard shows of `<run>/eval/report.json` (built by the host; see panels/report.ts). */
export interface ReportView {
  createdAt: string;
  backend: string;
  samples: number;
  kind: 'image' | 'toy';
  metric: 'FID' | 'SWD';
  referenceSteps: number;
  referenceNfe: number;
  /** Step count of the student in the table (4 when evaluated, else the fewest); null without a progressive student. */
  studentSteps: number | null;
  studentNfe: number | null;
  rows: ReportRow[];
  /** Real held-out data, half vs half: the floor of the metric, and the judge's accuracy (images). */
  realQuality: number | null;
  realAccuracy: number | null;
  /** Recall of real held-out data against itself (the value a perfect model gets at the same sample count). */
  realRecall: number | null;
  notes: string[];
  /** The plots, as webview URIs. */
  plots: { file: string; title: string; src: string }[];
}

/** One run of a sweep in the Compare view (built by the host: panels/compare.ts). */
export interface CompareRow {
  name: string;
  runDir: string;
  /** The varied values (by dotted config path). */
  params: Record<string, number | string | boolean | null>;
  status: string;
  /** Slurm state, or the local launcher's. */
  state?: string;
  node?: string;
  unit?: string;
  step?: number;
  totalSteps?: number;
  /** Final (last logged) loss per unit. */
  losses: Record<string, number>;
  /** Loss curves per unit, downsampled: [step, loss] pairs. */
  curves: Record<string, [number, number][]>;
  /** From eval/report.json: the 4-step student's and the reference teacher's headline metric per w. */
  quality?: { metric: string; w: number[]; student: (number | null)[]; teacher: (number | null)[]; studentSteps: number | null; teacherSteps: number };
  /** Newest sample grid of the last progressive unit (the few-step student), as a webview URI. */
  grid?: { src: string; unit: string; step: number };
}

export interface CompareView {
  name: string;
  sweepDir: string;
  launcher: string;
  params: string[];
  units: string[];
  rows: CompareRow[];
}

export type HostToWebview =
  | { type: 'compare'; view: CompareView }
  | { type: 'init'; view: 'dashboard'; run?: RunView; events: RunEvent[]; configs: ConfigEntry[]; sampleBase: string }
  /** The run's evaluation report (absent: none yet; `error`: report.json exists but cannot be shown). */
  | { type: 'report'; runDir: string; evaluating: boolean; report?: ReportView; error?: string }
  | { type: 'events'; runDir: string; events: RunEvent[] }
  | { type: 'run'; run: RunView }
  | { type: 'configs'; configs: ConfigEntry[] }
  | { type: 'init'; view: 'preview'; runDir: string; checkpoint?: string; stage: StageChoice; classes: number; wDefaults: number[] }
  | { type: 'previewBusy'; requestId: number; done: number; total: number; phase?: 'teacher' | 'student' }
  | { type: 'previewResult'; requestId: number; teacher?: SampleResult; student?: SampleResult }
  | { type: 'previewError'; requestId: number; message: string }
  /** The Edit tab: what the run offers for editing (absent from init: the run is not on images). */
  | { type: 'editInfo'; size: number; channels: number; classNames: string[]; teacherSteps: number; studentSteps: number[] }
  | { type: 'editInput'; input: EditInput }
  | { type: 'editBusy'; requestId: number; done: number; total: number; phase: 'teacher' | 'student' }
  /** studentError: why there is no student result (e.g. the run has no student checkpoint yet). */
  | { type: 'editResult'; requestId: number; teacher: EditTabResult; student?: EditTabResult; studentError?: string }
  /** requestId 0: picking the input failed. */
  | { type: 'editError'; requestId: number; message: string };

// ──────────────────────────── webview → host ─────────────────────────────
export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'launch'; configPath: string }
  | { type: 'resume'; runDir: string }
  | { type: 'stop'; runDir: string }
  /** Run `distill eval` for the dashboard's run (the Evaluate Run command). */
  | { type: 'evaluate'; runDir: string }
  | { type: 'openReport'; runDir: string }
  | {
      type: 'preview';
      requestId: number;
      studentSteps: number;
      teacherSteps: number;
      sampler: SamplerKind;
      w: number[];
      classes: number[];
      seed: number;
    }
  | { type: 'cancelPreview'; requestId: number }
  | { type: 'savePng'; which: 'teacher' | 'student'; pngBase64: string }
  | { type: 'openRun'; runDir: string }
  /** The Edit tab: choose the input (a workspace image through the host's file picker, or a training example). */
  | { type: 'editPickFile' }
  | { type: 'editPickExample'; index: number }
  | {
      type: 'edit';
      requestId: number;
      imagePngBase64: string;
      maskPngBase64?: string;
      classId: number;
      strength: number;
      w: number;
      studentSteps: number;
      teacherSteps: number;
      seed: number;
    }
  | { type: 'cancelEdit'; requestId: number };

// ─────────────────────────────── validation ──────────────────────────────
type Check = (v: unknown) => boolean;
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const int: Check = (v) => Number.isInteger(v);
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const opt =
  (c: Check): Check =>
  (v) =>
    v === undefined || c(v);
const oneOf =
  (...xs: unknown[]): Check =>
  (v) =>
    xs.includes(v);
const arrayOf =
  (c: Check, max = 10_000): Check =>
  (v) =>
    Array.isArray(v) && v.length <= max && v.every(c);
const shape =
  (spec: Record<string, Check>): Check =>
  (v) =>
    typeof v === 'object' && v !== null && Object.entries(spec).every(([k, c]) => c((v as Record<string, unknown>)[k]));

const backend = opt(oneOf(...BACKENDS));
const threads = opt((v) => int(v) && (v as number) >= 0);
const posInt: Check = (v) => int(v) && (v as number) >= 1 && (v as number) <= 4096;
const sampleSpec = shape({
  runDir: str,
  checkpoint: opt(str),
  stage: oneOf('teacher', 'guided', 'progressive'),
  steps: posInt,
  sampler: oneOf('ddim', 'stochastic'),
  w: arrayOf((v) => num(v) && (v as number) >= 0, 16),
  classes: arrayOf((v) => int(v) && (v as number) >= 0, 100),
  perClass: posInt,
  seed: int,
});
/** Base64 (standard alphabet, padded) of at most `max` characters: the images the Edit tab sends and receives. */
const base64 =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length > 0 && v.length <= max && v.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v);
/** Edit images are at most a few hundred pixels a side; 4 MB of base64 is far above any real one. */
const IMAGE_B64_MAX = 4 << 20;
const editImage = base64(IMAGE_B64_MAX);
const classId: Check = (v) => int(v) && (v as number) >= 0 && (v as number) < 100_000;
const strength: Check = (v) => num(v) && (v as number) >= 0 && (v as number) <= 1;
const weight: Check = (v) => num(v) && (v as number) >= 0 && (v as number) <= 100;
const editSource: Check = (v) =>
  typeof v === 'object' && v !== null && (Object.keys(v).length === 1) && (shape({ file: (f) => str(f) && (f as string).length > 0 })(v) || shape({ example: (i) => int(i) && (i as number) >= 0 })(v));
const editTabSpec = shape({
  runDir: str,
  model: oneOf('teacher', 'student'),
  steps: posInt,
  imagePngBase64: editImage,
  maskPngBase64: opt(editImage),
  classId,
  strength,
  w: weight,
  seed: int,
});
const editInput = shape({ pngBase64: editImage, size: posInt, channels: oneOf(1, 3), label: str, classId: opt(classId), examples: opt((v) => int(v) && (v as number) >= 0) });
const editTabResult = shape({
  pngBase64: editImage,
  model: oneOf('teacher', 'student'),
  unit: str,
  checkpoint: str,
  steps: posInt,
  stepsTaken: (v) => int(v) && (v as number) >= 0,
  nfe: (v) => int(v) && (v as number) >= 0,
  ms: (v) => num(v) && (v as number) >= 0,
  label: str,
});
const sampleResult = shape({ pngBase64: str, rows: int, cols: int, steps: int, nfe: int, msPerSample: num, label: str });

function validate<T extends { type: string }>(specs: Record<string, Record<string, Check>>, value: unknown): T | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(specs, type)) return undefined;
  return shape(specs[type])(value) ? (value as T) : undefined;
}

const HOST_TO_WORKER: Record<HostToWorker['type'], Record<string, Check>> = {
  start: { id: int, configPath: str, runsDir: str, name: opt(str), backend, threads },
  resume: { id: int, runDir: str, backend, threads },
  stop: {},
  sample: { id: int, spec: sampleSpec, backend, threads },
  tool: { id: int, tool: oneOf('export', 'eval'), runDir: str, backend, threads },
  backends: { id: int },
  cancel: { id: int },
  editInput: { id: int, runDir: str, source: editSource, backend, threads },
  edit: { id: int, spec: editTabSpec, backend, threads },
};

const WORKER_TO_HOST: Record<WorkerToHost['type'], Record<string, Check>> = {
  ready: { pid: int },
  event: { runDir: str, event: (v) => asRunEvent(v) !== undefined },
  log: { level: oneOf('info', 'warn', 'error'), text: str },
  progress: { id: int, done: num, total: num },
  runCreated: { id: int, runDir: str },
  reply: { id: int, ok: bool, error: (v) => v === undefined || typeof v === 'string' },
};

const unitView = shape({ unit: str, stage: oneOf('teacher', 'guided', 'progressive', 'autoencoder'), totalSteps: int, step: int, done: bool });
const runView = shape({
  runDir: str,
  name: str,
  status: oneOf('running', 'stopped', 'finished', 'failed', 'new'),
  active: bool,
  units: arrayOf(unitView, 64),
  backend: opt(str),
  device: opt(oneOf('GPU', 'emulated GPU', 'CPU')),
  backendWarning: opt(str),
  rate: opt(num),
  etaSeconds: opt(num),
});
const configEntry = shape({ path: str, label: str, stages: arrayOf(str, 16), error: opt(str) });
const numOrNull: Check = (v) => v === null || num(v);
const intOrNull: Check = (v) => v === null || int(v);
const reportRow = shape({
  w: num,
  teacher: numOrNull,
  student: numOrNull,
  teacherFew: numOrNull,
  teacherAccuracy: numOrNull,
  studentAccuracy: numOrNull,
  speedup: numOrNull,
  nfeRatio: numOrNull,
  teacherRecall: numOrNull,
  studentRecall: numOrNull,
  teacherDiversity: numOrNull,
  studentDiversity: numOrNull,
});
const reportView = shape({
  createdAt: str,
  backend: str,
  samples: int,
  kind: oneOf('image', 'toy'),
  metric: oneOf('FID', 'SWD'),
  referenceSteps: int,
  referenceNfe: int,
  studentSteps: intOrNull,
  studentNfe: intOrNull,
  rows: arrayOf(reportRow, 64),
  realQuality: numOrNull,
  realAccuracy: numOrNull,
  realRecall: numOrNull,
  notes: arrayOf(str, 100),
  plots: arrayOf(shape({ file: str, title: str, src: str }), 16),
});
const events = arrayOf((v) => asRunEvent(v) !== undefined, 10_000_000);
const record =
  (c: Check): Check =>
  (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(c);
const scalar: Check = (v) => v === null || num(v) || str(v) || bool(v);
const compareRow = shape({
  name: str,
  runDir: str,
  params: record(scalar),
  status: str,
  state: opt(str),
  node: opt(str),
  unit: opt(str),
  step: opt(int),
  totalSteps: opt(int),
  losses: record(num),
  curves: record(arrayOf(arrayOf(num, 2), 5000)),
  quality: opt(shape({ metric: str, w: arrayOf(num, 64), student: arrayOf(numOrNull, 64), teacher: arrayOf(numOrNull, 64), studentSteps: intOrNull, teacherSteps: int })),
  grid: opt(shape({ src: str, unit: str, step: int })),
});
const compareView = shape({ name: str, sweepDir: str, launcher: str, params: arrayOf(str, 64), units: arrayOf(str, 64), rows: arrayOf(compareRow, 2000) });

export function asHostToWorker(value: unknown): HostToWorker | undefined {
  return validate<HostToWorker>(HOST_TO_WORKER, value);
}

export function asWorkerToHost(value: unknown): WorkerToHost | undefined {
  return validate<WorkerToHost>(WORKER_TO_HOST, value);
}

const adapterReport = shape({
  vendor: str,
  architecture: str,
  device: str,
  description: str,
  software: bool,
  limits: shape({ maxBufferSize: num, maxStorageBufferBindingSize: num, maxComputeWorkgroupStorageSize: num }),
  features: arrayOf(str, 256),
});
const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
const backendStatus = shape({
  name: oneOf(...BACKEND_NAMES),
  choice: oneOf('tensorflow', 'webgpu', 'wasm', 'cpu'),
  available: bool,
  device: oneOf('gpu', 'cpu'),
  detail: str,
  fix: opt(str),
  adapter: opt(adapterReport),
  cudaDevices: opt(arrayOf(str, 64)),
});
const backendsReport = shape({
  platform: str,
  node: str,
  backends: arrayOf(backendStatus, 16),
  auto: oneOf(...BACKEND_NAMES),
});

/** The worker's reply to a `backends` request, checked before the editor shows it. */
export function asBackendsReport(value: unknown): BackendsReport | undefined {
  if (!backendsReport(value)) return undefined;
  const r = value as BackendsReport;
  // `auto` names one of the listed backends, each listed once.
  const names = r.backends.map((b) => b.name);
  return new Set(names).size === names.length && names.includes(r.auto) ? r : undefined;
}

export function asHostToWebview(value: unknown): HostToWebview | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.type === 'init') {
    const ok =
      m.view === 'dashboard'
        ? shape({ run: opt(runView), events, configs: arrayOf(configEntry, 1000), sampleBase: str })(m)
        : m.view === 'preview' &&
          shape({
            runDir: str,
            checkpoint: opt(str),
            stage: oneOf('teacher', 'guided', 'progressive'),
            classes: int,
            wDefaults: arrayOf(num, 16),
          })(m);
    return ok ? (m as unknown as HostToWebview) : undefined;
  }
  return validate<HostToWebview>(
    {
      events: { runDir: str, events },
      run: { run: runView },
      configs: { configs: arrayOf(configEntry, 1000) },
      previewBusy: { requestId: int, done: num, total: num, phase: opt(oneOf('teacher', 'student')) },
      previewResult: { requestId: int, teacher: opt(sampleResult), student: opt(sampleResult) },
      previewError: { requestId: int, message: str },
      report: { runDir: str, evaluating: bool, report: opt(reportView), error: opt(str) },
      compare: { view: compareView },
      editInfo: { size: posInt, channels: oneOf(1, 3), classNames: arrayOf(str, 100_000), teacherSteps: posInt, studentSteps: arrayOf(posInt, 64) },
      editInput: { input: editInput },
      editBusy: { requestId: int, done: num, total: num, phase: oneOf('teacher', 'student') },
      editResult: { requestId: int, teacher: editTabResult, student: opt(editTabResult), studentError: opt(str) },
      editError: { requestId: int, message: str },
    },
    value,
  );
}

export function asWebviewToHost(value: unknown): WebviewToHost | undefined {
  return validate<WebviewToHost>(
    {
      ready: {},
      launch: { configPath: str },
      resume: { runDir: str },
      stop: { runDir: str },
      evaluate: { runDir: str },
      openReport: { runDir: str },
      preview: {
        requestId: int,
        studentSteps: posInt,
        teacherSteps: posInt,
        sampler: oneOf('ddim', 'stochastic'),
        w: arrayOf((v) => num(v) && (v as number) >= 0, 16),
        classes: arrayOf((v) => int(v) && (v as number) >= 0, 100),
        seed: int,
      },
      cancelPreview: { requestId: int },
      savePng: { which: oneOf('teacher', 'student'), pngBase64: str },
      openRun: { runDir: str },
      editPickFile: {},
      editPickExample: { index: (v) => int(v) && (v as number) >= 0 && (v as number) < 100_000_000 },
      edit: {
        requestId: int,
        imagePngBase64: editImage,
        maskPngBase64: opt(editImage),
        classId,
        strength,
        w: weight,
        studentSteps: (v) => int(v) && (v as number) >= 1 && (v as number) <= 8,
        teacherSteps: posInt,
        seed: (v) => int(v) && (v as number) >= 0,
      },
      cancelEdit: { requestId: int },
    },
    value,
  );
}

// ──────────────────────────── request / reply ────────────────────────────
/**
 * Pairs requests carrying an `id` with the `reply` message of the same id.
 * `send` posts a message; call `handleReply` with every reply received.
 */
export class RequestTracker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  request<R>(send: (id: number) => void): { id: number; promise: Promise<R> } {
    const id = this.nextId++;
    const promise = new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    send(id);
    return { id, promise };
  }

  handleReply(msg: { id: number; ok: boolean; result?: unknown; error?: string }): boolean {
    const p = this.pending.get(msg.id);
    if (!p) return false;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error ?? 'request failed'));
    return true;
  }

  /** Rejects every pending request (e.g. the worker exited). */
  failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
