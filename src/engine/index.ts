/**
 * The engine API used by the CLI and the worker: create a run folder, train all stages (resuming anywhere),
 * and sample grids from any checkpoint. Pure TypeScript over TensorFlow.js; no vscode, no child processes.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendChoice } from './backend/select';
import { explainWasmTrap } from './backend/wasm/heap';
import { planParallel, wantsWorkers } from './parallel';
import { configHash, loadConfigFile } from './config';
import { loadDataset } from './data';
import { BackendEvent, backendLabel, RunEvent } from './events';
import { acquireLock, clearStopRequest, EventLog, FILES, stopRequested } from './runfolder';
import { disposeDenoiser, sample, SamplingCancelled } from './sample';
import { modelShape, trainLatentRun } from './autoencoder';
import { gridClasses, netForUnit, renderGrid, trainAll } from './stages';
import type { SampleResult, SampleSpec } from '../protocol';
import { evaluateQuick } from './quick-eval';
import { createRunFolder, defaultRunName } from './create';

export { validateConfigFile, loadConfigFile, ConfigError, configHash } from './config';
export type { ResolvedConfig } from './config';
export { listRuns, describeRun, requestStop, readEvents } from './runfolder';
export type { RunEvent } from './events';
import { ensureBackend, loadDenoiser, loadRunConfig, openRun, resolveCheckpoint, writeDataInfo } from './open-run';
export { ensureBackend, loadDenoiser, loadRunConfig, openRun, resolveCheckpoint, selectedBackend } from './open-run';
export type { DataInfo } from './open-run';

/** Validates the config and creates a run folder (config.json resolved, run.json). Returns its path. */
export async function createRun({ configPath, runsDir, name }: { configPath: string; runsDir: string; name?: string }): Promise<string> {
  const cfg = loadConfigFile(configPath);
  if (name !== undefined && !/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name: use letters, digits, '.', '_' or '-' only, got "${name}"`);
  const dirName = name ?? defaultRunName(cfg.name);
  return createRunFolder(path.resolve(runsDir, dirName), cfg, path.resolve(configPath));
}

export interface RunStagesOptions {
  runDir: string;
  backend?: BackendChoice;
  threads?: number;
  wasmDir?: string;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  onLog?: (line: string) => void;
  /** Print the end-of-run teacher-vs-student comparison (default true). */
  summary?: boolean;
}

/**
 * Trains every stage of a run, continuing wherever it stopped. Holds the run lock while it writes.
 * Resolves 'stopped' after a graceful stop (signal aborted or stop.request created), 'finished' otherwise.
 */
export async function runStages(opts: RunStagesOptions): Promise<'finished' | 'stopped'> {
  const runDir = path.resolve(opts.runDir);
  const cfg = loadRunConfig(runDir);
  const release = acquireLock(runDir);
  clearStopRequest(runDir);
  const log = new EventLog(runDir);
  const onLog = opts.onLog ?? (() => {});
  const emit = (e: RunEvent) => {
    log.append(e);
    opts.onEvent?.(e);
  };
  const resumed = fs.statSync(path.join(runDir, FILES.events)).size > 0;
  try {
    emit({ type: 'run_start', t: Date.now(), pid: process.pid, host: os.hostname(), resumed, configHash: configHash(cfg) });
    const threads = opts.threads ?? cfg.threads;
    const choice = opts.backend ?? cfg.backend;
    // When worker threads will compute the gradients, this thread only draws batches and applies updates:
    // a single-threaded wasm (no pthread pool competing with the workers for the cores) is enough.
    const backendInfo = await ensureBackend(choice, threads, opts.wasmDir, wantsWorkers(cfg, choice, threads) ? 1 : undefined);
    const { plan, note: parallelNote } = planParallel(cfg, backendInfo, threads, opts.wasmDir);
    // Threads = the cores training computes on (the workers, when data-parallel).
    const { adapter, ...rest } = backendInfo;
    const info = { ...rest, threads: plan ? plan.workers : backendInfo.threads, note: backendInfo.note ? `${backendInfo.note}; ${parallelNote}` : parallelNote };
    const ev: BackendEvent = {
      type: 'backend', t: Date.now(), ...info,
      ...(adapter ? { adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description || adapter.device, software: adapter.software, maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } } : {}),
    };
    emit(ev);
    onLog(`backend: ${backendLabel(ev)}${info.note ? ` (${info.note})` : ''}`);
    if (info.warning) onLog(`warning: ${info.warning}`);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    writeDataInfo(runDir, data);
    onLog(`data: ${data.source}`);
    const probe = netForUnit(cfg, { shape: modelShape(cfg, data.shape), numClasses: data.numClasses }, 'teacher');
    emit({ type: 'model', t: Date.now(), kind: cfg.model.kind, params: probe.params.count(), flopsPerExample: probe.flopsPerExample });
    onLog(`model: ${cfg.model.kind}, ${probe.params.count().toLocaleString('en-US')} parameters, ${(probe.flopsPerExample / 1e6).toFixed(1)} MFLOP per example (forward)`);
    probe.dispose();
    const shouldStop = () => opts.signal?.aborted === true || stopRequested(runDir);
    const status = await (cfg.model.space === 'latent' ? trainLatentRun : trainAll)({
      runDir,
      cfg,
      hash: configHash(cfg),
      data,
      emit,
      log: onLog,
      shouldStop,
      parallel: plan,
    });
    if (status === 'finished' && opts.summary !== false) {
      try {
        const { rows, real } = await evaluateQuick({ runDir, cfg, data, log: onLog, cancelled: shouldStop });
        emit({ type: 'summary', t: Date.now(), rows, real });
      } catch (e) {
        if (!(e instanceof SamplingCancelled)) throw e;
        // Training is complete and saved; only the table is skipped (distill eval makes the full report).
        onLog('stopped during the end-of-run table: training is complete and saved; `distill eval` makes the quality report');
      }
    }
    clearStopRequest(runDir);
    emit({ type: 'run_end', t: Date.now(), status });
    return status;
  } catch (caught) {
    // A WebAssembly trap on the wasm backend is almost always its 4 GiB heap: say so, and what to change.
    const e = explainWasmTrap(caught);
    const message = (e as Error).message;
    emit({ type: 'error', t: Date.now(), message });
    emit({ type: 'run_end', t: Date.now(), status: 'failed' });
    throw e;
  } finally {
    log.close();
    release();
  }
}

/** Renders a sample grid (rows = classes × perClass, columns = w) from a run's checkpoint. */
export async function sampleGrid(
  spec: SampleSpec,
  opts: { backend?: BackendChoice; threads?: number; wasmDir?: string; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<SampleResult> {
  const { runDir, cfg, info } = await openRun(spec.runDir, opts);
  for (const c of spec.classes) if (c >= info.numClasses) throw new Error(`classes: class ${c} does not exist (the dataset has ${info.numClasses} classes)`);
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
  for (const c of classes) if (c >= info.numClasses) throw new Error(`classes: class ${c} does not exist (the dataset has ${info.numClasses} classes)`);
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

export function engineMemory(): { numTensors: number; numBytes: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
}

export { exportStudent } from './export';
export type { ExportOptions, ExportResult, StudentManifest } from './export';
export { evaluateRun } from './evaluate';
export type { EvaluateOptions, EvalReport, EvalRow } from './evaluate';
export { editRun } from './edit-run';
export type { EditSpec, EditRunResult } from './edit-run';
