/**
 * Which Node executable runs the worker: the `distill.nodePath` setting, else `node` on PATH, else the editor's own
 * runtime (Electron) with ELECTRON_RUN_AS_NODE=1. No vscode.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface NodeRuntime {
  nodePath: string;
  /** True when nodePath is an Electron binary that must run with ELECTRON_RUN_AS_NODE=1. */
  electron: boolean;
  source: 'setting' | 'PATH' | 'editor';
}

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `node` executable on a PATH string. */
export function findOnPath(envPath: string | undefined, platform: NodeJS.Platform = process.platform): string | undefined {
  if (!envPath) return undefined;
  const names = platform === 'win32' ? ['node.exe', 'node.cmd', 'node'] : ['node'];
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const n of names) {
      const candidate = path.join(dir, n);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export function resolveNodeRuntime(
  setting: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  execPath: string = process.execPath,
  versions: NodeJS.ProcessVersions = process.versions,
): NodeRuntime {
  const configured = setting?.trim();
  if (configured) {
    if (!isExecutable(configured)) throw new Error(`distill.nodePath: ${configured} is not an executable file`);
    return { nodePath: configured, electron: false, source: 'setting' };
  }
  const onPath = findOnPath(env.PATH ?? env.Path);
  if (onPath) return { nodePath: onPath, electron: false, source: 'PATH' };
  return { nodePath: execPath, electron: Boolean((versions as Record<string, string | undefined>).electron), source: 'editor' };
}
