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
  notes: TArray(str(), { maxItems: 100 }),
  /** The plots, as webview URIs. */
  plots: TArray(TObject({ file: str(), title: str(), src: str() }), { maxItems: 16 }),
});
export type ReportView = Static<typeof ReportViewSchema>;

/** One run of a sweep in the Compare view (built by the host: panels/compare.ts). */
export const CompareRowSchema = TObject({
  name: str(),
  runDir: str(),
  /** The varied values (by dotted config path). */
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
    }),
  ),
  /** Newest sample grid of the last progressive unit (the few-step student), as a webview URI. */
  grid: Optional(TObject({ src: str(), unit: str(), step: int() })),
});
export type CompareRow = Static<typeof CompareRowSchema>;

export const CompareViewSchema = TObject({
  name: str(),
  sweepDir: str(),
  launcher: str(),
  params: TArray(str(), { maxItems: 64 }),
  units: TArray(str(), { maxItems: 64 }),
  rows: TArray(CompareRowSchema, { maxItems: 2000 }),
});
export type CompareView = Static<typeof CompareViewSchema>;
