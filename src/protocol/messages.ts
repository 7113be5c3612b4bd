/**
 * Every message between the extension host, the worker process and the webviews, written once: a schema per
 * message, the union type of each direction derived from them, and a checker per direction. Every message is
 * checked on receipt; the receiver drops and logs an unknown or malformed one (the check says which field is wrong).
 * The engine's request and result types (SampleSpec, EditTabSpec, …) stay in the engine: their schemas here are
 * typed as them and compile only while they agree.
 */
import {
  Array as TArray,
  Boolean as TBoolean,
  Integer,
  Literal,
  Number as TNumber,
  Object as TObject,
  Optional,
  String as TString,
  Union,
  Unknown,
  type Static,
  type TLiteral,
  type TObject as TObjectSchema,
  type TProperties,
  type TUnion,
} from '@sinclair/typebox';
import { BACKENDS, type BackendChoice } from '../engine/backend/choices';
import type { BackendName, BackendsReport } from '../engine/backend/report';
import type { SamplerKind, SampleResult, SampleSpec, StageChoice } from '../engine/tasks/sample';
import type { EditInput, EditSource, EditTabResult, EditTabSpec } from '../engine/tasks/edit-request';
import { base64, type Checked, explain, messageChecker, RunEventSchema, typed } from './check';
import {
  CompareViewSchema,
  ConfigEntrySchema,
  ReportViewSchema,
  RunViewSchema,
  StudentChoiceSchema,
} from './view-models';

export type {
  SamplerKind,
  SampleResult,
  SampleSpec,
  StageChoice,
  EditInput,
  EditSource,
  EditTabResult,
  EditTabSpec,
  BackendsReport,
};
export type { Checked };
export { BACKENDS };
/** A backend the host asks the worker for: one of BACKENDS. */
export type Backend = BackendChoice;

/** One message: an object whose `type` is `type`. */
function message<K extends string, P extends TProperties>(type: K, props: P): TObjectSchema<{ type: TLiteral<K> } & P> {
  return TObject({ type: Literal(type), ...props }) as unknown as TObjectSchema<{ type: TLiteral<K> } & P>;
}
/** One of the listed values (a union of literals). */
function oneOf<const L extends readonly (string | number)[]>(...values: L): TUnion<TLiteral<L[number]>[]> {
  return Union(values.map((v) => Literal(v))) as unknown as TUnion<TLiteral<L[number]>[]>;
}

const str = () => TString();
const int = () => Integer();
const num = () => TNumber();
const backend = () => Optional(oneOf(...BACKENDS));
const threads = () => Optional(Integer({ minimum: 0 }));
const posInt = () => Integer({ minimum: 1, maximum: 4096 });
const stageChoice = () => oneOf('teacher', 'guided', 'progressive', 'consistency');
const model = () => oneOf('teacher', 'student');
/** Edit images are at most a few hundred pixels a side; 4 MB of base64 is far above any real one. */
const IMAGE_B64_MAX = 4 << 20;
const editImage = () => base64(IMAGE_B64_MAX);
const classId = () => Integer({ minimum: 0, maximum: 99_999 });
const strength = () => TNumber({ minimum: 0, maximum: 1 });
const weight = () => TNumber({ minimum: 0, maximum: 100 });
const sampler = () => oneOf('ddim', 'stochastic');
const wList = () => TArray(TNumber({ minimum: 0 }), { maxItems: 16 });
const classList = () => TArray(Integer({ minimum: 0 }), { maxItems: 100 });

// ───────────────────────── the engine's requests and results ─────────────────────────
export const SampleSpecSchema = typed<SampleSpec>()(
  TObject({
    runDir: str(),
    checkpoint: Optional(str()),
    stage: stageChoice(),
    steps: posInt(),
    sampler: sampler(),
    w: wList(),
    classes: classList(),
    perClass: posInt(),
    seed: int(),
  }),
);

export const SampleResultSchema = typed<SampleResult>()(
  TObject({ pngBase64: str(), rows: int(), cols: int(), steps: int(), nfe: int(), msPerSample: num(), label: str() }),
);

export const EditSourceSchema = typed<EditSource>()(
  Union(
    [
      TObject({ file: TString({ minLength: 1 }) }, { additionalProperties: false }),
      TObject({ example: Integer({ minimum: 0 }) }, { additionalProperties: false }),
    ],
    { description: 'either {"file": a non-empty path} or {"example": an integer ≥ 0}' },
  ),
);

export const EditTabSpecSchema = typed<EditTabSpec>()(
  TObject({
    runDir: str(),
    model: model(),
    steps: posInt(),
    imagePngBase64: editImage(),
    maskPngBase64: Optional(editImage()),
    classId: classId(),
    strength: strength(),
    w: weight(),
    seed: int(),
    student: Optional(str()),
  }),
);

export const EditInputSchema = typed<EditInput>()(
  TObject({
    pngBase64: editImage(),
    size: posInt(),
    channels: oneOf(1, 3),
    label: str(),
    classId: Optional(classId()),
    examples: Optional(Integer({ minimum: 0 })),
  }),
);

export const EditTabResultSchema = typed<EditTabResult>()(
  TObject({
    pngBase64: editImage(),
    model: model(),
    unit: str(),
    checkpoint: str(),
    steps: posInt(),
    stepsTaken: Integer({ minimum: 0 }),
    nfe: Integer({ minimum: 0 }),
    ms: TNumber({ minimum: 0 }),
    label: str(),
  }),
);

const BACKEND_NAMES = [
  'tensorflow-gpu',
  'webgpu',
  'tensorflow',
  'wasm',
  'cpu',
] as const satisfies readonly BackendName[];

export const BackendsReportSchema = typed<BackendsReport>()(
  TObject({
    platform: str(),
    node: str(),
    backends: TArray(
      TObject({
        name: oneOf(...BACKEND_NAMES),
        choice: oneOf('tensorflow', 'webgpu', 'wasm', 'cpu'),
        available: TBoolean(),
        device: oneOf('gpu', 'cpu'),
        detail: str(),
        fix: Optional(str()),
        adapter: Optional(
          TObject({
            vendor: str(),
            architecture: str(),
            device: str(),
            description: str(),
            software: TBoolean(),
            limits: TObject({
              maxBufferSize: num(),
              maxStorageBufferBindingSize: num(),
              maxComputeWorkgroupStorageSize: num(),
            }),
            features: TArray(str(), { maxItems: 256 }),
          }),
        ),
        cudaDevices: Optional(TArray(str(), { maxItems: 64 })),
      }),
      { maxItems: 16 },
    ),
    auto: oneOf(...BACKEND_NAMES),
  }),
);

// ───────────────────────────── host → worker ─────────────────────────────
/** The run tools behind `distill export` / `distill eval`, run by the worker for the editor's commands. */
export const TOOL_NAMES = ['export', 'eval'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** What a `tool` request replies: the files it wrote (absolute paths) and a one-line summary. */
export interface ToolResult {
  files: string[];
  summary: string;
}

export const HOST_TO_WORKER = [
  message('start', {
    id: int(),
    configPath: str(),
    runsDir: str(),
    name: Optional(str()),
    backend: backend(),
    threads: threads(),
  }),
  message('resume', { id: int(), runDir: str(), backend: backend(), threads: threads() }),
  message('stop', {}),
  message('sample', { id: int(), spec: SampleSpecSchema, backend: backend(), threads: threads() }),
  /** Runs `distill export` / `distill eval` (with an evaluation preset) on a run; replies a ToolResult. */
  message('tool', {
    id: int(),
    tool: oneOf(...TOOL_NAMES),
    runDir: str(),
    backend: backend(),
    threads: threads(),
    preset: Optional(oneOf('quick', 'full')),
  }),
  /** Every backend of the worker's machine, available or not and why (`distill backends`); replies a BackendsReport. */
  message('backends', { id: int() }),
  message('cancel', { id: int() }),
  /** The preview's Edit tab: an input image at the model's resolution (replies EditInput). */
  message('editInput', { id: int(), runDir: str(), source: EditSourceSchema, backend: backend(), threads: threads() }),
  /** The preview's Edit tab: one model's edit (replies EditTabResult). */
  message('edit', { id: int(), spec: EditTabSpecSchema, backend: backend(), threads: threads() }),
];
export type HostToWorker = Static<(typeof HOST_TO_WORKER)[number]>;

// ───────────────────────────── worker → host ─────────────────────────────
export const WORKER_TO_HOST = [
  message('ready', { pid: int() }),
  message('event', { runDir: str(), event: RunEventSchema }),
  message('log', { level: oneOf('info', 'warn', 'error'), text: str() }),
  message('progress', { id: int(), done: num(), total: num() }),
  /** A `start` request's run folder exists (sent before training begins, so the host can follow the run at once). */
  message('runCreated', { id: int(), runDir: str() }),
  /** The end of a request: `result` when ok, else `error` (the host says "request failed" when it is missing). */
  message('reply', { id: int(), ok: TBoolean(), result: Optional(Unknown()), error: Optional(str()) }),
];
export type WorkerToHost = Static<(typeof WORKER_TO_HOST)[number]>;

// ──────────────────────────── host → webview ─────────────────────────────
const events = () => TArray(RunEventSchema, { maxItems: 10_000_000 });
const configs = () => TArray(ConfigEntrySchema, { maxItems: 1000 });
const students = () => TArray(StudentChoiceSchema, { maxItems: 64 });

export const HOST_TO_WEBVIEW = [
  message('compare', { view: CompareViewSchema }),
  message('init', {
    view: Literal('dashboard'),
    run: Optional(RunViewSchema),
    events: events(),
    configs: configs(),
    sampleBase: str(),
  }),
  /** The run's evaluation report (absent: none yet; `error`: report.json exists but cannot be shown). */
  message('report', {
    runDir: str(),
    evaluating: TBoolean(),
    report: Optional(ReportViewSchema),
    error: Optional(str()),
  }),
  message('events', { runDir: str(), events: events() }),
  message('run', { run: RunViewSchema }),
  message('configs', { configs: configs() }),
  message('init', {
    view: Literal('preview'),
    runDir: str(),
    checkpoint: Optional(str()),
    stage: stageChoice(),
    classes: int(),
    wDefaults: TArray(num(), { maxItems: 16 }),
    /** Every few-step student of the run (each method, each step count), and the one picked first. */
    students: Optional(students()),
    student: Optional(str()),
  }),
  message('previewBusy', { requestId: int(), done: num(), total: num(), phase: Optional(model()) }),
  message('previewResult', {
    requestId: int(),
    teacher: Optional(SampleResultSchema),
    student: Optional(SampleResultSchema),
  }),
  message('previewError', { requestId: int(), message: str() }),
  /** The Edit tab: what the run offers for editing (absent from init: the run is not on images). */
  message('editInfo', {
    size: posInt(),
    channels: oneOf(1, 3),
    classNames: TArray(str(), { maxItems: 100_000 }),
    teacherSteps: posInt(),
    studentSteps: TArray(posInt(), { maxItems: 64 }),
    /** Every few-step student with a checkpoint (each method, each step count). */
    students: Optional(students()),
  }),
  message('editInput', { input: EditInputSchema }),
  message('editBusy', { requestId: int(), done: num(), total: num(), phase: model() }),
  /** studentError: why there is no student result (e.g. the run has no student checkpoint yet). */
  message('editResult', {
    requestId: int(),
    teacher: EditTabResultSchema,
    student: Optional(EditTabResultSchema),
    studentError: Optional(str()),
  }),
  /** requestId 0: picking the input failed. */
  message('editError', { requestId: int(), message: str() }),
];
export type HostToWebview = Static<(typeof HOST_TO_WEBVIEW)[number]>;

// ──────────────────────────── webview → host ─────────────────────────────
export const WEBVIEW_TO_HOST = [
  message('ready', {}),
  message('launch', { configPath: str() }),
  message('resume', { runDir: str() }),
  message('stop', { runDir: str() }),
  /** Run `distill eval` for the dashboard's run (the Evaluate Run command). */
  message('evaluate', { runDir: str() }),
  message('openReport', { runDir: str() }),
  message('preview', {
    requestId: int(),
    studentSteps: posInt(),
    /** The student's unit (e.g. "consistency-2"); without it, the run's newest student checkpoint. */
    student: Optional(str()),
    teacherSteps: posInt(),
    sampler: sampler(),
    w: wList(),
    classes: classList(),
    seed: int(),
  }),
  message('cancelPreview', { requestId: int() }),
  message('savePng', { which: model(), pngBase64: str() }),
  message('openRun', { runDir: str() }),
  /** The Edit tab: choose the input (a workspace image through the host's file picker, or a training example). */
  message('editPickFile', {}),
  message('editPickExample', { index: Integer({ minimum: 0, maximum: 99_999_999 }) }),
  message('edit', {
    requestId: int(),
    imagePngBase64: editImage(),
    maskPngBase64: Optional(editImage()),
    classId: classId(),
    strength: strength(),
    w: weight(),
    studentSteps: Integer({ minimum: 1, maximum: 8 }),
    /** The student's unit (e.g. "consistency-2"); without it, the progressive student at studentSteps. */
    student: Optional(str()),
    teacherSteps: posInt(),
    seed: Integer({ minimum: 0 }),
  }),
  message('cancelEdit', { requestId: int() }),
];
export type WebviewToHost = Static<(typeof WEBVIEW_TO_HOST)[number]>;

// ─────────────────────────────── checkers ──────────────────────────────
/** Checks a message the worker received; the error names the field that is wrong. */
export const checkHostToWorker = messageChecker('host → worker', HOST_TO_WORKER);
/** Checks a message the host received from the worker. */
export const checkWorkerToHost = messageChecker('worker → host', WORKER_TO_HOST);
/** Checks a message a webview received (the host checks what it posts the same way). */
export const checkHostToWebview = messageChecker('host → webview', HOST_TO_WEBVIEW);
/** Checks a message the host received from a webview. */
export const checkWebviewToHost = messageChecker('webview → host', WEBVIEW_TO_HOST);

const valueIfOk = <T>(c: Checked<T>): T | undefined => (c.ok ? c.value : undefined);
export const asHostToWorker = (value: unknown): HostToWorker | undefined => valueIfOk(checkHostToWorker(value));
export const asWorkerToHost = (value: unknown): WorkerToHost | undefined => valueIfOk(checkWorkerToHost(value));
export const asHostToWebview = (value: unknown): HostToWebview | undefined => valueIfOk(checkHostToWebview(value));
export const asWebviewToHost = (value: unknown): WebviewToHost | undefined => valueIfOk(checkWebviewToHost(value));

/** Checks the worker's reply to a `backends` request before the editor shows it. */
export function checkBackendsReport(value: unknown): Checked<BackendsReport> {
  const why = explain(BackendsReportSchema, value);
  if (why !== undefined) return { ok: false, error: `backends report: ${why}` };
  const r = value as BackendsReport;
  // `auto` names one of the listed backends, each listed once.
  const names = r.backends.map((b) => b.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) return { ok: false, error: `backends report: backends: ${twice} is listed twice` };
  if (!names.includes(r.auto))
    return {
      ok: false,
      error: `backends report: auto: expected one of the listed backends (${names.join(', ')}), got ${JSON.stringify(r.auto)}`,
    };
  return { ok: true, value: r };
}
export const asBackendsReport = (value: unknown): BackendsReport | undefined => valueIfOk(checkBackendsReport(value));
