/**
 * Training a run: create its folder from a config, then train every unit in order (resuming wherever it stopped),
 * and print the end-of-run comparison.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendChoice } from '../backend/select';
import { explainWasmTrap } from '../backend/wasm/heap';
import { loadDataset } from '../data';
import { SamplingCancelled } from '../method/samplers';
import { loadConfigFile } from '../run/config';
import { createRunFolder, defaultRunName } from '../run/create-run';
import { BackendEvent, backendLabel, RunEvent } from '../run/events';
import { acquireLock, clearStopRequest, EventLog, FILES, readMeta, stopRequested } from '../run/run-folder';
import { modelShape } from '../run/model-shape';
import { planParallel } from '../train/data-parallel';
import { netForUnit } from '../train/losses';
import { trainAll } from '../train/trainer';
import { ensureBackend, loadRunConfig, writeDataInfo } from './open-run';
import { evaluateQuick } from './quick-eval';

/** Validates the config and creates a run folder (config.json resolved, run.json). Returns its path. */
export async function createRun({
  configPath,
  runsDir,
  name,
}: {
  configPath: string;
  runsDir: string;
  name?: string;
}): Promise<string> {
  const cfg = loadConfigFile(configPath);
  if (name !== undefined && !/^[A-Za-z0-9._-]+$/.test(name))
    throw new Error(`--name: use letters, digits, '.', '_' or '-' only, got "${name}"`);
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
  // the hash the run was created with (loadRunConfig checked that the config still gives it)
  const hash = readMeta(runDir).configHash;
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
    emit({
      type: 'run_start',
      t: Date.now(),
      pid: process.pid,
      host: os.hostname(),
      resumed,
      configHash: hash,
    });
    const threads = opts.threads ?? cfg.threads;
    const choice = opts.backend ?? cfg.backend;
    // This thread keeps every thread it is given even when worker threads compute the gradients: during training it
    // only draws batches and applies updates (its idle thread pool costs nothing measurable), and the end-of-run table
    // samples and trains its judge here, twice as fast on two threads as on one.
    const backendInfo = await ensureBackend(choice, threads, opts.wasmDir);
    const { plan, note: parallelNote } = planParallel(cfg, backendInfo, threads, opts.wasmDir);
    // Threads = the cores training computes on (the workers, when data-parallel).
    const { adapter, ...rest } = backendInfo;
    const info = {
      ...rest,
      threads: plan ? plan.workers : backendInfo.threads,
      note: backendInfo.note ? `${backendInfo.note}; ${parallelNote}` : parallelNote,
    };
    const ev: BackendEvent = {
      type: 'backend',
      t: Date.now(),
      ...info,
      ...(adapter
        ? {
            adapter: {
              vendor: adapter.vendor,
              architecture: adapter.architecture,
              description: adapter.description || adapter.device,
              software: adapter.software,
              maxBufferSize: adapter.limits.maxBufferSize,
              maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
            },
          }
        : {}),
    };
    emit(ev);
    onLog(`backend: ${backendLabel(ev)}${info.note ? ` (${info.note})` : ''}`);
    if (info.warning) onLog(`warning: ${info.warning}`);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    writeDataInfo(runDir, data);
    onLog(`data: ${data.source}`);
    // the network the run trains (with an exact teacher, the students' network)
    const probe = netForUnit(
      cfg,
      { shape: modelShape(cfg, data.shape), numClasses: data.numClasses },
      cfg.teacher.kind === 'exact' ? 'guided' : 'teacher',
    );
    emit({
      type: 'model',
      t: Date.now(),
      kind: cfg.model.kind,
      params: probe.params.count(),
      flopsPerExample: probe.flopsPerExample,
    });
    onLog(
      `model: ${cfg.model.kind}, ${probe.params.count().toLocaleString('en-US')} parameters, ${(probe.flopsPerExample / 1e6).toFixed(1)} MFLOP per example (forward)`,
    );
    probe.dispose();
    const shouldStop = () => opts.signal?.aborted === true || stopRequested(runDir);
    const status = await trainAll({
      runDir,
      cfg,
      hash,
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
        onLog(
          'stopped during the end-of-run table: training is complete and saved; `distill eval` makes the quality report',
        );
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
