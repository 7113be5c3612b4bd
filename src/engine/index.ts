/**
 * The engine API used by the CLI and the worker: create a run folder, train all stages (resuming anywhere), sample
 * grids from any checkpoint, evaluate, edit and export. Pure TypeScript over TensorFlow.js; no vscode, no child
 * processes. The engine is layered (see docs/architecture.md); this module only gathers what its users call.
 */
import * as tf from '@tensorflow/tfjs-core';

export { validateConfigFile, loadConfigFile, ConfigError, configHash, runHash } from './run/config';
export type { ResolvedConfig } from './run/config';
export { listRuns, describeRun, requestStop, readEvents } from './run/run-folder';
export type { RunEvent } from './run/events';
export {
  ensureBackend,
  loadDenoiser,
  loadRunConfig,
  openRun,
  resolveCheckpoint,
  selectedBackend,
} from './tasks/open-run';
export type { DataInfo, TaskOptions } from './tasks/open-run';
export { createRun, runStages } from './tasks/train-run';
export type { RunStagesOptions } from './tasks/train-run';
export { sampleGrid, sampleArrays } from './tasks/sample';
export type { SampleSpec, SampleResult, StageChoice, SamplerKind } from './tasks/sample';

export function engineMemory(): { numTensors: number; numBytes: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
}

export { exportStudent } from './tasks/export/export-student';
export type { ExportOptions, ExportResult, StudentManifest } from './tasks/export/export-student';
export { evaluateRun } from './tasks/evaluate';
export type { EvaluateOptions, EvalPresetName, EvalReport, EvalRow } from './tasks/evaluate';
export { editRun } from './tasks/edit';
export type { EditSpec, EditRunResult } from './tasks/edit';
