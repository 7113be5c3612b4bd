/**
 * The extension host's side of the worker process: spawns dist/worker.js with IPC, validates every message it
 * receives (checkWorkerToHost), pairs requests with replies (RequestTracker) and supervises the child: a graceful stop
 * that escalates to SIGKILL after a timeout, and a report of how the process ended with the last lines of its output.
 * Node only (no vscode), so the supervision is unit-tested with real child processes.
 */
import { ChildProcess, fork } from 'child_process';
import {
  Backend,
  checkWorkerToHost,
  HostToWorker,
  RequestTracker,
  SampleResult,
  SampleSpec,
  WorkerToHost,
} from '../protocol';
import type { RunEvent } from '../engine/run/events';

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the host asked for it (stop/dispose) and the process exited cleanly or was killed on purpose. */
  requested: boolean;
  /** True when the process ended on its own with a non-zero code or a signal. */
  crashed: boolean;
  /** Last lines of stderr / stdout / error logs, newest last. */
  tail: string[];
}

export interface WorkerClientOptions {
  workerPath: string;
  /** Node executable; for an Electron binary pass `electron: true`. */
  nodePath?: string;
  electron?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between a graceful stop and SIGKILL. */
  stopTimeoutMs?: number;
  /** How many output lines to keep for crash reports. */
  tailLines?: number;
  onEvent?: (runDir: string, event: RunEvent) => void;
  onLog?: (level: 'info' | 'warn' | 'error', text: string) => void;
  onExit?: (exit: WorkerExit) => void;
  /** A message failed validation (dropped). */
  onInvalid?: (raw: unknown) => void;
}

export interface RunRequestOptions {
  backend?: Backend;
  threads?: number;
}

export class WorkerClient {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  readonly exited: Promise<WorkerExit>;
  private tracker = new RequestTracker();
  private progress = new Map<number, (done: number, total: number) => void>();
  private created = new Map<number, (runDir: string) => void>();
  private tail: string[] = [];
  private partial = { stdout: '', stderr: '' };
  private stopRequested = false;
  private killTimer: NodeJS.Timeout | undefined;
  private exitInfo: WorkerExit | undefined;

  constructor(private readonly opts: WorkerClientOptions) {
    const env = { ...(opts.env ?? process.env) };
    if (opts.electron) env.ELECTRON_RUN_AS_NODE = '1';
    this.child = fork(opts.workerPath, [], {
      execPath: opts.nodePath ?? process.execPath,
      cwd: opts.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let resolveReady!: (pid: number) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<number>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined);
    this.child.stdout?.on('data', (b: Buffer) => this.output('stdout', b.toString('utf8')));
    this.child.stderr?.on('data', (b: Buffer) => this.output('stderr', b.toString('utf8')));
    this.child.on('message', (raw) => {
      const checked = checkWorkerToHost(raw);
      if (!checked.ok) {
        this.opts.onInvalid?.(raw);
        this.opts.onLog?.(
          'warn',
          `dropped a malformed message from the worker: ${JSON.stringify(raw)?.slice(0, 200)} (${checked.error})`,
        );
        return;
      }
      const msg = checked.value;
      if (msg.type === 'ready') resolveReady(msg.pid);
      this.handle(msg);
    });
    this.exited = new Promise<WorkerExit>((resolve) => {
      let spawnError: Error | undefined;
      this.child.on('error', (e) => {
        spawnError = e;
        this.remember(`error: ${e.message}`);
        // A process that never started emits no 'exit'.
        if (this.child.pid === undefined) finish(null, null);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        if (this.killTimer) clearTimeout(this.killTimer);
        for (const k of ['stdout', 'stderr'] as const) if (this.partial[k]) this.remember(this.partial[k]);
        const requested = this.stopRequested;
        const crashed = !requested && (code !== 0 || signal !== null || spawnError !== undefined);
        this.exitInfo = { code, signal, requested, crashed, tail: [...this.tail] };
        const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
        this.tracker.failAll(
          `the worker process ${why}${this.tail.length ? `: ${this.tail[this.tail.length - 1]}` : ''}`,
        );
        rejectReady(
          new Error(`the worker process ${why} before it was ready${spawnError ? ` (${spawnError.message})` : ''}`),
        );
        resolve(this.exitInfo);
        this.opts.onExit?.(this.exitInfo);
      };
      // 'close' waits for stdio to drain, so the tail holds the last words of the process; it does not always come
      // (an IPC channel closed from this side), so 'exit' finishes too after a moment for the pipes to drain.
      this.child.on('close', (code, signal) => finish(code, signal));
      this.child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 200));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Last lines of output seen so far. */
  get outputTail(): string[] {
    return [...this.tail];
  }

  private remember(line: string): void {
    this.tail.push(line);
    const max = this.opts.tailLines ?? 40;
    if (this.tail.length > max) this.tail.splice(0, this.tail.length - max);
  }

  private output(stream: 'stdout' | 'stderr', text: string): void {
    const lines = (this.partial[stream] + text).split(/\r?\n/);
    this.partial[stream] = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      this.remember(line);
      this.opts.onLog?.(stream === 'stderr' ? 'warn' : 'info', line);
    }
  }

  private handle(msg: WorkerToHost): void {
    switch (msg.type) {
      case 'ready':
        return;
      case 'event':
        this.opts.onEvent?.(msg.runDir, msg.event);
        return;
      case 'log':
        if (msg.level === 'error') this.remember(msg.text);
        this.opts.onLog?.(msg.level, msg.text);
        return;
      case 'progress':
        this.progress.get(msg.id)?.(msg.done, msg.total);
        return;
      case 'runCreated':
        this.created.get(msg.id)?.(msg.runDir);
        this.created.delete(msg.id);
        return;
      case 'reply':
        this.progress.delete(msg.id);
        this.created.delete(msg.id);
        this.tracker.handleReply(msg);
        return;
    }
  }

  private send(msg: HostToWorker): void {
    if (!this.child.connected) throw new Error('the worker process is not running');
    this.child.send(msg);
  }

  private request<R>(build: (id: number) => HostToWorker): { id: number; promise: Promise<R> } {
    if (!this.running || !this.child.connected) {
      return { id: -1, promise: Promise.reject(new Error('the worker process is not running')) };
    }
    return this.tracker.request<R>((id) => this.send(build(id)));
  }

  /**
   * Creates a run from a config and trains it. `created` resolves with the run folder as soon as it exists;
   * `done` with the outcome when training ends (or rejects with the engine's error / the worker's death).
   */
  start(args: { configPath: string; runsDir: string; name?: string } & RunRequestOptions): {
    created: Promise<string>;
    done: Promise<'finished' | 'stopped'>;
  } {
    let onCreated!: (runDir: string) => void;
    const created = new Promise<string>((res) => (onCreated = res));
    const { id, promise } = this.request<{ runDir: string; status: 'finished' | 'stopped' }>((rid) => {
      this.created.set(rid, onCreated);
      return { type: 'start', id: rid, ...args };
    });
    const done = promise.then((r) => r.status);
    // If the run never got a folder, `created` rejects with the same error as `done`.
    const createdOrFail = Promise.race([created, promise.then((r) => r.runDir)]);
    void id;
    return { created: createdOrFail, done };
  }

  resume(runDir: string, opts: RunRequestOptions = {}): Promise<'finished' | 'stopped'> {
    return this.request<{ runDir: string; status: 'finished' | 'stopped' }>((id) => ({
      type: 'resume',
      id,
      runDir,
      ...opts,
    })).promise.then((r) => r.status);
  }

  sample(
    spec: SampleSpec,
    opts: RunRequestOptions & { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<SampleResult> {
    const { onProgress, signal, ...rest } = opts;
    if (signal?.aborted) return Promise.reject(new Error('cancelled'));
    const { id, promise } = this.request<SampleResult>((rid) => {
      if (onProgress) this.progress.set(rid, onProgress);
      return { type: 'sample', id: rid, spec, ...rest };
    });
    if (signal) {
      const onAbort = () => {
        if (this.child.connected) this.child.send({ type: 'cancel', id } satisfies HostToWorker);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      promise.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
    }
    return promise;
  }

  /** Generic request for the run tools (export, eval): resolves with the worker's result. */
  call<R>(build: (id: number) => HostToWorker, onProgress?: (done: number, total: number) => void): Promise<R> {
    return this.request<R>((id) => {
      if (onProgress) this.progress.set(id, onProgress);
      return build(id);
    }).promise;
  }

  /**
   * Graceful stop: the worker saves a checkpoint, ends the run and exits. Escalates to SIGKILL after the timeout.
   * Resolves when the process has exited.
   */
  stop(timeoutMs = this.opts.stopTimeoutMs ?? 30_000): Promise<WorkerExit> {
    if (!this.running) return this.exited;
    this.stopRequested = true;
    try {
      if (this.child.connected) this.send({ type: 'stop' });
      else this.child.kill('SIGTERM');
    } catch {
      this.child.kill('SIGTERM');
    }
    if (!this.killTimer) {
      this.killTimer = setTimeout(() => {
        this.remember(`the worker did not stop within ${Math.round(timeoutMs / 1000)} s: killed`);
        this.child.kill('SIGKILL');
      }, timeoutMs);
      this.killTimer.unref?.();
    }
    return this.exited;
  }

  /** Ends an idle worker (closing its IPC channel makes it exit). */
  dispose(timeoutMs = 5_000): Promise<WorkerExit> {
    if (!this.running) return this.exited;
    this.stopRequested = true;
    if (this.child.connected) this.child.disconnect();
    if (!this.killTimer) {
      this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      this.killTimer.unref?.();
    }
    return this.exited;
  }
}
