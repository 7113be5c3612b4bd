/**
 * The local launcher: each variant is a `distill run|resume RUN_DIR` child process, at most `maxParallel` at once.
 * Children run in their own process groups (a terminal's Ctrl-C reaches only the launcher), and stop() sends each
 * running child one SIGTERM: distill saves a checkpoint and exits 0, so the sweep can be resumed exactly.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { listCheckpointUnits } from './task';

export interface TaskContext {
  /** Node executable running the CLI bundle. */
  nodePath: string;
  /** dist/cli.js */
  cliPath: string;
  env?: NodeJS.ProcessEnv;
}

/** `run` for a folder that never trained, `resume` once it has checkpoints (the Slurm script decides the same way). */
export function taskCommand(runDir: string): 'run' | 'resume' {
  return listCheckpointUnits(runDir) ? 'resume' : 'run';
}

export interface LocalTask {
  index: number;
  runDir: string;
  logFile: string;
  /** --threads (only for configs with threads: 0; the others keep their own, so resume stays exact). */
  threads?: number;
}

export type LocalState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export class LocalPool {
  private running = new Map<number, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly ctx: TaskContext,
    private readonly maxParallel: number,
  ) {}

  /** Runs every task (at most maxParallel at a time); resolves with each task's exit code (null: never started). */
  async run(
    tasks: LocalTask[],
    onState: (index: number, state: LocalState, exitCode?: number | null) => void,
  ): Promise<Map<number, number | null>> {
    const codes = new Map<number, number | null>();
    const queue = [...tasks];
    for (const t of queue) onState(t.index, 'PENDING');
    await new Promise<void>((resolve) => {
      const next = () => {
        while (!this.stopping && queue.length && this.running.size < this.maxParallel) {
          const t = queue.shift()!;
          this.startTask(t, onState, (code) => {
            codes.set(t.index, code);
            next();
          });
        }
        if (this.stopping)
          for (const t of queue.splice(0)) {
            codes.set(t.index, null);
            onState(t.index, 'CANCELLED', null);
          }
        if (!this.running.size && !queue.length) resolve();
      };
      next();
    });
    return codes;
  }

  private startTask(
    t: LocalTask,
    onState: (index: number, state: LocalState, exitCode?: number | null) => void,
    done: (code: number | null) => void,
  ): void {
    fs.mkdirSync(path.dirname(t.logFile), { recursive: true });
    const fd = fs.openSync(t.logFile, 'a');
    const cmd = taskCommand(t.runDir);
    fs.writeSync(fd, `\n== distill ${cmd} ${t.runDir} (${new Date().toISOString()})\n`);
    const child = spawn(
      this.ctx.nodePath,
      [this.ctx.cliPath, cmd, t.runDir, ...(t.threads ? ['--threads', String(t.threads)] : [])],
      {
        env: this.ctx.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      },
    );
    this.running.set(t.index, child);
    onState(t.index, 'RUNNING');
    let finished = false;
    const end = (code: number | null, err?: Error) => {
      if (finished) return;
      finished = true;
      if (err) fs.writeSync(fd, `distill: could not start ${this.ctx.nodePath}: ${err.message}\n`);
      fs.closeSync(fd);
      this.running.delete(t.index);
      onState(t.index, code === 0 ? (this.stopping ? 'CANCELLED' : 'COMPLETED') : 'FAILED', code);
      done(code);
    };
    child.once('error', (e) => end(null, e));
    child.once('exit', (code, sig) => end(code ?? (sig ? 128 : null)));
  }

  /** Stops everything: no new tasks; each running one gets one SIGTERM (checkpoint, exit 0). */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const c of this.running.values()) {
      try {
        c.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }

  get size(): number {
    return this.running.size;
  }
}
