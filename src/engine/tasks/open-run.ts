/**
 * Opening a run folder for work after (or beside) training: the process's one tfjs backend, the run's checked config
 * and dataset description, which checkpoint a (stage, steps) request means, and a checkpoint as a denoiser. The
 * run (index.ts), the end-of-run table, `distill sample / edit / eval / export` all start here; this module imports
 * none of them, so they do not import each other.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'path';
import { BackendChoice, BackendInfo, selectBackend } from '../backend/select';
import { readCheckpoint } from '../run/checkpoint';
import { ResolvedConfig, students, units as unitList } from '../run/config';
import { DATA_INFO_FILE, DataInfo, loadRunConfig, readDataInfoFile } from '../run/run-config';

export { loadRunConfig } from '../run/run-config';

/** What every task on a run folder takes besides its own options: the device, cancellation, progress and log lines. */
export interface TaskOptions {
  /** The backend (default: the run's config). */
  backend?: BackendChoice;
  /** CPU threads of the wasm backend (default: the run's config; 0 = one per core). */
  threads?: number;
  /** Folder of the tfjs wasm binaries (dist/wasm in a bundle). */
  wasmDir?: string;
  /** Aborting it cancels the task at its next check; nothing half-written is left. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  onLog?: (line: string) => void;
}
export type { DataInfo } from '../run/run-config';
import { Dataset, loadDataset } from '../data';
import { DistillMethod, StageName } from '../run/events';
import { loadEvalWeights } from '../train/optimizer';
import { listCheckpoints, writeFileAtomic } from '../run/run-folder';
import { Denoiser } from '../method/samplers';
import { loadCodec } from '../train/autoencoder-unit';
import { modelShape } from '../run/model-shape';
import { netForUnit } from '../train/losses';

let backendPromise: Promise<BackendInfo> | undefined;

/** Selects the tfjs backend once per process (later calls with other options reuse the first choice). */
export function ensureBackend(
  backend: BackendChoice,
  threads: number,
  wasmDir?: string,
  wasmThreads?: number,
): Promise<BackendInfo> {
  tf.env().set('PROD', true); // no debug-mode checks or the cpu backend's banner
  // tfjs has one global backend per process: a later call with other options keeps the first (the caller is told
  // which one through the backend event).
  backendPromise ??= selectBackend({ backend, threads: threads > 0 ? threads : undefined, wasmDir, wasmThreads });
  return backendPromise;
}

/** The backend this process selected (undefined before the first ensureBackend). */
export function selectedBackend(): Promise<BackendInfo> | undefined {
  return backendPromise;
}

export function writeDataInfo(runDir: string, ds: Dataset): void {
  const info: DataInfo = {
    shape: ds.shape,
    numClasses: ds.numClasses,
    classNames: ds.classNames,
    source: ds.source,
    kind: ds.kind,
  };
  writeFileAtomic(path.join(runDir, DATA_INFO_FILE), JSON.stringify(info, null, 2) + '\n');
}

export async function readDataInfo(runDir: string, cfg: ResolvedConfig): Promise<DataInfo> {
  const known = readDataInfoFile(runDir);
  if (known) return known;
  const ds = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
  return { shape: ds.shape, numClasses: ds.numClasses, classNames: ds.classNames, source: ds.source, kind: ds.kind };
}

/**
 * The unit of a run's few-step student of `method` that samples with `steps` steps (config.ts `students`); an error
 * names the steps that exist, or says the config trains no student of that method.
 */
export function studentUnit(cfg: ResolvedConfig, method: DistillMethod, steps: number): string {
  const mine = students(cfg).filter((s) => s.method === method);
  if (!mine.length)
    throw new Error(
      `--stage ${method}: this run trains no ${method} students (methods in its config.json: ${cfg.methods.join(', ')})`,
    );
  const s = mine.find((u) => u.steps === steps);
  if (!s)
    throw new Error(
      `--steps ${steps}: no ${method} student has ${steps} steps; available: ${mine.map((u) => u.steps).join(', ')}`,
    );
  return s.unit;
}

/** The step count of a method's last (most distilled) student, the default of `--steps` for that stage. */
export function finalStudentSteps(cfg: ResolvedConfig, method: DistillMethod): number {
  const mine = students(cfg).filter((s) => s.method === method);
  return mine.length ? mine[mine.length - 1].steps : cfg.progressive.targetSteps;
}

/** The unit and checkpoint a (stage, steps) request samples from. */
export function resolveCheckpoint(
  runDir: string,
  cfg: ResolvedConfig,
  { stage, steps, checkpoint }: { stage: StageName; steps: number; checkpoint?: string },
): { unit: string; file: string; netStage: StageName } {
  if (checkpoint) {
    const file = path.resolve(runDir, checkpoint);
    const unit = path.basename(path.dirname(file));
    const def = unitList(cfg).find((u) => u.unit === unit);
    if (!def)
      throw new Error(`${checkpoint}: not a checkpoint of a known stage (expected checkpoints/<unit>/step-N.ckpt)`);
    return { unit, file, netStage: def.stage };
  }
  const unit = stage === 'teacher' || stage === 'guided' ? stage : studentUnit(cfg, stage, steps);
  const list = listCheckpoints(runDir, unit);
  if (!list.length) throw new Error(`${runDir}: stage ${unit} has no checkpoint yet`);
  return { unit, file: path.join(runDir, list[list.length - 1].file), netStage: stage };
}

/**
 * Loads a checkpoint's evaluation weights into a fresh network; in latent-space runs with the run's autoencoder, so
 * `sample` returns decoded images. The caller frees it with `disposeDenoiser`.
 */
export async function loadDenoiser(
  runDir: string,
  cfg: ResolvedConfig,
  file: string,
  stage: StageName,
): Promise<Denoiser> {
  const info = await readDataInfo(runDir, cfg);
  const { arrays } = readCheckpoint(file);
  const net = netForUnit(cfg, { shape: modelShape(cfg, info.shape), numClasses: info.numClasses }, stage);
  try {
    loadEvalWeights(net, arrays, file);
    const codec = cfg.model.space === 'latent' ? loadCodec(runDir, cfg, info.shape) : undefined;
    return { net, param: cfg.model.parameterization, schedule: cfg.diffusion, codec };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** A run folder opened for sampling: its checked config and dataset description, on the run's (or the asked) backend. */
export async function openRun(
  runDirArg: string,
  opts: { backend?: BackendChoice; threads?: number; wasmDir?: string },
): Promise<{ runDir: string; cfg: ResolvedConfig; info: DataInfo }> {
  const runDir = path.resolve(runDirArg);
  const cfg = loadRunConfig(runDir);
  await ensureBackend(opts.backend ?? cfg.backend, opts.threads ?? cfg.threads, opts.wasmDir);
  return { runDir, cfg, info: await readDataInfo(runDir, cfg) };
}
