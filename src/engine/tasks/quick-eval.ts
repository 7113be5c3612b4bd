/**
 * The end-of-run comparison printed by `distill run` and stored as a `summary` event: the guided teacher with many
 * steps, the teacher's own plain DDIM with as few steps as the fewest-step student, and every finished few-step
 * student of every stage-2 method (model "student" when the run trains one method, else the method's name) — steps, NFE,
 * wall-clock per sample and a quality metric (classifier accuracy on the requested class for images; sliced
 * Wasserstein distance to held-out data for 2-D toy sets) beside two diversity measures (recall against held-out data
 * and within-class diversity ÷ real data's, eval/scores.ts) and, for images, classifier-FID (which sees both), at
 * w = 0 and w = 2, plus the real data's own values. The CLI prints the student's gap to the teacher from these rows.
 */
import * as path from 'path';
import { ResolvedConfig, students as studentList } from '../run/config';
import { readCheckpointHeader } from '../run/checkpoint';
import { Dataset, loadDataset } from '../data';
import { SummaryReal, SummaryRow } from '../run/events';
import { Classifier, trainClassifier } from '../eval/classifier';
import { classConditionalSwd } from '../eval/metrics';
import { RealReference } from '../eval/scores';
import { loadDenoiser } from './open-run';
import { listCheckpoints } from '../run/run-folder';
import { Denoiser, disposeDenoiser, sample, SamplingCancelled } from '../method/samplers';
import { StageName } from '../run/events';

export async function loadOrTrainClassifier(
  runDir: string,
  cfg: ResolvedConfig,
  train: Dataset,
  test: Dataset,
  log: (s: string) => void,
  check?: () => void,
): Promise<{ clf: Classifier; accuracy: number }> {
  const file = path.join(runDir, 'eval', 'classifier.ckpt');
  const d = train.shape.reduce((a, b) => a * b, 1);
  const cached = Classifier.load(file, d, train.numClasses, train.kind === 'image' ? train.shape : undefined);
  if (cached) return cached;
  const r = await trainClassifier(train, test, { steps: cfg.eval.classifierSteps, seed: cfg.seed, log, check });
  await r.clf.save(file, r.accuracy);
  return r;
}

/** The unit's newest checkpoint as a denoiser (decoding through the autoencoder in latent runs). */
export function finalDenoiser(runDir: string, cfg: ResolvedConfig, unit: string, stage: StageName): Promise<Denoiser> {
  const list = listCheckpoints(runDir, unit);
  if (!list.length) throw new Error(`${unit} has no checkpoint`);
  return loadDenoiser(runDir, cfg, path.join(runDir, list[list.length - 1].file), stage);
}

/**
 * Guidance weights of the final table: w = 0 (the plain conditional model, where a distilled student most easily
 * loses diversity) and w = 2, clamped to the students' training range.
 */
export function quickWs(cfg: ResolvedConfig): number[] {
  const clamp = (w: number) => Math.min(Math.max(w, cfg.guidance.wMin), cfg.guidance.wMax);
  return [...new Set([clamp(0), clamp(2)])];
}

/**
 * The end-of-run table. `cancelled` (polled between sampling steps and judge training steps) abandons it with
 * SamplingCancelled; nothing of the run is touched then (a judge is saved only once fully trained).
 */
export async function evaluateQuick({
  runDir,
  cfg,
  data,
  log,
  samplesPerClass = 20,
  cancelled,
}: {
  runDir: string;
  cfg: ResolvedConfig;
  data: Dataset;
  log: (s: string) => void;
  samplesPerClass?: number;
  cancelled?: () => boolean;
}): Promise<{ rows: SummaryRow[]; real: SummaryReal }> {
  const check = () => {
    if (cancelled?.()) throw new SamplingCancelled();
  };
  const K = data.numClasses;
  const per = data.kind === 'toy' ? Math.max(samplesPerClass, 200) : samplesPerClass;
  const classes = new Int32Array(K * per);
  for (let c = 0; c < K; c++) classes.fill(c, c * per, (c + 1) * per);
  const D = data.shape.reduce((a, b) => a * b, 1);
  const test = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
  // every student of a step count the report compares (eval.studentSteps) whose unit has finished (its newest
  // checkpoint is final), in training order
  const finished = studentList(cfg).filter((s) => {
    if (!cfg.eval.studentSteps.includes(s.steps)) return false;
    const list = listCheckpoints(runDir, s.unit);
    return list.length > 0 && readCheckpointHeader(path.join(runDir, list[list.length - 1].file)).final;
  });
  const name = (method: string) => (cfg.methods.length > 1 ? method : 'student');
  let clf: Classifier | undefined;
  try {
    // the judge: accuracy on the requested class (images) or SWD to held-out points (toy), and for both the
    // diversity measures of eval/scores.ts (recall; within-class diversity ÷ real data's) at the same sample count
    let ref: RealReference;
    if (data.kind === 'image') {
      const r = await loadOrTrainClassifier(runDir, cfg, data, test, log, check);
      clf = r.clf;
      const { pred, feats } = await clf.run(test.x);
      ref = new RealReference(feats, test.labels, clf.featureDim, {
        withFid: true,
        perClass: per,
        accuracy: pred.filter((p, i) => p === test.labels[i]).length / test.n,
      });
    } else {
      ref = new RealReference(test.x, test.labels, D, { withFid: false, perClass: per });
    }
    const judge = async (
      x: Float32Array,
    ): Promise<Pick<SummaryRow, 'metric' | 'value' | 'recall' | 'diversity' | 'fid'>> => {
      if (clf) {
        for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
        const { pred, feats } = await clf.run(x);
        const sc = ref.score(feats, classes, { pred });
        return {
          metric: 'accuracy',
          value: sc.accuracy!,
          recall: sc.recall,
          diversity: sc.diversity / ref.floor.diversity,
          fid: sc.fid!,
        };
      }
      const sc = ref.score(x, classes);
      return {
        metric: 'swd',
        value: classConditionalSwd(x, classes, test.x, test.labels, D, { seed: cfg.seed }),
        recall: sc.recall,
        diversity: sc.diversity / ref.floor.diversity,
      };
    };
    // each model is loaded once and sampled at every w with the same seeds; the rows are then ordered per w
    const made: { order: number; row: SummaryRow }[] = [];
    const ws = quickWs(cfg);
    const runOne = async (model: string, d: Denoiser, steps: number, order: number) => {
      for (const w of ws) {
        const t0 = performance.now();
        const wv = new Float32Array(classes.length).fill(w);
        const { x, nfe } = await sample(d, { classes, w: wv, steps, sampler: 'ddim', seed: cfg.seed + 1, cancelled });
        const ms = (performance.now() - t0) / classes.length;
        made.push({ order, row: { model, steps, nfe, msPerSample: ms, w, ...(await judge(x)) } });
      }
    };
    const teacher = await finalDenoiser(runDir, cfg, 'teacher', 'teacher');
    try {
      await runOne('teacher', teacher, cfg.sampling.teacherSteps, 0);
      if (finished.length) await runOne('teacher', teacher, Math.min(...finished.map((s) => s.steps)), 1);
    } finally {
      disposeDenoiser(teacher);
    }
    for (const [i, s] of finished.entries()) {
      const d = await finalDenoiser(runDir, cfg, s.unit, s.method);
      try {
        await runOne(name(s.method), d, s.steps, 2 + i);
      } finally {
        disposeDenoiser(d);
      }
    }
    const rows = made.sort((a, b) => ws.indexOf(a.row.w) - ws.indexOf(b.row.w) || a.order - b.order).map((m) => m.row);
    // what real held-out data gets on the same measures, at the same number of rows per class
    return {
      rows,
      real: {
        accuracy: ref.floor.accuracy,
        recall: ref.floor.recall,
        diversity: 1,
        perClass: ref.floorPerClass,
        fid: ref.floor.fid,
      },
    };
  } finally {
    clf?.dispose();
  }
}
