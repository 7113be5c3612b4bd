/**
 * The checkpoint preview's Edit tab, engine side (run by the worker): the input image at the model's resolution (a
 * file read like the training images, or a training example of the run), and one model's edit of it — the guided
 * teacher, or the student for K steps (a K-step few-step student when one is trained, else the most distilled
 * student the run has). Both go through `editRun` (edit-run.ts); images travel as PNG base64.
 */
import * as path from 'path';
import type { BackendChoice } from '../backend/select';
import { ResolvedConfig, students as fewStep, units as unitList } from '../run/config';
import { Dataset, loadDataset } from '../data';
import { editRun, EditSpec, imageShape, readImageForRun } from './edit';
import type { StageName } from '../run/events';
import { openRun } from './open-run';
import { imageGridPng } from '../io/png';
import { listCheckpoints } from '../run/run-folder';

/** The image an edit starts from: a file (any size; read like the training images) or a training example of the run. */
export type EditSource = { file: string } | { example: number };

/** An edit's input at the model's resolution, as the preview's Edit tab shows it and sends it back with an edit. */
export interface EditInput {
  /** PNG (size×size, 1 or 3 channels), base64. */
  pngBase64: string;
  size: number;
  channels: number;
  /** Where it came from: the file name, or "training example N · class". */
  label: string;
  /** A training example's class id. */
  classId?: number;
  /** With a training example: how many the run's training split has (indices 0 to examples − 1). */
  examples?: number;
}

/** One model's edit for the preview's Edit tab (the engine's editRun on images sent as PNG base64). */
export interface EditTabSpec {
  runDir: string;
  /** teacher: the guided teacher (2 NFE per step); student: a K-step few-step student when trained (progressive first, then consistency), else the most distilled student (1 NFE per step). */
  model: 'teacher' | 'student';
  /** The sampler's grid (⌈S·steps⌉ steps are taken). */
  steps: number;
  /** The input at the model's resolution (EditInput.pngBase64). */
  imagePngBase64: string;
  /** Mask PNG (white = repaint, black = keep), any size: resized to the model's resolution. */
  maskPngBase64?: string;
  classId: number;
  strength: number;
  w: number;
  seed: number;
  /** The student's unit (e.g. "consistency-2", "progressive-8-4"): its newest checkpoint; default as `model` says. */
  student?: string;
}

export interface EditTabResult {
  /** The edited image alone, at the model's resolution (PNG base64). */
  pngBase64: string;
  model: 'teacher' | 'student';
  unit: string;
  checkpoint: string;
  /** The sampler's grid and the steps taken on it (⌈S·steps⌉). */
  steps: number;
  stepsTaken: number;
  nfe: number;
  ms: number;
  label: string;
}

export interface EditTabOptions {
  backend?: BackendChoice;
  threads?: number;
  wasmDir?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** The last training split loaded (picking examples one after another reads it once). */
let trainCache: { runDir: string; ds: Dataset } | undefined;

async function trainingSet(runDir: string, cfg: ResolvedConfig): Promise<Dataset> {
  if (trainCache?.runDir !== runDir) {
    trainCache = undefined;
    trainCache = { runDir, ds: await loadDataset(cfg.data, { split: 'train', seed: cfg.seed }) };
  }
  return trainCache.ds;
}

/** An edit's input at the model's resolution: a file (centre-cropped, resized, the run's channels) or training example `example`. */
export async function editTabInput(
  runDirArg: string,
  source: EditSource,
  opts: EditTabOptions = {},
): Promise<EditInput> {
  const { runDir, cfg, info } = await openRun(runDirArg, opts);
  const [size, , c] = imageShape(info, runDir);
  const png = (x: Float32Array) =>
    imageGridPng(x, { n: 1, h: size, w: size, c, rows: 1, cols: 1, pad: 0, scale: 1 }).toString('base64');
  if ('file' in source) {
    return {
      pngBase64: png(readImageForRun(source.file, size, c)),
      size,
      channels: c,
      label: path.basename(source.file),
    };
  }
  const ds = await trainingSet(runDir, cfg);
  const i = source.example;
  if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
    throw new Error(
      `training example ${i} does not exist: the run's training split has ${ds.n} examples (0 to ${ds.n - 1})`,
    );
  }
  const d = size * size * c;
  const classId = ds.labels[i];
  return {
    pngBase64: png(ds.x.subarray(i * d, (i + 1) * d)),
    size,
    channels: c,
    label: `training example ${i} · class ${info.classNames[classId] ?? classId}`,
    classId,
    examples: ds.n,
  };
}

/**
 * What the Edit tab's student at `steps` steps is: the few-step student distilled to `steps` (config.ts `students`:
 * progressive first, then consistency) when it has a checkpoint, else the most distilled student with a checkpoint
 * (the newest unit after the teacher) run at `steps`.
 */
export function editStudentTarget(
  runDir: string,
  cfg: ResolvedConfig,
  steps: number,
): { stage: StageName; steps: number; checkpoint?: string } {
  const exact = fewStep(cfg).find((s) => s.steps === steps && listCheckpoints(runDir, s.unit).length > 0);
  if (exact) return { stage: exact.method, steps };
  const trained = unitList(cfg).filter((u) => u.stage !== 'teacher');
  for (let i = trained.length - 1; i >= 0; i--) {
    const list = listCheckpoints(runDir, trained[i].unit);
    if (list.length) return { stage: trained[i].stage, steps, checkpoint: list[list.length - 1].file };
  }
  throw new Error(
    `${runDir}: no student has a checkpoint yet (the guided stage writes the first); train the run further`,
  );
}

/** The Edit tab's student picked by its unit (EditTabSpec.student): that unit's newest checkpoint, run at `steps`. */
export function editStudentByUnit(
  runDir: string,
  cfg: ResolvedConfig,
  steps: number,
  unit: string,
): { stage: StageName; steps: number; checkpoint: string } {
  const known = unitList(cfg).filter((u) => u.stage !== 'teacher');
  const def = known.find((u) => u.unit === unit);
  if (!def)
    throw new Error(
      `student: ${JSON.stringify(unit)} is not a student of this run; expected one of ${known.map((u) => u.unit).join(', ')}`,
    );
  const list = listCheckpoints(runDir, unit);
  if (!list.length) throw new Error(`${runDir}: student ${unit} has no checkpoint yet; train the run further`);
  return { stage: def.stage, steps, checkpoint: list[list.length - 1].file };
}

/** One model's edit of the input (see the module comment). */
export async function editTabRun(spec: EditTabSpec, opts: EditTabOptions = {}): Promise<EditTabResult> {
  const { runDir, cfg } = await openRun(spec.runDir, opts);
  const target =
    spec.model === 'teacher'
      ? { stage: 'teacher' as const, steps: spec.steps }
      : spec.student !== undefined
        ? editStudentByUnit(runDir, cfg, spec.steps, spec.student)
        : editStudentTarget(runDir, cfg, spec.steps);
  const editSpec: EditSpec = {
    runDir,
    image: { name: 'the input image', data: Buffer.from(spec.imagePngBase64, 'base64') },
    mask:
      spec.maskPngBase64 !== undefined
        ? { name: 'the mask', data: Buffer.from(spec.maskPngBase64, 'base64') }
        : undefined,
    class: spec.classId,
    strength: spec.strength,
    w: spec.w,
    seed: spec.seed,
    ...target,
  };
  const r = await editRun(editSpec, { ...opts, onStep: opts.onProgress });
  const taken = r.times.length - 1;
  return {
    pngBase64: r.png.toString('base64'),
    model: spec.model,
    unit: r.unit,
    checkpoint: r.checkpoint,
    steps: r.steps,
    stepsTaken: taken,
    nfe: r.nfe,
    ms: r.ms,
    label: `${r.unit} · ${path.basename(r.checkpoint)} · ${taken} step${taken === 1 ? '' : 's'} of the ${r.steps}-step grid`,
  };
}
