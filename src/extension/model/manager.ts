/**
 * Runs driven by this editor window: one worker process per training run, one shared worker for sampling and the
 * run tools. Supervises them (graceful stop, SIGKILL after a timeout, crash → the run is closed as failed in its
 * events.jsonl with the worker's last output, so every reader shows it failed and Resume picks up from the newest
 * checkpoint) and fans out run events to listeners. Runs written by another process (the CLI) are followed by
 * tailing their events.jsonl. No vscode: unit-tested with real worker processes.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { RunEvent, RunSummary } from '../../engine/run/events';
import { summarizeEvents } from '../../engine/run/events';
import { acquireLock, EventLog, lockIsLive, readEvents, readLock, requestStop } from '../../engine/run/run-folder';
import type { Backend, HostToWorker, SampleResult, SampleSpec } from '../../protocol';
import { WorkerClient, WorkerExit } from '../../worker/client';
import { lastLines } from './format';
import { EventTail } from './event-tail';

export interface ManagerOptions {
  workerPath: string;
  nodePath?: string;
  electron?: boolean;
  /** Read at each request so settings changes apply to the next run. */
  settings?: () => { backend?: Backend; threads?: number };
  stopTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called before any worker process is started; throws to refuse (the extension's Restricted Mode). */
  mayStartProcess?: () => void;
  log?: (level: 'info' | 'warn' | 'error', text: string) => void;
}

export interface RunOutcome {
  runDir: string;
  status: 'finished' | 'stopped' | 'failed';
  /** Why it failed: the engine's error or how the worker died. */
  message?: string;
  /** The worker's last output lines (failures). */
  tail?: string[];
}

/** A tool call that ended because its caller cancelled it; `detail` is what the worker answered. */
export class CallCancelled extends Error {
  constructor(readonly detail: string) {
    super(`cancelled (${detail})`);
    this.name = 'CallCancelled';
  }
}

type Listener<T extends unknown[]> = (...args: T) => void;

class Emitter<T extends unknown[]> {
  private listeners = new Set<Listener<T>>();
  on(l: Listener<T>): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }
  fire(...args: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(...args);
      } catch {
        // a listener's failure must not break the others
      }
    }
  }
}

interface ActiveRun {
  runDir: string;
  client: WorkerClient;
  events: RunEvent[];
  done: Promise<RunOutcome>;
  stopping: boolean;
}

/**
 * Closes a run whose writer died without a run_end: appends an error event and run_end "failed", under the run lock.
 * Does nothing if the log already ends the run or a live process holds the lock. Returns true if it wrote.
 */
export function closeDeadRun(runDir: string, message: string): boolean {
  if (lockIsLive(readLock(runDir))) return false;
  const { events } = readEvents(runDir);
  let open = false;
  for (const e of events) {
    if (e.type === 'run_start') open = true;
    else if (e.type === 'run_end') open = false;
  }
  if (!open) return false;
  let release: (() => void) | undefined;
  try {
    release = acquireLock(runDir);
  } catch {
    return false;
  }
  try {
    const log = new EventLog(runDir);
    try {
      const t = Date.now();
      log.append({ type: 'error', t, message });
      log.append({ type: 'run_end', t, status: 'failed' });
    } finally {
      log.close();
    }
  } finally {
    release();
  }
  return true;
}

export class RunManager {
  private active = new Map<string, ActiveRun>();
  private tailers = new Map<string, EventTail>();
  private tool: WorkerClient | undefined;
  private disposed = false;
  private readonly eventEmitter = new Emitter<[string, RunEvent]>();
  private readonly endEmitter = new Emitter<[RunOutcome]>();
  private readonly activeEmitter = new Emitter<[]>();

  constructor(private readonly opts: ManagerOptions) {}

  /** Every event of every run this manager sees: from its workers (live) and from tailing other runs' logs. */
  onRunEvent(l: (runDir: string, e: RunEvent) => void): { dispose(): void } {
    return this.eventEmitter.on(l);
  }
  /** A run driven by this manager ended (finished, stopped, or failed — the worker crashed or the engine threw). */
  onRunEnded(l: (o: RunOutcome) => void): { dispose(): void } {
    return this.endEmitter.on(l);
  }
  /** The set of active runs changed. */
  onActiveChanged(l: () => void): { dispose(): void } {
    return this.activeEmitter.on(l);
  }

  isActive(runDir: string): boolean {
    return this.active.has(path.resolve(runDir));
  }

  activeRuns(): string[] {
    return [...this.active.keys()];
  }

  /** The pid of the worker process driving an active run. */
  workerPid(runDir: string): number | undefined {
    return this.active.get(path.resolve(runDir))?.client.pid;
  }

  /** The live summary of an active run (from the events received so far). */
  summary(runDir: string): RunSummary | undefined {
    const a = this.active.get(path.resolve(runDir));
    return a ? summarizeEvents(a.events, true) : undefined;
  }

  /** Resolves when the active run ends (or at once with undefined if it is not active). */
  whenEnded(runDir: string): Promise<RunOutcome | undefined> {
    return this.active.get(path.resolve(runDir))?.done ?? Promise.resolve(undefined);
  }

  private log(level: 'info' | 'warn' | 'error', text: string): void {
    this.opts.log?.(level, text);
  }

  /** The Node executable for workers started from now on (running workers keep theirs). */
  setRuntime(nodePath: string, electron: boolean): void {
    this.opts.nodePath = nodePath;
    this.opts.electron = electron;
  }

  private spawn(label: string, onEvent?: (runDir: string, e: RunEvent) => void): WorkerClient {
    if (this.disposed) throw new Error('the extension is shutting down');
    this.opts.mayStartProcess?.();
    const client = new WorkerClient({
      workerPath: this.opts.workerPath,
      nodePath: this.opts.nodePath,
      electron: this.opts.electron,
      env: this.opts.env,
      stopTimeoutMs: this.opts.stopTimeoutMs,
      onEvent: onEvent,
      onLog: (level, text) => this.log(level, `[${label}] ${text}`),
    });
    this.log('info', `[${label}] worker started (pid ${client.pid ?? '?'}, ${this.opts.nodePath ?? process.execPath})`);
    return client;
  }

  private settings(): { backend?: Backend; threads?: number } {
    const s = this.opts.settings?.() ?? {};
    return { backend: s.backend, threads: s.threads };
  }

  private deliver(runDir: string, e: RunEvent): void {
    const a = this.active.get(runDir);
    if (a) a.events.push(e);
    this.eventEmitter.fire(runDir, e);
  }

  /** Creates a run from a config file in a new worker and trains it; resolves with the run folder once it exists. */
  async start(
    configPath: string,
    runsDir: string,
    name?: string,
  ): Promise<{ runDir: string; done: Promise<RunOutcome> }> {
    fs.mkdirSync(runsDir, { recursive: true });
    let runDir: string | undefined;
    const buffered: [string, RunEvent][] = [];
    const client = this.spawn(path.basename(configPath), (dir, e) => {
      if (runDir && this.active.has(runDir)) this.deliver(path.resolve(dir), e);
      else buffered.push([path.resolve(dir), e]);
    });
    const req = client.start({ configPath, runsDir, name, ...this.settings() });
    try {
      runDir = path.resolve(await req.created);
    } catch (e) {
      await client.dispose();
      throw e;
    }
    const done = this.track(runDir, client, req.done);
    for (const [dir, e] of buffered.splice(0)) this.deliver(dir, e);
    return { runDir, done };
  }

  /** Continues a stopped or failed run from its newest checkpoints in a new worker. */
  resume(runDir: string): { runDir: string; done: Promise<RunOutcome> } {
    const dir = path.resolve(runDir);
    if (this.active.has(dir)) throw new Error(`${path.basename(dir)} is already running in this window`);
    const holder = readLock(dir);
    if (lockIsLive(holder))
      throw new Error(
        `${path.basename(dir)} is being written by process ${holder!.pid} on ${holder!.host}; stop it first`,
      );
    const client = this.spawn(path.basename(dir), (d, e) => this.deliver(path.resolve(d), e));
    const done = this.track(dir, client, client.resume(dir, this.settings()));
    return { runDir: dir, done };
  }

  private track(runDir: string, client: WorkerClient, status: Promise<'finished' | 'stopped'>): Promise<RunOutcome> {
    const tailer = this.tailerFor(runDir);
    const run: ActiveRun = {
      runDir,
      client,
      events: readEvents(runDir).events,
      done: undefined as unknown as Promise<RunOutcome>,
      stopping: false,
    };
    tailer.read(); // this run's events now come from the worker
    run.done = status
      .then(
        async (s): Promise<RunOutcome> => {
          await client.dispose();
          return { runDir, status: s };
        },
        async (err: Error): Promise<RunOutcome> => {
          const exit: WorkerExit = client.running ? await client.dispose() : await client.exited;
          const message = err.message;
          const tail = exit.tail.slice(-12);
          const written = closeDeadRun(runDir, [message, ...lastLines(tail.join('\n'), 6)].join('\n'));
          if (written) this.log('warn', `${runDir}: closed the run as failed (${message})`);
          return { runDir, status: 'failed', message, tail };
        },
      )
      .then((outcome) => {
        // Pick up what the engine wrote after its last IPC message (and our own failure record), then hand back to tailing.
        for (const e of tailer.read().events) if (!this.hasSeen(run, e)) this.deliver(runDir, e);
        this.active.delete(runDir);
        this.activeEmitter.fire();
        this.endEmitter.fire(outcome);
        return outcome;
      });
    this.active.set(runDir, run);
    this.activeEmitter.fire();
    return run.done;
  }

  private hasSeen(run: ActiveRun, e: RunEvent): boolean {
    const key = JSON.stringify(e);
    for (let i = run.events.length - 1, n = 0; i >= 0 && n < 64; i--, n++)
      if (JSON.stringify(run.events[i]) === key) return true;
    return false;
  }

  /**
   * Stops a run gracefully: this window's worker saves a checkpoint and exits (killed after the timeout);
   * a run written by another process (the CLI) is asked through its stop.request file.
   */
  async stop(runDir: string): Promise<'worker' | 'requested'> {
    const dir = path.resolve(runDir);
    const a = this.active.get(dir);
    if (a) {
      a.stopping = true;
      await a.client.stop();
      await a.done;
      return 'worker';
    }
    if (!lockIsLive(readLock(dir))) throw new Error(`${path.basename(dir)} is not running`);
    requestStop(dir);
    return 'requested';
  }

  private toolWorker(): WorkerClient {
    if (!this.tool || !this.tool.running) this.tool = this.spawn('tools');
    return this.tool;
  }

  /** Samples a grid from a checkpoint in the shared tools worker. */
  sample(
    spec: SampleSpec,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<SampleResult> {
    return this.toolWorker().sample(spec, { ...this.settings(), onProgress, signal });
  }

  /**
   * A request to the tools worker (export, eval …), with progress. Aborting `signal` sends the worker a `cancel`
   * for this request's id (the engine stops at its next check and writes no result); the call then rejects with
   * CallCancelled, unless the worker had already replied.
   */
  call<R>(
    build: (id: number, s: { backend?: Backend; threads?: number }) => HostToWorker,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<R> {
    if (signal?.aborted) return Promise.reject(new CallCancelled('cancelled before it started'));
    const s = this.settings();
    const client = this.toolWorker();
    let id: number | undefined;
    const promise = client.call<R>((rid) => {
      id = rid;
      return build(rid, s);
    }, onProgress);
    if (!signal) return promise;
    const onAbort = () => {
      if (id === undefined || !client.child.connected) return;
      try {
        client.child.send({ type: 'cancel', id } satisfies HostToWorker);
        this.log('info', `[tools] cancel sent for request ${id}`);
      } catch (e) {
        this.log('warn', `[tools] could not send cancel for request ${id}: ${(e as Error).message}`);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return promise.then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        return r;
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        throw signal.aborted ? new CallCancelled(e instanceof Error ? e.message : String(e)) : e;
      },
    );
  }

  private tailerFor(runDir: string): EventTail {
    let t = this.tailers.get(runDir);
    if (!t) {
      t = EventTail.ofRun(runDir);
      this.tailers.set(runDir, t);
    }
    return t;
  }

  /**
   * Reads what other processes appended to a run's events.jsonl since the last call and fires it as run events.
   * The first call for a run only sets the position (its history is read by whoever shows it). Runs driven by this
   * manager are skipped: their events come from the worker.
   */
  syncFromDisk(runDir: string): RunEvent[] {
    const dir = path.resolve(runDir);
    const known = this.tailers.has(dir);
    const t = this.tailerFor(dir);
    if (!known) {
      t.skipToEnd(); // the history is read by whoever shows it; parsing it here would only be thrown away
      return [];
    }
    const { events } = t.read();
    if (this.active.has(dir)) return [];
    for (const e of events) this.eventEmitter.fire(dir, e);
    return events;
  }

  /** Stops every worker (runs save a checkpoint); resolves when all have exited. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const runs = [...this.active.values()];
    await Promise.all([
      ...runs.map(async (a) => {
        await a.client.stop();
        await a.done;
      }),
      this.tool ? this.tool.dispose() : Promise.resolve(),
    ]);
  }
}
