/** Small run-folder facts the launchers need (fs only). */
import * as fs from 'fs';
import * as path from 'path';
import { FILES } from '../engine/run/run-folder';

/** True when any unit of the run has a checkpoint on disk. */
export function listCheckpointUnits(runDir: string): boolean {
  const dir = path.join(runDir, FILES.checkpoints);
  if (!fs.existsSync(dir)) return false;
  return fs.readdirSync(dir).some((u) => {
    try {
      return fs.readdirSync(path.join(dir, u)).some((f) => f.endsWith('.ckpt'));
    } catch {
      return false;
    }
  });
}
