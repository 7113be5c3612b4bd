/**
 * `distill eval`: the quality report of a run (docs/method.md, "How quality is judged").
 *
 * For every w in eval.w, with the same seeds (the same initial noise z₁) for every model:
 *  - the guided teacher with DDIM at eval.teacherSteps and at each student's step count (2 NFE per step): the
 *    256-step reference, and the teacher's own plain few-step DDIM beside the students;
 *  - the stage-1 (guided) student with DDIM and the stochastic sampler at the cheap step counts (≤ 64);
 *  - every few-step student of every stage-2 method (progressive phases, consistency students) at its own step count
 *    (in eval.studentSteps), DDIM and stochastic.
 * Images: classifier-FID (Fréchet distance in the features of a classifier trained on the real training split — its
 * conv layers' channel means and its penultimate layer, see eval/classifier.ts — cached in <run>/eval/classifier.ckpt)
 * against the held-out split, the classifier's accuracy on the requested class. 2-D toy data: class-conditional sliced
 * Wasserstein distance to the held-out split and to the reference teacher's samples. Both: the diversity-sensitive
 * class-conditional precision / recall and density / coverage (k-NN manifolds, eval/scores.ts) in the same space, and
 * within-class diversity (mean within-class trace of the covariance; images also in pixels). Every row has NFE and
 * wall-clock ms per sample. Real-data references: FID / SWD between the two halves of the held-out split, the k-NN
 * measures of one half against the other, the classifier's held-out accuracy, the held-out diversity.
 *
 * Where the exact teacher is known (teacher.kind "exact", or mixture data beside a trained teacher) every row also gets
 * its distance to the exact teacher's 1,024-step samples from the same noise. Per w, the DDIM rows' main distance
 * against NFE and its Pareto front; per student, the stage-2 training FLOPs (and seconds) it took to reach.
 *
 * Writes <out>/report.md, the plots (PNG) and, last, report.json (atomically): a cancelled evaluation writes nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendLabel, StageName } from '../run/events';
import { ResolvedConfig } from '../run/config';
import { exactTeacherNet } from '../method/exact-teacher';
import { ParetoSet, paretoByW, paretoW } from '../eval/pareto';
import { FILES, readEvents, writeFileAtomic } from '../run/run-folder';
import { cheaperMethod, studentTrainingCost, TrainingCost } from './student-cost';
import { Dataset, loadDataset } from '../data';
import { Classifier } from '../eval/classifier';
import { classConditionalSwd, FittedGaussian, fitGaussian, frechetDistance, meanSquaredError } from '../eval/metrics';
import { K_DC, K_PR, RealReference, SampleScores } from '../eval/scores';
import { PALETTE, Panel, plotPanels, Rgb, Series } from '../eval/plot';
import { ensureBackend, loadDenoiser, loadRunConfig, TaskOptions } from './open-run';
import { loadOrTrainClassifier } from './quick-eval';
import { LatentCost, latentCostMarkdown, measureLatentCost } from '../eval/latent-cost';
import { spansDecade } from '../eval/log-scale';
import { Denoiser, disposeDenoiser, sample, SamplingCancelled } from '../method/samplers';
import {
  Config,
  DATA_EXACT_UNIT,
  EvalChoices,
  EvalPresetName,
  EXACT_REFERENCE_STEPS,
  evaluationPreset,
  ModelName,
  planEvaluation,
  resolveSettings,
  samplesPerClass,
} from './evaluation-plan';

export type { ModelName } from './evaluation-plan';
export type { EvalPresetName } from './evaluation-plan';

export interface EvaluateOptions extends EvalChoices, TaskOptions {
  runDir: string;
  /** Start from a preset (quick: two w, a 64-step reference, few samples; full: the config's eval section); options given beside it win. */
  preset?: EvalPresetName;
  /** Output folder (default <run>/eval). */
  out?: string;
  /** Samples per sampler call (default 250 for images, 2000 for toy data). */
  batch?: number;
}

export interface EvalRow {
  w: number;
  model: ModelName;
  unit: string;
  sampler: 'ddim' | 'stochastic';
  steps: number;
  nfe: number;
  msPerSample: number;
  /** Images: classifier-FID against the held-out split (lower is better). */
  fid: number | null;
  /** Images: the classifier's accuracy on the requested class. */
  accuracy: number | null;
  /** Mean within-class trace of the feature covariance (images) or of the points (toy); compare with real.diversity. */
  diversity: number;
  /**
   * Diversity-sensitive k-NN measures against the held-out split's half A, within each class, averaged over classes
   * (in the judge's features for images, in the points for toy data): precision and recall (Kynkäänniemi et al.,
   * k = 3), density and coverage (Naeem et al., k = 5). Absent from reports written before they existed.
   */
  precision?: number;
  recall?: number;
  density?: number;
  coverage?: number;
  /** Images: mean within-class variance of the pixels; compare with real.pixelDiversity. */
  pixelDiversity?: number | null;
  /** Toy: class-conditional sliced Wasserstein distance to the held-out split. */
  swdReal: number | null;
  /** Toy: class-conditional sliced Wasserstein distance to the reference teacher's samples at the same w. */
  swdTeacher: number | null;
  /**
   * Runs with an exact teacher (teacher.kind "exact"): mean squared error per dimension between this row's samples and
   * the exact teacher's at EXACT_REFERENCE_STEPS DDIM steps from the same initial noise. Absent otherwise.
   */
  mseToExact?: number;
  /**
   * Runs with an exact teacher: the distribution distance between this row's samples and a second, independent set of
   * the exact teacher's samples (seed `exact.floorSeed`, the same classes): classifier-FID for images, class-conditional
   * SWD for 2-D data. A perfect model scores the floor (`exact.floor`: the exact samples' own distance to that set).
   */
  distToExact?: number;
}

/** A set of the exact teacher's samples, and their judge features for images. */
interface ExactSet {
  x: Float32Array;
  /** Images: the judge's features of the samples, fitted as the reference of each row's FID to exact. */
  gaussian?: FittedGaussian;
}

/** The exact teacher's DDIM steps for the reference of mseToExact (its samples have converged by then). */
export { EXACT_REFERENCE_STEPS };

export interface EvalReport {
  format: 'diffusion-distiller-eval/1';
  run: string;
  createdAt: string;
  backend: string;
  dataset: {
    kind: 'image' | 'toy';
    source: string;
    shape: number[];
    numClasses: number;
    classNames: string[];
    train: number;
    heldOut: number;
  };
  samples: number;
  perClass: number;
  seed: number;
  w: number[];
  classifier: {
    heldOutAccuracy: number;
    trainSteps: number;
    cached: boolean;
    file: string;
    kind: 'cnn' | 'mlp';
  } | null;
  reference: { unit: string; steps: number; nfe: number };
  /**
   * Real held-out data: half vs half (FID, SWD, and the k-NN measures of half B against half A), the judge's accuracy,
   * and within-class diversity: the values a perfect model would get.
   */
  real: {
    fidHalves: number | null;
    accuracy: number | null;
    diversity: number;
    swdHalves: number | null;
    precision?: number;
    recall?: number;
    density?: number;
    coverage?: number;
    pixelDiversity?: number | null;
  };
  /** The feature space of FID and the k-NN measures, and the k-NN settings (absent in older reports). */
  features?: {
    space: string;
    dim: number;
    kPrecisionRecall: number;
    kDensityCoverage: number;
    manifoldReference: string;
  };
  checkpoints: Record<string, { file: string; step: number; final: boolean }>;
  rows: EvalRow[];
  notes: string[];
  files: string[];
  /** Latent-space runs: cost per sample and per training step against the same network in pixel space. */
  latent?: LatentCost;
  /** Latent-space runs: the run's teacher batch (the cost comparison caps its training-step batch). */
  latentTeacherBatch?: number;
  /**
   * Runs with an exact teacher: the reference's step count and, per w, the distance between two independent sets of
   * the exact teacher's samples (seeds `seed` and `floorSeed`): SWD for 2-D data, classifier-FID for images — the
   * value a perfect model would get, as the real half-vs-half values are for the held-out data.
   */
  exact?: {
    referenceSteps: number;
    floorSeed: number;
    floor: { w: number; swd: number | null; fid: number | null }[];
    /**
     * Whose samples are exact: "teacher", the run's own (exact) teacher, its reference row; "data", the exact teacher
     * of the data's mixture beside a trained teacher (not a row; the teacher's rows then show its own error). Absent
     * in older reports: "teacher".
     */
    source?: 'teacher' | 'data';
  };
  /**
   * Quality vs NFE at one w (paretoW: the report's w nearest 2, the smaller on a tie): every DDIM row (teacher 2 NFE
   * per step, the guided and few-step students 1) as a point { model, steps, nfe, value } of `measure` against NFE,
   * and the Pareto front of those points. Absent in older reports.
   */
  pareto?: ParetoSet;
  /** The same at every w of the report, in its order (the quality-vs-NFE plot has a panel each). */
  paretoByW?: ParetoSet[];
  /** Per few-step student: the cumulative stage-2 training FLOPs (and seconds) to reach it. Absent in older reports. */
  trainingCost?: TrainingCost[];
}

/** The row field the report's main distance is: mseToExact where the exact teacher is known, else FID or SWD. */
function mainMeasure(rep: Pick<EvalReport, 'exact' | 'dataset'>): 'mseToExact' | 'fid' | 'swdReal' {
  return rep.exact ? 'mseToExact' : rep.dataset.kind === 'image' ? 'fid' : 'swdReal';
}

export class EvaluationCancelled extends Error {
  constructor() {
    super('evaluation cancelled; no report written');
  }
}

function evenLabels(n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i % k);
}

/** The judge: for images a classifier trained on the real training split (cached), and the real held-out reference. */
async function buildJudge(
  runDir: string,
  cfg: ResolvedConfig,
  train: Dataset,
  test: Dataset,
  perClass: number,
  log: (line: string) => void,
  check: () => void,
): Promise<{ clf?: Classifier; clfInfo: EvalReport['classifier']; ref: RealReference; real: EvalReport['real'] }> {
  const D = train.shape.reduce((a, b) => a * b, 1);
  let clf: Classifier | undefined;
  let clfInfo: EvalReport['classifier'] = null;
  let ref: RealReference;
  let realSwd: number | null = null;
  try {
    if (train.kind === 'image') {
      const file = path.join(runDir, FILES.eval, 'classifier.ckpt');
      const hit = Classifier.load(file, D, train.numClasses, train.shape);
      if (!hit)
        log(
          `classifier: training on ${train.n} real training examples (${cfg.eval.classifierSteps} steps; cached in ${path.relative(runDir, file)})`,
        );
      const r = hit ?? (await loadOrTrainClassifier(runDir, cfg, train, test, log, check));
      clf = r.clf;
      const reused = !!hit;
      clfInfo = {
        heldOutAccuracy: r.accuracy,
        trainSteps: cfg.eval.classifierSteps,
        cached: reused,
        file: path.relative(runDir, file),
        kind: clf.imageShape ? 'cnn' : 'mlp',
      };
      log(`classifier: ${(r.accuracy * 100).toFixed(1)} % held-out accuracy${reused ? ' (cached)' : ''}`);
      const { pred, feats } = await clf.run(test.x);
      let ok = 0;
      for (let i = 0; i < test.n; i++) if (pred[i] === test.labels[i]) ok++;
      ref = new RealReference(feats, test.labels, clf.featureDim, {
        pixels: test.x,
        pixelDim: D,
        withFid: true,
        accuracy: ok / test.n,
        perClass,
      });
    } else {
      ref = new RealReference(test.x, test.labels, D, { withFid: false, perClass });
      realSwd = classConditionalSwd(ref.halfA.x, ref.halfA.labels, ref.halfB.x, ref.halfB.labels, D, {
        seed: cfg.seed,
      });
    }
  } catch (e) {
    clf?.dispose();
    throw e;
  }
  const fl = ref.floor;
  const real: EvalReport['real'] = {
    fidHalves: fl.fid,
    accuracy: fl.accuracy,
    diversity: fl.diversity,
    swdHalves: realSwd,
    precision: fl.precision,
    recall: fl.recall,
    density: fl.density,
    coverage: fl.coverage,
    pixelDiversity: fl.pixelDiversity,
  };
  return { clf, clfInfo, ref, real };
}

/** Writes the plots, then the markdown, then (last, so a report.json means a complete evaluation) the JSON. */
function writeReport(outDir: string, report: EvalReport): string[] {
  const pngs = reportPlots(report);
  fs.mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const [name, png] of pngs) {
    writeFileAtomic(path.join(outDir, name), png);
    files.push(path.join(outDir, name));
  }
  report.files = [...pngs.keys(), 'report.md', 'report.json'];
  writeFileAtomic(path.join(outDir, 'report.md'), reportMarkdown(report));
  files.push(path.join(outDir, 'report.md'));
  writeFileAtomic(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  files.push(path.join(outDir, 'report.json'));
  return files;
}

/** Runs `distill eval` (see the file header). Returns the report and the files written. */
export async function evaluateRun(
  opts: EvaluateOptions,
): Promise<{ report: string; files: string[]; summary: string; data: EvalReport }> {
  const runDir = path.resolve(opts.runDir);
  const cfg = loadRunConfig(runDir);
  const log = opts.onLog ?? (() => {});
  const outDir = path.resolve(opts.out ?? path.join(runDir, FILES.eval));
  resolveSettings(opts, cfg); // the explicit options are checked before anything loads
  const cancelled = () => opts.signal?.aborted === true;
  const check = () => {
    if (cancelled()) throw new EvaluationCancelled();
  };

  const info = await ensureBackend(opts.backend ?? cfg.backend, opts.threads ?? cfg.threads, opts.wasmDir);
  const train = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
  const test = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
  const K = train.numClasses;
  const given = Object.fromEntries(
    Object.entries({
      w: opts.w,
      samples: opts.samples,
      teacherSteps: opts.teacherSteps,
      studentSteps: opts.studentSteps,
      seed: opts.seed,
    }).filter(([, v]) => v !== undefined),
  );
  const { ws, teacherSteps, studentSteps, requested, seed } = resolveSettings(
    opts.preset ? { ...evaluationPreset(opts.preset, cfg, K), ...given } : opts,
    cfg,
  );
  const perClass = samplesPerClass(requested, K);
  const n = perClass * K;
  const labels = evenLabels(n, K);
  const isImage = train.kind === 'image';
  const D = train.shape.reduce((a, b) => a * b, 1);
  const batch = Math.max(1, opts.batch ?? (isImage ? 250 : 2000));
  for (const w of ws) {
    if (w < cfg.guidance.wMin || w > cfg.guidance.wMax)
      log(`note: w = ${w} lies outside the students' training range [${cfg.guidance.wMin}, ${cfg.guidance.wMax}]`);
  }
  const plan = planEvaluation(runDir, cfg, { teacherSteps, studentSteps });
  for (const note of plan.notes) log(`note: ${note}`);
  const exactPlan = plan.exact;
  // the second set of exact samples for the floor: seeds far from the report's (seed + batch index)
  const exactFloorSeed = seed + 1_000_003;
  const exactWork = exactPlan ? (exactPlan.fromData ? 2 : 1) * exactPlan.reference.nfe * n : 0;
  const totalWork = ws.length * (plan.configs.reduce((s, c) => s + c.nfe * n, 0) + exactWork);
  let doneWork = 0;
  opts.onProgress?.(0, totalWork);
  check();

  let clf: Classifier | undefined;
  const nets = new Map<string, Denoiser>();
  try {
    const judge = await buildJudge(runDir, cfg, train, test, perClass, log, check);
    clf = judge.clf;
    const { ref } = judge;
    check();
    const stageOf = new Map<string, StageName>(plan.configs.map((c) => [c.unit, c.model]));
    for (const [unit, ck] of Object.entries(plan.checkpoints))
      nets.set(unit, await loadDenoiser(runDir, cfg, ck.file, stageOf.get(unit) ?? (unit as StageName)));
    if (exactPlan?.fromData) {
      if (!train.mixture)
        throw new Error(`data.kind "mixture": ${train.source} carries no mixture to build the exact teacher from`);
      const param = cfg.model.parameterization;
      nets.set(DATA_EXACT_UNIT, {
        net: exactTeacherNet(train.mixture, param, cfg.model.kind),
        param,
        schedule: cfg.diffusion,
      });
    }

    /** n samples of one configuration at one w, in batches; the same seeds for every model. */
    const generate = async (c: Config, w: number, baseSeed = seed): Promise<{ x: Float32Array; ms: number }> => {
      const d = nets.get(c.unit)!;
      const x = new Float32Array(n * D);
      let ms = 0;
      for (let s = 0, chunk = 0; s < n; s += batch, chunk++) {
        check();
        const e = Math.min(n, s + batch);
        const before = doneWork;
        const t0 = performance.now();
        const r = await sample(d, {
          classes: labels.slice(s, e),
          w: new Float32Array(e - s).fill(w),
          steps: c.steps,
          sampler: c.sampler,
          seed: baseSeed + chunk,
          cancelled,
          onStep: (done) => {
            doneWork = before + done * (c.nfe / c.steps) * (e - s);
            opts.onProgress?.(doneWork, totalWork);
          },
        });
        ms += performance.now() - t0;
        x.set(r.x, s * D);
      }
      return { x, ms };
    };

    /** One report row: the configuration's samples scored by the judge (and, for toy data, by SWD). */
    const score = async (
      c: Config,
      w: number,
      x: Float32Array,
      ms: number,
      refX: Float32Array | undefined,
      exactSet: ExactSet | undefined,
    ): Promise<EvalRow> => {
      const row: EvalRow = {
        w,
        model: c.model,
        unit: c.unit,
        sampler: c.sampler,
        steps: c.steps,
        nfe: c.nfe,
        msPerSample: ms / n,
        fid: null,
        accuracy: null,
        diversity: NaN,
        swdReal: null,
        swdTeacher: null,
      };
      let sc: SampleScores;
      if (isImage) {
        for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
        const { pred, feats } = await clf!.run(x);
        sc = ref.score(feats, labels, { pred, pixels: x });
        if (exactSet) row.distToExact = frechetDistance(feats, exactSet.gaussian!, clf!.featureDim);
      } else {
        sc = ref.score(x, labels);
        row.swdReal = classConditionalSwd(x, labels, test.x, test.labels, D, { seed: cfg.seed });
        row.swdTeacher = classConditionalSwd(x, labels, refX!, labels, D, { seed: cfg.seed });
        if (exactSet) row.distToExact = classConditionalSwd(x, labels, exactSet.x, labels, D, { seed: cfg.seed });
      }
      return Object.assign(row, {
        fid: sc.fid,
        accuracy: sc.accuracy,
        diversity: sc.diversity,
        precision: sc.precision,
        recall: sc.recall,
        density: sc.density,
        coverage: sc.coverage,
        pixelDiversity: sc.pixelDiversity,
      });
    };

    /**
     * The exact teacher's samples from seeds other than the report's (the same classes): what every row's distance to
     * exact (distToExact) is measured against; clipped like the rows' image samples.
     */
    const exactSetAt = async (w: number): Promise<ExactSet> => {
      const { x } = await generate(exactPlan!.reference, w, exactFloorSeed);
      if (!isImage) return { x };
      for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
      return { x, gaussian: fitGaussian((await clf!.run(x)).feats, clf!.featureDim) };
    };

    const rows: EvalRow[] = [];
    const exactFloor: NonNullable<EvalReport['exact']>['floor'] = [];
    for (const w of ws) {
      let refX: Float32Array | undefined;
      const exactSet = exactPlan ? await exactSetAt(w) : undefined;
      // the exact samples mseToExact is measured against (from the report's noise): the data's exact teacher's, drawn
      // first (clipped like the rows' image samples), or the run's exact teacher's reference row
      let exactX: Float32Array | undefined;
      let floor: number | undefined;
      if (exactPlan?.fromData && exactSet) {
        exactX = (await generate(exactPlan.reference, w)).x;
        if (isImage) for (let i = 0; i < exactX.length; i++) exactX[i] = Math.min(1, Math.max(-1, exactX[i]));
        floor = isImage
          ? frechetDistance((await clf!.run(exactX)).feats, exactSet.gaussian!, clf!.featureDim)
          : classConditionalSwd(exactX, labels, exactSet.x, labels, D, { seed: cfg.seed });
      }
      for (const c of plan.configs) {
        const { x, ms } = await generate(c, w);
        if (c === plan.reference) refX = x;
        if (c === exactPlan?.reference) exactX = x;
        const row = await score(c, w, x, ms, refX, exactSet);
        // after scoring: image samples (the reference's too) are clipped to [-1, 1] by then
        if (exactX) row.mseToExact = meanSquaredError(x, exactX);
        if (c === exactPlan?.reference) floor = row.distToExact;
        rows.push(row);
        log(`w=${w} ${c.unit} ${c.sampler} ${c.steps} step(s): ${describeRow(row)}`);
      }
      if (exactPlan && floor !== undefined) {
        exactFloor.push({ w, swd: isImage ? null : floor, fid: isImage ? floor : null });
        log(`w=${w} exact teacher vs itself (another seed): ${isImage ? 'FID' : 'SWD'} ${f3(floor)}`);
      }
    }
    check();
    const codec = [...nets.values()][0]?.codec;
    const latent = codec ? await latentCost(cfg, codec, K, plan, log) : undefined;
    const trainingCost = costOfStudents(runDir, cfg, nets);

    const report: EvalReport = {
      format: 'diffusion-distiller-eval/1',
      run: path.basename(runDir),
      createdAt: new Date().toISOString(),
      backend: backendLabel(info),
      dataset: {
        kind: train.kind,
        source: train.source,
        shape: train.shape,
        numClasses: K,
        classNames: train.classNames,
        train: train.n,
        heldOut: test.n,
      },
      samples: n,
      perClass,
      seed,
      w: ws,
      classifier: judge.clfInfo,
      reference: { unit: plan.reference.unit, steps: plan.reference.steps, nfe: plan.reference.nfe },
      real: judge.real,
      features: {
        space: isImage ? clf!.featureSpace : 'the 2-D points themselves',
        dim: ref.dim,
        kPrecisionRecall: K_PR,
        kDensityCoverage: K_DC,
        manifoldReference: `held-out half A (${ref.halfA.labels.length} rows, class-balanced); real values: up to ${ref.floorPerClass} rows per class of half B (as many as the samples have) against half A`,
      },
      checkpoints: Object.fromEntries(
        Object.entries(plan.checkpoints).map(([u, c]) => [u, { ...c, file: path.relative(runDir, c.file) }]),
      ),
      rows,
      notes: plan.notes,
      files: [],
      ...(latent ? { latent, latentTeacherBatch: cfg.teacher.batch } : {}),
      ...(exactPlan
        ? {
            exact: {
              referenceSteps: exactPlan.reference.steps,
              floorSeed: exactFloorSeed,
              floor: exactFloor,
              source: exactPlan.fromData ? ('data' as const) : ('teacher' as const),
            },
          }
        : {}),
      ...(trainingCost.length ? { trainingCost } : {}),
    };
    const measure = mainMeasure(report);
    report.paretoByW = paretoByW(rows, ws, measure, (r) => r[measure]);
    report.pareto = report.paretoByW[ws.indexOf(paretoW(ws))];
    const files = writeReport(outDir, report);
    opts.onProgress?.(totalWork, totalWork);
    const summary = headline(report) ?? `evaluated ${report.run}: ${rows.length} rows`;
    log(summary);
    return { report: path.join(outDir, 'report.md'), files, summary, data: report };
  } catch (e) {
    if (e instanceof SamplingCancelled) throw new EvaluationCancelled();
    throw e;
  } finally {
    for (const d of nets.values()) disposeDenoiser(d);
    clf?.dispose();
  }
}

/**
 * The training cost of every few-step student the config lists: FLOPs from the students' network (any loaded
 * student's, or the run's model event), seconds from events.jsonl. Empty when neither gives FLOPs per example.
 */
function costOfStudents(runDir: string, cfg: ResolvedConfig, nets: Map<string, Denoiser>): TrainingCost[] {
  const { events } = readEvents(runDir);
  const student = [...nets.entries()].find(([u]) => u !== 'teacher' && u !== DATA_EXACT_UNIT)?.[1];
  const model = events.find((e) => e.type === 'model');
  const flops = student?.net.flopsPerExample ?? (model?.type === 'model' ? model.flopsPerExample : undefined);
  return flops ? studentTrainingCost(cfg, events, flops) : [];
}

/** Latent-space runs: the cost of the DDIM configurations against the same networks in pixel space. */
async function latentCost(
  cfg: ResolvedConfig,
  codec: NonNullable<Denoiser['codec']>,
  numClasses: number,
  plan: ReturnType<typeof planEvaluation>,
  log: (line: string) => void,
): Promise<LatentCost> {
  const ddim = plan.configs.filter((c) => c.sampler === 'ddim' && (c === plan.reference || c.model !== 'guided'));
  const label = (c: Config) =>
    `${c.model === 'teacher' ? 'guided teacher' : c.model === 'guided' ? 'guided student' : cfg.methods.length > 1 ? `${c.model} student` : 'student'} ${c.steps} step${c.steps === 1 ? '' : 's'}`;
  const latent = await measureLatentCost(
    cfg,
    codec,
    numClasses,
    ddim.map((c) => ({ label: label(c), nfe: c.nfe })),
  );
  log(
    `latent space: one network evaluation ${(latent.flops.pixelNfe / latent.flops.latentNfe).toFixed(1)}× fewer FLOPs than in pixel space (${latent.ms.latentNfe.toFixed(3)} vs ${latent.ms.pixelNfe.toFixed(3)} ms per example)`,
  );
  return latent;
}

// ───────────────────────────── report text ─────────────────────────────
/** A measure as printed in reports: 4 decimals below 1, 2 below 100, else 1; "–" when there is none. */
export const f3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '–'
    : Math.abs(v) >= 100
      ? v.toFixed(1)
      : Math.abs(v) >= 1
        ? v.toFixed(2)
        : v.toFixed(4);
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);
/** A value as a ratio to the real data's (diversity): "0.82" ; "–" when either is missing. */
const ratioToReal = (v: number | null | undefined, real: number | null | undefined) =>
  v === null || v === undefined || real === null || real === undefined || !Number.isFinite(v) || !(real > 0)
    ? '–'
    : (v / real).toFixed(2);
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

function describeRow(r: EvalRow): string {
  const q =
    r.fid !== null
      ? `FID ${f3(r.fid)}, accuracy ${pct(r.accuracy)}`
      : `SWD→real ${f3(r.swdReal)}, SWD→teacher ${f3(r.swdTeacher)}`;
  const pr =
    r.recall !== undefined
      ? `, precision ${r.precision!.toFixed(3)}, recall ${r.recall.toFixed(3)}, coverage ${r.coverage!.toFixed(3)}`
      : '';
  const ex = r.mseToExact !== undefined ? `, MSE to exact ${f3(r.mseToExact)}` : '';
  return `${q}${ex}${pr}, diversity ${f3(r.diversity)}, ${r.nfe} NFE, ${ms(r.msPerSample)} ms/sample`;
}

/**
 * One line: per method, its 4-step student (or its fewest-step one) vs the reference teacher at each w, naming the
 * method, steps and NFE: "run: vs the 256-step teacher (512 NFE) — progressive 4 steps (4 NFE): w=0 FID 12.1 vs 10.3".
 */
function headline(rep: EvalReport): string | undefined {
  const img = rep.dataset.kind === 'image';
  const students = rep.rows.filter((r) => r.model !== 'teacher' && r.model !== 'guided' && r.sampler === 'ddim');
  if (!students.length) return undefined;
  const parts: string[] = [];
  for (const method of methodsOf(rep)) {
    const own = students.filter((r) => r.model === method);
    const steps = own.some((r) => r.steps === 4) ? 4 : Math.min(...own.map((r) => r.steps));
    const per: string[] = [];
    let nfe = steps;
    for (const w of rep.w) {
      const s = own.find((r) => r.w === w && r.steps === steps);
      const t = rep.rows.find((r) => r.w === w && r.model === 'teacher' && r.steps === rep.reference.steps);
      if (!s || !t) continue;
      nfe = s.nfe;
      const recall =
        s.recall !== undefined && t.recall !== undefined
          ? `, recall ${s.recall.toFixed(2)} vs ${t.recall.toFixed(2)}`
          : '';
      const exact = s.mseToExact !== undefined ? `, MSE to exact ${f3(s.mseToExact)}` : '';
      per.push(
        (img ? `w=${w}: FID ${f3(s.fid)} vs ${f3(t.fid)}` : `w=${w}: SWD ${f3(s.swdReal)} vs ${f3(t.swdReal)}`) +
          recall +
          exact,
      );
    }
    if (per.length) parts.push(`${method} ${steps} step${steps === 1 ? '' : 's'} (${nfe} NFE): ${per.join('; ')}`);
  }
  return `${rep.run}: students vs the ${rep.reference.steps}-step teacher (${rep.reference.nfe} NFE) — ${parts.join(' | ')}`;
}

/** How a row's model is named in the tables: "teacher", "guided student", "consistency student (consistency-2)". */
function rowName(r: EvalRow, rep: Pick<EvalReport, 'exact'>): string {
  if (r.model === 'teacher')
    return rep.exact
      ? (rep.exact.source ?? 'teacher') === 'teacher'
        ? 'exact teacher'
        : 'trained teacher'
      : 'teacher';
  if (r.model === 'guided') return 'guided student';
  return `${r.model} student (${r.unit})`;
}

/** The few-step students' methods in the order the rows list them (older reports: progressive only). */
function methodsOf(rep: EvalReport): string[] {
  return [...new Set(rep.rows.filter((r) => r.model !== 'teacher' && r.model !== 'guided').map((r) => r.model))];
}

/**
 * Which method, how many steps, how far from the reference: a row per w, method and step count (DDIM), with the main
 * distance and its ratio to the reference teacher's, the teacher's own DDIM at that step count, accuracy (images),
 * recall, diversity, the distance to exact where there is one, and the speed-up.
 */
function studentsMarkdown(rep: EvalReport, img: boolean, pr: (v: number | undefined | null) => string): string[] {
  const students = rep.rows.filter((r) => r.model !== 'teacher' && r.model !== 'guided' && r.sampler === 'ddim');
  if (!students.length) return [];
  const q = img ? 'FID' : 'SWD→real';
  const get = (r: EvalRow | undefined) => (r ? (img ? r.fid : r.swdReal) : null);
  const hasPr = rep.rows.some((r) => r.recall !== undefined);
  const hasExact = students.some((r) => r.mseToExact !== undefined);
  const ref = rep.reference.steps;
  const L = ['', `## Distilled students vs the ${ref}-step teacher (DDIM samplers)`, ''];
  L.push(
    `Per w, method and step count: the student's ${q} and its ratio to the ${ref}-step teacher's (1.00× = as good), beside the teacher's own DDIM at the student's step count.`,
    '',
  );
  const head = [
    'w',
    'method',
    'steps',
    'NFE',
    `${q} ↓ (÷ teacher ${ref})`,
    `teacher ${ref} ${q}`,
    `teacher same steps ${q}`,
  ];
  if (img) head.push('accuracy', `accuracy: teacher ${ref}`);
  if (hasPr) head.push('recall', `recall: teacher ${ref}`);
  head.push('diversity ÷ real');
  if (hasExact) head.push('MSE to exact ↓');
  head.push('speed-up');
  L.push(
    `| ${head.join(' | ')} |`,
    `| ---: | --- | ${head
      .slice(2)
      .map(() => '---:')
      .join(' | ')} |`,
  );
  const methods = methodsOf(rep);
  for (const w of rep.w) {
    const t = rep.rows.find((r) => r.w === w && r.model === 'teacher' && r.steps === ref);
    const at = students
      .filter((r) => r.w === w)
      .sort((a, b) => methods.indexOf(a.model) - methods.indexOf(b.model) || b.steps - a.steps);
    for (const st of at) {
      const tf = rep.rows.find((r) => r.w === w && r.model === 'teacher' && r.steps === st.steps);
      const ratio = get(st) !== null && get(t) !== null && get(t)! > 0 ? ` (${(get(st)! / get(t)!).toFixed(2)}×)` : '';
      const cells = [String(w), st.model, String(st.steps), String(st.nfe), `**${f3(get(st))}**${ratio}`];
      cells.push(f3(get(t)), f3(get(tf)));
      if (img) cells.push(pct(st.accuracy), pct(t?.accuracy ?? null));
      if (hasPr) cells.push(pr(st.recall), pr(t?.recall));
      cells.push(ratioToReal(st.diversity, rep.real.diversity));
      if (hasExact) cells.push(f3(st.mseToExact ?? null));
      const speedUp = t ? t.msPerSample / st.msPerSample : NaN;
      cells.push(t ? `${speedUp.toFixed(speedUp >= 10 ? 0 : 1)}× (${t.nfe / st.nfe}× fewer NFE)` : '–');
      L.push(`| ${cells.join(' | ')} |`);
    }
  }
  return L;
}

/** The training cost per method: cumulative stage-2 FLOPs (and seconds) per student, and which method is cheaper. */
function trainingCostMarkdown(cost: TrainingCost[]): string[] {
  const L = ['', '## Training cost per method', ''];
  L.push(
    "Cumulative stage-2 training to reach each student: every unit of its method up to its own (progressive halvings from the first phase down; consistency students from the largest step count down). FLOPs = steps × batch × network passes per example × the network's forward FLOPs; seconds from the run's events where its units finished.",
    '',
    '| method | steps | unit | training FLOPs | seconds |',
    '| --- | ---: | --- | ---: | ---: |',
  );
  for (const c of cost)
    L.push(
      `| ${c.method} | ${c.steps} | ${c.unit} | ${c.flops.toExponential(2)} | ${c.seconds === undefined ? '–' : c.seconds.toFixed(1)} |`,
    );
  const cheaper = cheaperMethod(cost);
  if (cheaper.length)
    L.push('', 'Fewer training FLOPs to reach the same step count:', '', ...cheaper.map((c) => `- ${c.line}`));
  return L;
}

const MEASURE_NAME: Record<string, string> = {
  fid: 'classifier-FID',
  swdReal: 'SWD to held-out data',
  mseToExact: 'MSE to exact',
};

/** The Pareto front of each w: the configurations no other beats on both NFE and the main distance. */
function paretoMarkdown(sets: ParetoSet[]): string[] {
  const name = (p: ParetoSet['points'][number]) =>
    `${p.model === 'teacher' ? 'teacher' : `${p.model} student`} ${p.steps} step${p.steps === 1 ? '' : 's'}`;
  const L = ['', `## Quality vs NFE: the Pareto front (${MEASURE_NAME[sets[0].measure] ?? sets[0].measure}, DDIM)`, ''];
  L.push(
    'Per w, the configurations that no other beats on both cost (NFE per sample) and distance; every other configuration is dominated: another needs no more NFE and is at least as close. The quality-vs-NFE plot marks the front.',
    '',
    '| w | on the front (NFE: distance) | dominated |',
    '| ---: | --- | ---: |',
  );
  for (const s of sets)
    L.push(
      `| ${s.w} | ${s.front.map((p) => `${name(p)} (${p.nfe}: ${f3(p.value)})`).join('; ')} | ${s.points.length - s.front.length} of ${s.points.length} |`,
    );
  return L;
}

/**
 * The distance-to-exact table: per w, each DDIM row's MSE to exact (same noise) and its distribution distance to an
 * independent set of exact samples, beside the floor (the exact samples' own distance to that set) and its ratio to it.
 */
function exactMarkdown(rep: EvalReport, img: boolean): string[] {
  const ex = rep.exact!;
  const L: string[] = ['', `## Distance to the exact teacher (${ex.referenceSteps} DDIM steps)`, ''];
  if (ex.source === 'data')
    L.push(
      "The teacher is trained; the exact teacher is the data's known mixture. The trained teacher's rows show its own error, the students' rows the error they inherit and add.",
      '',
    );
  const m = img ? 'FID' : 'SWD';
  L.push(
    `${m} to exact: ${img ? 'classifier-FID' : 'class-conditional SWD'} between a row's samples and a second set of exact samples from other noise (seed ${ex.floorSeed}); ` +
      `the floor is the exact samples' own ${m} to that set, what a perfect model scores with this many samples.`,
    '',
    `| w | model | steps | NFE | MSE to exact ↓ | ${m} to exact ↓ | floor | × floor ↓ |`,
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const w of rep.w) {
    const f = ex.floor.find((x) => x.w === w);
    const floor = f ? (img ? f.fid : f.swd) : null;
    for (const r of rep.rows.filter((x) => x.w === w && x.sampler === 'ddim' && x.mseToExact !== undefined)) {
      const d = r.distToExact ?? null;
      const ratio = d !== null && floor ? `${(d / floor).toFixed(2)}×` : '—';
      L.push(
        `| ${w} | ${rowName(r, rep)} | ${r.steps} | ${r.nfe} | ${f3(r.mseToExact!)} | ${f3(d)} | ${f3(floor)} | ${ratio} |`,
      );
    }
  }
  return L;
}

/** report.md of a report (older reports, without Pareto front or training cost, render without those sections). */
export function reportMarkdown(rep: EvalReport): string {
  const img = rep.dataset.kind === 'image';
  const L: string[] = [];
  L.push(`# Evaluation of \`${rep.run}\``, '');
  L.push(
    `- data: ${rep.dataset.source}; ${rep.dataset.numClasses} classes; held-out split: ${rep.dataset.heldOut} examples`,
  );
  L.push(
    `- ${rep.samples} samples per configuration (${rep.perClass} per class), the same seeds (${rep.seed} + batch index) and so the same initial noise for every model`,
  );
  L.push(`- backend: ${rep.backend}; ${rep.createdAt}`);
  L.push(
    `- w: guidance weight, x̂ = (1 + w)·x̂(c) − w·x̂(∅); NFE: network evaluations per sample (the guided teacher needs 2 per step)`,
  );
  if (img && rep.classifier) {
    L.push(
      `- judge: ${rep.classifier.kind === 'cnn' ? 'a CNN' : 'an MLP'} classifier trained on the real training split (${rep.classifier.trainSteps} steps${rep.classifier.cached ? ', cached' : ''}, \`${rep.classifier.file}\`): **${pct(rep.classifier.heldOutAccuracy)} held-out accuracy**`,
    );
    L.push(
      `- feature space of FID and the k-NN measures: ${rep.features?.space ?? "the classifier's penultimate features"}${rep.features ? ` (${rep.features.dim}-d)` : ''}`,
    );
    L.push(
      `- classifier-FID: Fréchet distance between Gaussians fitted to the features of the samples and of the whole held-out split`,
    );
  } else {
    L.push(
      "- SWD→real: class-conditional sliced Wasserstein distance to the held-out split; SWD→teacher: to the reference teacher's samples at the same w and seeds",
    );
  }
  if (rep.features) {
    L.push(
      `- diversity-sensitive measures, within each class and averaged over classes, against ${rep.features.manifoldReference}: ` +
        `**precision** (share of samples inside the real data's k-NN manifold, k = ${rep.features.kPrecisionRecall}: fidelity) and **recall** (share of real points inside the samples' manifold: how much of the data's variety is produced; Kynkäänniemi et al. 2019), ` +
        `density and **coverage** (share of real points whose ${rep.features.kDensityCoverage}-NN ball holds a sample; Naeem et al. 2020). A model that drops modes keeps its precision and accuracy but loses recall and coverage`,
    );
  }
  L.push(
    `- diversity: mean within-class variance of the ${img ? 'features' : 'points'}, shown as a ratio to the real held-out data's (1 = as varied as real data, below 1 = samples more alike than real ones)${img ? '; pixel diversity: the same in pixel space' : ''}`,
  );
  L.push(
    `- reference: the guided ${rep.exact && rep.exact.source !== 'data' ? 'exact ' : ''}teacher at ${rep.reference.steps} DDIM steps (${rep.reference.nfe} NFE)`,
  );
  if (rep.exact) {
    L.push(
      `- ${rep.exact.source === 'data' ? "the data's mixture is known, so its exact teacher is too (the run's teacher is trained)" : "the teacher is exact (the data's mixture is known)"}: **MSE to exact** is the mean squared error per dimension between a row's samples and the exact teacher's at ${rep.exact.referenceSteps} DDIM steps from the same initial noise (0 = the exact samples themselves); ` +
        `its floor is the distance between two independent sets of exact samples (seeds ${rep.seed} and ${rep.exact.floorSeed})`,
    );
  }
  for (const note of rep.notes) L.push(`- note: ${note}`);
  L.push('', '## Real data (floor of the metrics)', '');
  const pr = (v: number | undefined | null) =>
    v === undefined || v === null || !Number.isFinite(v) ? '–' : v.toFixed(3);
  const realPr =
    rep.real.recall !== undefined
      ? [pr(rep.real.precision), pr(rep.real.recall), pr(rep.real.density), pr(rep.real.coverage)]
      : null;
  if (img) {
    L.push(
      `| held-out half vs half: classifier-FID | classifier accuracy on held-out data |${realPr ? ' precision | recall | density | coverage |' : ''} diversity | pixel diversity |`,
      `| ---: | ---: |${realPr ? ' ---: | ---: | ---: | ---: |' : ''} ---: | ---: |`,
    );
    L.push(
      `| ${f3(rep.real.fidHalves)} | ${pct(rep.real.accuracy)} |${realPr ? ` ${realPr.join(' | ')} |` : ''} ${f3(rep.real.diversity)} | ${f3(rep.real.pixelDiversity ?? null)} |`,
    );
  } else {
    L.push(
      `| held-out half vs half: SWD |${realPr ? ' precision | recall | density | coverage |' : ''} diversity |`,
      `| ---: |${realPr ? ' ---: | ---: | ---: | ---: |' : ''} ---: |`,
    );
    L.push(`| ${f3(rep.real.swdHalves)} |${realPr ? ` ${realPr.join(' | ')} |` : ''} ${f3(rep.real.diversity)} |`);
  }

  if (rep.exact) L.push(...exactMarkdown(rep, img));

  L.push(...studentsMarkdown(rep, img, pr));
  if (rep.trainingCost?.length) L.push(...trainingCostMarkdown(rep.trainingCost));
  if (rep.paretoByW?.length) L.push(...paretoMarkdown(rep.paretoByW));

  for (const w of rep.w) {
    L.push('', `## w = ${w}`, '');
    const hasPr = rep.rows.some((r) => r.w === w && r.recall !== undefined);
    const head = img
      ? ['model', 'sampler', 'steps', 'NFE', 'ms/sample', 'classifier-FID ↓', 'accuracy ↑']
      : ['model', 'sampler', 'steps', 'NFE', 'ms/sample', 'SWD→real ↓', 'SWD→teacher ↓'];
    const hasExact = rep.rows.some((r) => r.w === w && r.mseToExact !== undefined);
    if (hasExact) head.push('MSE to exact ↓');
    if (hasPr) head.push('precision ↑', 'recall ↑', 'density', 'coverage ↑');
    head.push('diversity ÷ real');
    if (img) head.push('pixel diversity ÷ real');
    L.push(
      `| ${head.join(' | ')} |`,
      `| --- | --- | ${head
        .slice(2)
        .map(() => '---:')
        .join(' | ')} |`,
    );
    for (const r of rep.rows.filter((x) => x.w === w)) {
      const name = rowName(r, rep);
      const cells = [
        name,
        r.sampler === 'ddim' ? 'DDIM' : 'stochastic',
        String(r.steps),
        String(r.nfe),
        ms(r.msPerSample),
      ];
      cells.push(...(img ? [f3(r.fid), pct(r.accuracy)] : [f3(r.swdReal), f3(r.swdTeacher)]));
      if (hasExact) cells.push(f3(r.mseToExact ?? null));
      if (hasPr) cells.push(pr(r.precision), pr(r.recall), pr(r.density), pr(r.coverage));
      cells.push(ratioToReal(r.diversity, rep.real.diversity));
      if (img) cells.push(ratioToReal(r.pixelDiversity, rep.real.pixelDiversity));
      L.push(`| ${cells.join(' | ')} |`);
    }
  }
  if (rep.latent)
    L.push(...latentCostMarkdown(rep.latent, rep.backend, rep.latentTeacherBatch ?? rep.latent.trainStep.batch));
  L.push('', '## Plots', '');
  for (const f of rep.files.filter((x) => x.endsWith('.png'))) L.push(`![${f}](${f})`, '');
  return L.join('\n') + '\n';
}

// ───────────────────────────── plots ─────────────────────────────
/** The report's plots as PNG bytes by file name (an older report's Pareto fronts are computed from its rows). */
export function reportPlots(rep: EvalReport): Map<string, Buffer> {
  const img = rep.dataset.kind === 'image';
  const quality = (r: EvalRow) => (img ? r.fid! : r.swdReal!);
  const qName = img ? 'CLASSIFIER-FID' : 'SWD TO HELD-OUT DATA';
  const colors = new Map<string, Rgb>();
  const color = (key: string) => {
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key)!;
  };
  const refLine = img
    ? { name: 'real half vs half', y: rep.real.fidHalves!, color: [90, 90, 90] as Rgb }
    : { name: 'real half vs half', y: rep.real.swdHalves!, color: [90, 90, 90] as Rgb };
  const out = new Map<string, Buffer>();

  // quality vs NFE, one panel per w: the DDIM rows of each model (the teacher, the guided student, each stage-2
  // method's students) as one curve, in the report's main distance, over the Pareto front of them all (black, dashed;
  // drawn first so the models on it stay visible)
  const measure = mainMeasure(rep);
  const sets = rep.paretoByW ?? paretoByW(rep.rows, rep.w, measure, (r) => r[measure]);
  const nfePanels: Panel[] = sets.map((set) => {
    const groups = new Map<string, { x: number; y: number }[]>();
    for (const p of set.points) {
      const k = p.model === 'teacher' ? 'teacher DDIM' : `${p.model === 'guided' ? 'guided' : p.model} student DDIM`;
      groups.set(k, [...(groups.get(k) ?? []), { x: p.nfe, y: p.value }]);
    }
    const series: Series[] = [...groups.entries()].map(([name, points]) => ({ name, color: color(name), points }));
    series.unshift({
      name: 'Pareto front',
      color: [0, 0, 0],
      dashed: true,
      points: set.front.map((p) => ({ x: p.nfe, y: p.value })),
    });
    return {
      title: `W = ${set.w}`,
      xLabel: 'NFE PER SAMPLE',
      yLabel: measure === 'mseToExact' ? 'MSE TO EXACT' : qName,
      logX: true,
      yFromZero: true,
      // a log axis once the values span more than a decade: a 1-step teacher's FID would flatten the students' curves
      logY: spansDecade(series.flatMap((s) => s.points.map((p) => p.y))),
      series,
      refLines: measure === 'mseToExact' ? [] : [refLine],
    };
  });
  out.set('quality-vs-nfe.png', plotPanels(nfePanels, { cols: Math.min(rep.w.length, 4) }));

  // quality (and accuracy) vs w, one panel per sampler; one series per (model, steps)
  const samplers = (['ddim', 'stochastic'] as const).filter((s) => rep.rows.some((r) => r.sampler === s));
  // one colour per student (method and step count): solid = distilled student, dashed = the teacher's own DDIM at
  // the step count (in the colour of the first student with that count); the reference teacher in black
  const isStudent = (r: EvalRow) => r.model !== 'teacher' && r.model !== 'guided';
  const methods = methodsOf(rep);
  const studentKeys = [...new Set(rep.rows.filter(isStudent).map((r) => `${r.model} ${r.steps}`))].sort((a, b) => {
    const [ma, sa] = a.split(' ');
    const [mb, sb] = b.split(' ');
    return methods.indexOf(ma) - methods.indexOf(mb) || Number(sa) - Number(sb);
  });
  const stepCounts = [...new Set(rep.rows.filter(isStudent).map((r) => r.steps))];
  const keyColor = (key: string) => PALETTE[studentKeys.indexOf(key) % PALETTE.length];
  const stepColor = (steps: number) => keyColor(studentKeys.find((k) => k.endsWith(` ${steps}`))!);
  const plural = methods.length > 1;
  const byConfig = (sampler: 'ddim' | 'stochastic', value: (r: EvalRow) => number): Series[] => {
    const groups = new Map<string, { color: Rgb; dashed: boolean; rows: EvalRow[] }>();
    const add = (name: string, color: Rgb, dashed: boolean, r: EvalRow) => {
      const g = groups.get(name) ?? { color, dashed, rows: [] };
      g.rows.push(r);
      groups.set(name, g);
    };
    for (const r of rep.rows) {
      if (r.model === 'teacher' && r.steps === rep.reference.steps)
        add(`teacher ${r.steps} steps (reference)`, [0, 0, 0], false, r);
      else if (r.model === 'teacher' && stepCounts.includes(r.steps) && sampler === 'ddim')
        add(`teacher ${r.steps} steps DDIM`, stepColor(r.steps), true, r);
      else if (isStudent(r) && r.sampler === sampler)
        add(
          `${plural ? r.model : 'student'} ${r.steps} step${r.steps === 1 ? '' : 's'} ${sampler === 'ddim' ? 'DDIM' : 'stoch.'}`,
          keyColor(`${r.model} ${r.steps}`),
          false,
          r,
        );
    }
    return [...groups.entries()].map(([name, g]) => ({
      name,
      color: g.color,
      dashed: g.dashed,
      points: g.rows.map((r) => ({ x: r.w, y: value(r) })),
    }));
  };
  if (rep.w.length >= 1) {
    out.set(
      'quality-vs-w.png',
      plotPanels(
        samplers.map((s) => ({
          title:
            s === 'ddim' ? 'DETERMINISTIC (DDIM): STUDENTS VS TEACHER' : 'STOCHASTIC STUDENTS VS REFERENCE TEACHER',
          xLabel: 'GUIDANCE W',
          yLabel: qName,
          yFromZero: true,
          series: byConfig(s, quality),
          refLines: [refLine],
        })),
      ),
    );
    if (img) {
      out.set(
        'accuracy-vs-w.png',
        plotPanels(
          samplers.map((s) => ({
            title:
              s === 'ddim' ? 'DETERMINISTIC (DDIM): STUDENTS VS TEACHER' : 'STOCHASTIC STUDENTS VS REFERENCE TEACHER',
            xLabel: 'GUIDANCE W',
            yLabel: 'CLASSIFIER ACCURACY',
            series: byConfig(s, (r) => r.accuracy!),
            refLines: [{ name: 'classifier on real held-out', y: rep.real.accuracy!, color: [90, 90, 90] }],
          })),
        ),
      );
    }
    if (rep.rows.some((r) => r.recall !== undefined)) {
      // precision (fidelity) and recall (diversity) side by side, so a model that trades one for the other shows it
      const realRecall = rep.real.recall ?? null;
      out.set(
        'recall-vs-w.png',
        plotPanels(
          samplers.flatMap((s) =>
            (['recall', 'precision'] as const).map((m) => ({
              title: `${m.toUpperCase()} (${s === 'ddim' ? 'DDIM' : 'STOCHASTIC'} STUDENTS)`,
              xLabel: 'GUIDANCE W',
              yLabel: m === 'recall' ? 'RECALL: REAL DATA COVERED' : 'PRECISION: SAMPLES ON THE DATA',
              series: byConfig(s, (r) => r[m] ?? NaN),
              refLines:
                realRecall === null
                  ? []
                  : [
                      {
                        name: 'real held-out',
                        y: (m === 'recall' ? rep.real.recall : rep.real.precision)!,
                        color: [90, 90, 90] as Rgb,
                      },
                    ],
            })),
          ),
          { cols: 2 },
        ),
      );
    }
  }
  return out;
}
