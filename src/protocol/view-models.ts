/**
 * What the webviews show, built by the host (src/extension/panels) and sent in host → webview messages: the runs,
 * configs, evaluation reports and sweep comparisons. Each is a schema (checked on receipt) and the type derived
 * from it.
 */
import {
  Array as TArray,
  Boolean as TBoolean,
  Integer,
  Literal,
  Null,
  Number as TNumber,
  Object as TObject,
  Optional,
  String as TString,
  Tuple,
  Union,
  type Static,
} from '@sinclair/typebox';
import { recordOf } from './check';

const str = () => TString();
const int = () => Integer();
const num = () => TNumber();
const numOrNull = () => Union([TNumber(), Null()]);
const intOrNull = () => Union([Integer(), Null()]);

/** The stages a run view lists: the three of a run and the latent runs' autoencoder. */
export const UnitStageSchema = Union([
  Literal('teacher'),
  Literal('guided'),
  Literal('progressive'),
  Literal('consistency'),
  Literal('autoencoder'),
]);

/** A stage-2 method (run/events.ts DistillMethod): progressive halving or guided multistep consistency. */
export const DistillMethodSchema = Union([Literal('progressive'), Literal('consistency')]);

/** A few-step student of a run the preview and its Edit tab offer: its unit, method and steps, and if it has weights. */
export const StudentChoiceSchema = TObject({
  unit: str(),
  method: DistillMethodSchema,
  steps: Integer({ minimum: 1, maximum: 4096 }),
  /** It has a checkpoint (untrained students are listed, and say so). */
  trained: TBoolean(),
});
export type StudentChoice = Static<typeof StudentChoiceSchema>;

export const ConfigEntrySchema = TObject({
  /** Absolute path of a *.distill.json in the workspace. */
  path: str(),
  label: str(),
  stages: TArray(str(), { maxItems: 16 }),
  error: Optional(str()),
});
export type ConfigEntry = Static<typeof ConfigEntrySchema>;

export const RunViewSchema = TObject({
  runDir: str(),
  name: str(),
  status: Union([Literal('running'), Literal('stopped'), Literal('finished'), Literal('failed'), Literal('new')]),
  /** True while this window's worker drives the run. */
  active: TBoolean(),
  units: TArray(TObject({ unit: str(), stage: UnitStageSchema, totalSteps: int(), step: int(), done: TBoolean() }), {
    maxItems: 64,
  }),
  backend: Optional(str()),
  /** Where the run computes (RunSummary.device): 'GPU', 'emulated GPU' (a software WebGPU adapter) or 'CPU'. */
  device: Optional(Union([Literal('GPU'), Literal('emulated GPU'), Literal('CPU')])),
  /** The backend event's warning (e.g. the WebGPU adapter is emulated on the CPU). */
  backendWarning: Optional(str()),
  rate: Optional(num()),
  etaSeconds: Optional(num()),
});
export type RunView = Static<typeof RunViewSchema>;

/** One line of the dashboard's Report table: at one w, the reference teacher vs the headline few-step student. */
export const ReportRowSchema = TObject({
  w: num(),
  /** Quality (FID for images, SWD to held-out data for 2-D toy data; lower is better) of the reference teacher. */
  teacher: numOrNull(),
  /** The same for the distilled student at `studentSteps` (DDIM). */
  student: numOrNull(),
  /** The same for the teacher's own plain DDIM at `studentSteps`. */
  teacherFew: numOrNull(),
  /** Classifier accuracy on the requested class (images only). */
  teacherAccuracy: numOrNull(),
  studentAccuracy: numOrNull(),
  /** Wall-clock speed-up of the student over the reference teacher, and the ratio of their NFE. */
  speedup: numOrNull(),
  nfeRatio: numOrNull(),
  /**
   * Diversity beside accuracy: recall (share of the real data's k-NN manifold the samples cover) and within-class
   * diversity as a ratio to real data's; null in reports written before `distill eval` measured them.
   */
  teacherRecall: numOrNull(),
  studentRecall: numOrNull(),
  teacherDiversity: numOrNull(),
  studentDiversity: numOrNull(),
});
export type ReportRow = Static<typeof ReportRowSchema>;

/** One few-step student of a report: which method made it, its steps, and per w its quality and accuracy. */
export const ReportStudentSchema = TObject({
  method: DistillMethodSchema,
  steps: int(),
  nfe: numOrNull(),
  quality: TArray(numOrNull(), { maxItems: 64 }),
  accuracy: TArray(numOrNull(), { maxItems: 64 }),
});
export type ReportStudent = Static<typeof ReportStudentSchema>;

/** What the dashboard shows of `<run>/eval/report.json` (built by the host; see panels/report.ts). */
export const ReportViewSchema = TObject({
  createdAt: str(),
  backend: str(),
  samples: int(),
  kind: Union([Literal('image'), Literal('toy')]),
  metric: Union([Literal('FID'), Literal('SWD')]),
  referenceSteps: int(),
  referenceNfe: int(),
  /** Step count of the student in the table (4 when evaluated, else the fewest); null without a progressive student. */
  studentSteps: intOrNull(),
  studentNfe: intOrNull(),
  rows: TArray(ReportRowSchema, { maxItems: 64 }),
  /** Real held-out data, half vs half: the floor of the metric, and the judge's accuracy (images). */
  realQuality: numOrNull(),
  realAccuracy: numOrNull(),
  /** Recall of real held-out data against itself (the value a perfect model gets at the same sample count). */
  realRecall: numOrNull(),
  /**
   * Every few-step student of the report (each method, each step count), fewest steps first: its quality and accuracy
   * per w, in the order of `rows`. The report panel shows them in columns, one per method at each step count.
   */
  students: TArray(ReportStudentSchema, { maxItems: 32 }),
  /** Quality vs NFE (report.json's `pareto`, when the report has it): every point, and which are on the front. */
  pareto: Optional(
    TObject({
      /** The guidance weight of the points, and the distance on the y axis (e.g. "fid", "swdReal", "mseToExact"). */
      w: Optional(num()),
      measure: Optional(str()),
      points: TArray(
        TObject({
          label: str(),
          method: Optional(str()),
          steps: Optional(int()),
          w: Optional(num()),
          nfe: num(),
          quality: num(),
          front: TBoolean(),
        }),
        { maxItems: 1024 },
      ),
    }),
  ),
  /**
   * What each student cost to train (report.json's `trainingCost`, when the report has it): the stage-2 FLOPs (and
   * wall seconds, once every unit up to it finished) of its method's units up to and including its own.
   */
  trainingCost: Optional(
    TArray(TObject({ method: str(), steps: int(), flops: num(), seconds: Optional(num()) }), { maxItems: 64 }),
  ),
  notes: TArray(str(), { maxItems: 100 }),
  /** The plots, as webview URIs. */
  plots: TArray(TObject({ file: str(), title: str(), src: str() }), { maxItems: 16 }),
});
export type ReportView = Static<typeof ReportViewSchema>;

/** One run in the Compare view (a sweep's variant or any run picked; built by the host: panels/compare-view.ts). */
export const CompareRowSchema = TObject({
  name: str(),
  runDir: str(),
  /** The varied values (a sweep's parameters, or the config fields the picked runs differ in, by dotted path). */
  params: recordOf(Union([TNumber(), TString(), TBoolean(), Null()])),
  status: str(),
  /** Slurm state, or the local launcher's. */
  state: Optional(str()),
  node: Optional(str()),
  unit: Optional(str()),
  step: Optional(int()),
  totalSteps: Optional(int()),
  /** Final (last logged) loss per unit. */
  losses: recordOf(num()),
  /** Loss curves per unit, downsampled: [step, loss] pairs. */
  curves: recordOf(TArray(Tuple([num(), num()]), { maxItems: 5000 })),
  /** From eval/report.json: the 4-step student's and the reference teacher's headline metric per w. */
  quality: Optional(
    TObject({
      metric: str(),
      w: TArray(num(), { maxItems: 64 }),
      student: TArray(numOrNull(), { maxItems: 64 }),
      teacher: TArray(numOrNull(), { maxItems: 64 }),
      studentSteps: intOrNull(),
      teacherSteps: int(),
      /** Every few-step student of the report (method, steps, quality per w in the order of `w`). */
      students: Optional(
        TArray(TObject({ method: DistillMethodSchema, steps: int(), quality: TArray(numOrNull(), { maxItems: 64 }) }), {
          maxItems: 32,
        }),
      ),
    }),
  ),
  /** Newest sample grid of the last progressive unit (the few-step student), as a webview URI. */
  grid: Optional(TObject({ src: str(), unit: str(), step: int() })),
  /** Newest sample grid of each few-step student (every method, every step count), as webview URIs. */
  students: Optional(
    TArray(TObject({ method: DistillMethodSchema, steps: int(), unit: str(), step: int(), src: str() }), {
      maxItems: 32,
    }),
  ),
});
export type CompareRow = Static<typeof CompareRowSchema>;

export const CompareViewSchema = TObject({
  name: str(),
  /** The sweep folder, when the view compares a sweep's runs. */
  sweepDir: Optional(str()),
  /** The runs picked, when the view compares a selection of runs (any runs, in or out of sweeps). */
  runDirs: Optional(TArray(str(), { maxItems: 2000 })),
  /** The sweep's launcher ("local" or "slurm"); none for a selection of runs. */
  launcher: Optional(str()),
  params: TArray(str(), { maxItems: 64 }),
  units: TArray(str(), { maxItems: 64 }),
  rows: TArray(CompareRowSchema, { maxItems: 2000 }),
});
export type CompareView = Static<typeof CompareViewSchema>;
