/**
 * The worker process: runs the engine (TensorFlow.js) for the extension, out of the extension host.
 * Speaks the protocol (src/protocol) over the Node IPC channel: every incoming message is checked
 * (checkHostToWorker) and handed to the handler of its type (HANDLERS, one per request type, checked by the compiler);
 * engine events are forwarded as {type:'event'}, engine log lines as {type:'log'}. 'stop' aborts every request
 * gracefully (the engine saves a checkpoint and closes the run) and the process exits once they have returned.
 * Losing the IPC channel (the editor closed) is a stop too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRun, evaluateRun, exportStudent, loadConfigFile, loadRunConfig, runStages, sampleGrid } from '../engine';
import type { EvalPresetName, TaskOptions } from '../engine';
import type { DataConfig } from '../engine/data/types';
import { ensureDataPackage } from '../launcher/data-package';
import { describeBackends } from '../engine/backend/report';
import { explainWasmTrap } from '../engine/backend/wasm/heap';
import { editTabInput, editTabRun } from '../engine/tasks/edit-request';
import { Backend, checkHostToWorker, HostToWorker, ToolName, ToolResult, WorkerToHost } from '../protocol';

/** The tfjs wasm binaries ship beside the bundle (dist/wasm); from sources the engine finds the installed package. */
const WASM_DIR = fs.existsSync(path.join(__dirname, 'wasm', 'tfjs-backend-wasm-simd.wasm'))
  ? path.join(__dirname, 'wasm')
  : undefined;

/** What a tool is given: the request's run and its task options (device, the bundled wasm, cancel, progress, log lines). */
type ToolOptions = TaskOptions & {
  runDir: string;
  /** Evaluations: the quick or full preset. */
  preset?: EvalPresetName;
};

/** A tool's reply: the files it wrote, then its report file or output folder, as absolute paths (each once). */
function toolResult(runDir: string, files: string[], summary: string): ToolResult {
  return { files: [...new Set(files.map((f) => path.resolve(runDir, f)))], summary };
}

const controllers = new Map<number, AbortController>();
let stopping = false;

function send(msg: WorkerToHost): void {
  if (process.connected && process.send) process.send(msg);
}

function log(level: 'info' | 'warn' | 'error', text: string): void {
  send({ type: 'log', level, text });
}

/** Installs the npm package a data kind reads when it is missing (the emoji sprites), logging what it does. */
function ensureData(data: DataConfig): Promise<unknown> {
  return ensureDataPackage(data, { log: (line) => log('info', line) });
}
const ensureRunData = (runDir: string) => ensureData(loadRunConfig(runDir).data);

/** The engine functions behind `distill export` and `distill eval`, by the `tool` request's name. */
const TOOLS: { [T in ToolName]: (opts: ToolOptions) => Promise<ToolResult> } = {
  export: async ({ preset: _, ...opts }) => {
    const r = await exportStudent(opts);
    return toolResult(opts.runDir, [...r.files, r.outDir], r.summary);
  },
  eval: async (opts) => {
    await ensureRunData(opts.runDir);
    const r = await evaluateRun(opts);
    return toolResult(opts.runDir, [...r.files, r.report], r.summary);
  },
};

function errorText(caught: unknown): string {
  const e = explainWasmTrap(caught); // a wasm trap: almost always its 4 GiB heap, said with what to change
  if (e instanceof Error) return e.message || String(e);
  return String(e);
}

function maybeExit(): void {
  if (stopping && controllers.size === 0) {
    // Let pending IPC messages flush before leaving.
    setImmediate(() => process.exit(0));
  }
}

async function serve(id: number, work: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const ctl = new AbortController();
  controllers.set(id, ctl);
  if (stopping) ctl.abort();
  try {
    const result = await work(ctl.signal);
    send({ type: 'reply', id, ok: true, result });
  } catch (e) {
    const text = errorText(e);
    // A request the host cancelled ends with the engine's "cancelled" error: expected, not a failure to report.
    if (ctl.signal.aborted && !stopping) log('info', `request ${id} ended after cancel: ${text}`);
    else log('error', e instanceof Error && e.stack ? e.stack : text);
    send({ type: 'reply', id, ok: false, error: text });
  } finally {
    controllers.delete(id);
    maybeExit();
  }
}

/** What the engine's sampling functions take for a request: its backend, the bundled wasm, cancel and progress. */
function engineOptions(msg: { id: number; backend?: Backend; threads?: number }, signal: AbortSignal) {
  return {
    backend: msg.backend,
    threads: msg.threads,
    wasmDir: WASM_DIR,
    signal,
    onProgress: (done: number, total: number) => send({ type: 'progress', id: msg.id, done, total }),
  };
}

/** What the worker does with each request type: one handler per HostToWorker type, each given its own message type. */
type Handlers = { [T in HostToWorker['type']]: (msg: Extract<HostToWorker, { type: T }>) => void };

/** Trains a new run (start) or goes on with one (resume), forwarding its events; replies its folder and status. */
async function train(runDir: string, msg: { backend?: Backend; threads?: number }, signal: AbortSignal) {
  const status = await runStages({
    runDir,
    backend: msg.backend,
    threads: msg.threads,
    wasmDir: WASM_DIR,
    signal,
    onEvent: (event) => send({ type: 'event', runDir, event }),
    onLog: (line) => log('info', line),
  });
  return { runDir, status };
}

const HANDLERS: Handlers = {
  start: (msg) =>
    void serve(msg.id, async (signal) => {
      await ensureData(loadConfigFile(msg.configPath).data); // before the run folder exists
      const runDir = await createRun({ configPath: msg.configPath, runsDir: msg.runsDir, name: msg.name });
      send({ type: 'runCreated', id: msg.id, runDir });
      return train(runDir, msg, signal);
    }),
  resume: (msg) =>
    void serve(msg.id, async (signal) => {
      await ensureRunData(msg.runDir);
      return train(msg.runDir, msg, signal);
    }),
  sample: (msg) => void serve(msg.id, (signal) => sampleGrid(msg.spec, engineOptions(msg, signal))),
  tool: (msg) =>
    void serve(msg.id, (signal) =>
      TOOLS[msg.tool]({
        ...engineOptions(msg, signal),
        runDir: msg.runDir,
        preset: msg.preset,
        onLog: (line) => log('info', line),
      }),
    ),
  // Probes without activating a backend, so the worker's later requests may still choose any.
  backends: (msg) => void serve(msg.id, () => describeBackends({ wasmDir: WASM_DIR })),
  editInput: (msg) => void serve(msg.id, (signal) => editTabInput(msg.runDir, msg.source, engineOptions(msg, signal))),
  edit: (msg) => void serve(msg.id, (signal) => editTabRun(msg.spec, engineOptions(msg, signal))),
  cancel: (msg) => controllers.get(msg.id)?.abort(),
  stop: () => stopAll('stop requested'),
};

function handle(msg: HostToWorker): void {
  // HANDLERS[msg.type] takes exactly this message's type; TypeScript cannot pair the two through the union itself.
  (HANDLERS[msg.type] as (m: HostToWorker) => void)(msg);
}

function stopAll(why: string): void {
  if (!stopping) log('info', `worker ${process.pid}: ${why}; saving and exiting`);
  stopping = true;
  for (const c of controllers.values()) c.abort();
  maybeExit();
}

process.on('message', (raw) => {
  const checked = checkHostToWorker(raw);
  if (!checked.ok) {
    log('warn', `worker: dropped a malformed message: ${JSON.stringify(raw)?.slice(0, 200)} (${checked.error})`);
    return;
  }
  handle(checked.value);
});
process.on('disconnect', () => {
  stopAll('the editor went away');
  // Nobody waits for this process any more: if the graceful stop (finish the step, save) does not end it
  // within 30 s, something is stuck; leave rather than linger as an orphan. Checkpoints are written atomically.
  setTimeout(() => process.exit(1), 30_000).unref();
});
process.on('SIGTERM', () => stopAll('SIGTERM'));
process.on('SIGINT', () => stopAll('SIGINT'));

if (!process.send) {
  process.stderr.write(
    "dist/worker.js is the extension's worker process; it must be started with an IPC channel (child_process.fork).\n",
  );
  process.exit(2);
}
send({ type: 'ready', pid: process.pid });
