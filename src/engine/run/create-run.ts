/**
 * Creating a run folder from a resolved config: config.json, run.json, an empty events.jsonl. Used by `distill run`
 * (engine/index.ts createRun) and by sweeps (one folder per variant). Only fs/path: the extension host and the
 * launchers create folders without loading tfjs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { configHash, ResolvedConfig } from './config';
import { FILES, RunMeta, writeFileAtomic } from './run-folder';

export const VERSION = '0.1.0';

/** A new run's folder name: <config name>-YYYYMMDD-HHMMSS (local time). */
export function defaultRunName(configName: string, d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${configName}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function createRunFolder(runDir: string, cfg: ResolvedConfig, configSource?: string): string {
  const dir = path.resolve(runDir);
  if (fs.existsSync(dir)) {
    throw new Error(`${dir} already exists; continue it with \`distill resume ${dir}\` or choose another --name`);
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, FILES.config), JSON.stringify(cfg, null, 2) + '\n');
  const meta: RunMeta = {
    name: path.basename(dir),
    createdAt: Date.now(),
    configSource,
    configHash: configHash(cfg),
    version: VERSION,
  };
  writeFileAtomic(path.join(dir, FILES.meta), JSON.stringify(meta, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, FILES.events), '');
  return dir;
}
