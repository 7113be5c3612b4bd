/** Sampling from any checkpoint of a run: a PNG grid for the views, or raw arrays for `.npy` files. */
import * as path from 'path';
import { BackendChoice } from '../backend/select';
import type { StageName } from '../run/events';
import { disposeDenoiser, sample } from '../method/samplers';
import { gridClasses, renderGrid } from '../train/sample-grids';
import { loadDenoiser, openRun, resolveCheckpoint } from './open-run';

export type StageChoice = StageName;
export type SamplerKind = 'ddim' | 'stochastic';

/** What to sample: shared by the worker's `sample` request, the preview panel and the CLI. */
export interface SampleSpec {
  runDir: string;
  /** A checkpoint file relative to runDir; default: the newest checkpoint of the stage. */
  checkpoint?: string;
  stage: StageChoice;
  /** Sampling steps (teacher: 2 NFE each; students: 1 NFE each). */
  steps: number;
  sampler: SamplerKind;
  w: number[];
  classes: number[];
  perClass: number;
  seed: number;
}

export interface SampleResult {
  /** PNG grid (rows = classes × perClass, columns = w), base64. */
  pngBase64: string;
  rows: number;
  cols: number;
  steps: number;
  nfe: number;
  /** Wall-clock milliseconds per sample. */
  msPerSample: number;
  label: string;
}

/** Renders a sample grid (rows = classes × perClass, columns = w) from a run's checkpoint. */
export async function sampleGrid(
  spec: SampleSpec,
  opts: {
    backend?: BackendChoice;
    threads?: number;
    wasmDir?: string;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<SampleResult> {
  const { runDir, cfg, info } = await openRun(spec.runDir, opts);
  for (const c of spec.classes)
    if (c >= info.numClasses)
      throw new Error(`classes: class ${c} does not exist (the dataset has ${info.numClasses} classes)`);
  const { unit, file, netStage } = resolveCheckpoint(runDir, cfg, spec);
  const d = await loadDenoiser(runDir, cfg, file, netStage);
  try {
    const classes = spec.classes.length ? spec.classes : gridClasses(cfg, info.numClasses);
    const r = await renderGrid(d, {
      classes,
      w: spec.w,
      perClass: spec.perClass,
      steps: spec.steps,
      sampler: netStage === 'teacher' ? 'ddim' : spec.sampler,
      seed: spec.seed,
      cancelled: () => opts.signal?.aborted === true,
      onStep: opts.onProgress,
    });
    return {
      pngBase64: r.png.toString('base64'),
      rows: r.rows,
      cols: r.cols,
      steps: spec.steps,
      nfe: r.nfe,
      msPerSample: r.ms / r.count,
      label: `${unit} · ${path.basename(file)} · ${spec.steps} step${spec.steps === 1 ? '' : 's'} · ${r.nfe} NFE`,
    };
  } finally {
    disposeDenoiser(d);
  }
}

/** Raw samples (not a grid) for one w: values in [-1, 1] (clipped) with their class ids, for `.npy` export. */
export async function sampleArrays(
  spec: Omit<SampleSpec, 'w'> & { w: number },
  opts: { backend?: BackendChoice; threads?: number; wasmDir?: string } = {},
): Promise<{ x: Float32Array; labels: Int32Array; shape: number[]; nfe: number; msPerSample: number }> {
  const { runDir, cfg, info } = await openRun(spec.runDir, opts);
  const classes = spec.classes.length ? spec.classes : Array.from({ length: info.numClasses }, (_, i) => i);
  for (const c of classes)
    if (c >= info.numClasses)
      throw new Error(`classes: class ${c} does not exist (the dataset has ${info.numClasses} classes)`);
  const { file, netStage } = resolveCheckpoint(runDir, cfg, spec);
  const d = await loadDenoiser(runDir, cfg, file, netStage);
  try {
    const labels = new Int32Array(classes.length * spec.perClass);
    classes.forEach((c, i) => labels.fill(c, i * spec.perClass, (i + 1) * spec.perClass));
    const t0 = performance.now();
    const { x, nfe } = await sample(d, {
      classes: labels,
      w: new Float32Array(labels.length).fill(spec.w),
      steps: spec.steps,
      sampler: netStage === 'teacher' ? 'ddim' : spec.sampler,
      seed: spec.seed,
    });
    const msPerSample = (performance.now() - t0) / labels.length;
    for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
    return { x, labels, shape: [labels.length, ...info.shape], nfe, msPerSample };
  } finally {
    disposeDenoiser(d);
  }
}
