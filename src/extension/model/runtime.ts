/**
 * Which Node executable runs the worker: the `distill.nodePath` setting, else `node` on PATH, else the editor's own
 * runtime (Electron) with ELECTRON_RUN_AS_NODE=1. No vscode.
 */
import { execFile } from 'child_process';
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
export function findOnPath(
  envPath: string | undefined,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
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
  return {
    nodePath: execPath,
    electron: Boolean((versions as Record<string, string | undefined>).electron),
    source: 'editor',
  };
}

/** The oldest Node.js major version the worker runs on (package.json engines.node). */
export const MIN_NODE_MAJOR = 20;

/** Where the runtime came from, for messages. */
export function runtimeSourceText(runtime: NodeRuntime): string {
  return runtime.source === 'setting'
    ? 'setting distill.nodePath'
    : runtime.source === 'PATH'
      ? 'the first node on PATH'
      : "the editor's own runtime";
}

/**
 * The version (e.g. "20.11.1") of the runtime's Node: the editor's own is known without starting anything; another
 * executable is asked with `-p process.versions.node` (a few tens of milliseconds, at most `timeoutMs`).
 */
export function readNodeVersion(runtime: NodeRuntime, timeoutMs = 10_000): Promise<string> {
  if (runtime.source === 'editor') return Promise.resolve(process.versions.node);
  return new Promise((resolve, reject) => {
    execFile(
      runtime.nodePath,
      ['-p', 'process.versions.node'],
      {
        timeout: timeoutMs,
        env: runtime.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env,
        windowsHide: true,
      },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(`${runtime.nodePath} -p process.versions.node failed: ${String(stderr).trim() || err.message}`),
          );
        else resolve(String(stdout).trim().replace(/^v/, ''));
      },
    );
  });
}

/** A message naming the version found and the setting to change when it is older than MIN_NODE_MAJOR (or unreadable). */
export function nodeVersionProblem(runtime: NodeRuntime, version: string): string | undefined {
  const major = /^(\d+)\.\d+/.exec(version.trim())?.[1];
  const found = `${runtime.nodePath} (${runtimeSourceText(runtime)})`;
  if (major === undefined) {
    return `the Node.js that runs training, ${found}, printed "${version.trim().slice(0, 80)}" instead of a version; set distill.nodePath to a Node.js ${MIN_NODE_MAJOR} or newer`;
  }
  if (Number(major) >= MIN_NODE_MAJOR) return undefined;
  return `the Node.js that runs training, ${found}, is version ${version.trim()}; Distill needs Node.js ${MIN_NODE_MAJOR} or newer: set distill.nodePath to a newer node executable${runtime.source === 'PATH' ? ' or put one first on PATH' : ''}`;
}
