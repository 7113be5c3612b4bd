/**
 * The end-of-run comparison printed by `distill run` and stored as a `summary` event: the guided teacher with many
 * steps, the teacher's own plain DDIM with as few steps as the student, and the distilled student — steps, NFE,
 * wall-clock per sample and a quality metric (classifier accuracy on the requested class for images; sliced
 * Wasserstein distance to held-out data for 2-D toy sets).
 */
import * as path from 'path';
import { ResolvedConfig, units as unitList } from './config';
import { Dataset, loadDataset } from './data';
import { SummaryRow } from './events';
import { Classifier, trainClassifier } from './eval/classifier';
import { slicedWasserstein } from './eval/metrics';
import { readCheckpoint } from './checkpoint';
import { netForUnit } from './stages';
import { loadEvalWeights } from './optim';
import { listCheckpoints } from './runfolder';
import { Denoiser, sample } from './sample';
import { StageName } from './events';

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

function finalDenoiser(runDir: string, cfg: ResolvedConfig, data: Dataset, unit: string, stage: StageName): Denoiser {
  const list = listCheckpoints(runDir, unit);
  if (!list.length) throw new Error(`${unit} has no checkpoint`);
  const file = path.join(runDir, list[list.length - 1].file);
  const net = netForUnit(cfg, data, stage);
  loadEvalWeights(net, readCheckpoint(file).arrays, file);
  return { net, param: cfg.model.parameterization, schedule: cfg.diffusion };
}

export async function evaluateQuick({
  runDir,
  cfg,
  data,
  log,
  samplesPerClass = 20,
}: {
  runDir: string;
  cfg: ResolvedConfig;
  data: Dataset;
  log: (s: string) => void;
  samplesPerClass?: number;
}): Promise<SummaryRow[]> {
  const w = Math.min(Math.max(2, cfg.guidance.wMin), cfg.guidance.wMax);
  const K = data.numClasses;
  const per = data.kind === 'toy' ? Math.max(samplesPerClass, 200) : samplesPerClass;
  const classes = new Int32Array(K * per);
  for (let c = 0; c < K; c++) classes.fill(c, c * per, (c + 1) * per);
  const ws = new Float32Array(classes.length).fill(w);
  const test = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
  const phases = unitList(cfg).filter((u) => u.stage === 'progressive');
  const last = phases[phases.length - 1];
  const teacher = finalDenoiser(runDir, cfg, data, 'teacher', 'teacher');
  const student = finalDenoiser(runDir, cfg, data, last.unit, 'progressive');
  let judge: ((x: Float32Array) => Promise<{ metric: string; value: number }>) | undefined;
  let clf: Classifier | undefined;
  try {
    if (data.kind === 'image') {
      const r = await loadOrTrainClassifier(runDir, cfg, data, test, log);
      clf = r.clf;
      judge = async (x) => {
        const { pred } = await r.clf.run(x);
        let ok = 0;
        for (let i = 0; i < pred.length; i++) if (pred[i] === classes[i]) ok++;
        return { metric: 'accuracy', value: ok / pred.length };
      };
    } else {
      judge = async (x) => {
        // per class: SWD between generated points of class c and held-out points of class c, averaged
        let total = 0;
        for (let c = 0; c < K; c++) {
          const gen = x.subarray(c * per * 2, (c + 1) * per * 2);
          const real: number[] = [];
          for (let i = 0; i < test.n; i++) if (test.labels[i] === c) real.push(test.x[2 * i], test.x[2 * i + 1]);
          total += slicedWasserstein(gen, Float32Array.from(real), 2, { seed: cfg.seed });
        }
        return { metric: 'swd', value: total / K };
      };
    }
    const rows: SummaryRow[] = [];
    const runOne = async (name: string, d: Denoiser, steps: number) => {
      const t0 = performance.now();
      const { x, nfe } = await sample(d, { classes, w: ws, steps, sampler: 'ddim', seed: cfg.seed + 1 });
      const ms = (performance.now() - t0) / classes.length;
      const { metric, value } = await judge!(x);
      rows.push({ model: name, steps, nfe, msPerSample: ms, w, metric, value });
    };
    await runOne('teacher', teacher, cfg.sampling.teacherSteps);
    await runOne('teacher', teacher, last.toSteps!);
    await runOne('student', student, last.toSteps!);
    return rows;
  } finally {
    teacher.net.dispose();
    student.net.dispose();
    clf?.dispose();
  }
}
