/**
 * What a run folder says about itself without loading any model: its resolved config (checked against the hash
 * recorded at creation) and its dataset's shape and classes (written when training starts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { W_FREQ_MAX_LEGACY } from '../nn/w-embedding';
import { configHash, resolveConfig, ResolvedConfig, runHash } from './config';
import { FILES, readMeta } from './run-folder';

/** The run folder's record of its training data: shape, classes and where it came from. */
export const DATA_INFO_FILE = 'dataset.json';

export interface DataInfo {
  shape: number[];
  numClasses: number;
  classNames: string[];
  source: string;
  kind: 'image' | 'toy';
}

/**
 * The resolved config of a run folder, checked against the hash recorded at creation (run.json): every field but
 * `methods`, the consistency section and `progressive.targetSteps` must be as it was (config.ts, `runHash`).
 */
export function loadRunConfig(runDir: string): ResolvedConfig {
  const file = path.join(runDir, FILES.config);
  if (!fs.existsSync(file)) throw new Error(`${runDir}: not a run folder (no ${FILES.config})`);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  // Runs created before model.wFreqMax existed trained their students with the legacy w embedding.
  if (
    raw &&
    typeof raw === 'object' &&
    raw.model &&
    typeof raw.model === 'object' &&
    raw.model.wFreqMax === undefined
  ) {
    raw.model.wFreqMax = W_FREQ_MAX_LEGACY;
  }
  const cfg = resolveConfig(raw, { file, baseDir: runDir });
  const meta = readMeta(runDir);
  if (runHash(cfg, meta.configHash) === undefined) {
    throw new Error(
      `${file} was changed after the run was created (hash ${configHash(cfg)}, expected ${meta.configHash}); start a new run instead`,
    );
  }
  return cfg;
}

/** The dataset record a run wrote when it started training; undefined before that. */
export function readDataInfoFile(runDir: string): DataInfo | undefined {
  const file = path.join(runDir, DATA_INFO_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as DataInfo) : undefined;
}
