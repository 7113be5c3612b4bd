/**
 * The worker process: runs the engine (TensorFlow.js) for the extension, out of the extension host.
 * Speaks protocol.ts over the Node IPC channel: every incoming message is validated (asHostToWorker), engine events
 * are forwarded as {type:'event'}, engine log lines as {type:'log'}. 'stop' aborts every request gracefully
 * (the engine saves a checkpoint and closes the run) and the process exits once they have returned.
 * Losing the IPC channel (the editor closed) is a stop too.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as engine from '../engine';
import { createRun, loadConfigFile, loadRunConfig, runStages, sampleGrid } from '../engine';
import type { DataConfig } from '../engine/data/types';
import { ensureDataPackage } from '../launcher/data-package';
import { describeBackends } from '../engine/backend/report';
import { explainWasmTrap } from '../engine/backend/wasm/heap';
import { editTabInput, editTabRun } from '../engine/tasks/edit-request';
import { asHostToWorker, Backend, HostToWorker, ToolName, ToolResult, WorkerToHost } from '../protocol';

/** The tfjs wasm binaries ship beside the bundle (dist/wasm); from sources the engine finds the installed package. */
const WASM_DIR = fs.existsSync(path.join(__dirname, 'wasm', 'tfjs-backend-wasm-simd.wasm')) ? path.join(__dirname, 'wasm') : undefined;

/** The engine functions behind `distill export` and `distill eval`. */
const TOOL_FUNCTIONS: Record<ToolName, string> = { export: 'exportStudent', eval: 'evaluateRun' };

interface ToolOptions {
  runDir: string;
  backend?: Backend;
  threads?: number;
  wasmDir?: string;
  signal: AbortSignal;
  onProgress: (done: number, total: number) => void;
  onLog: (line: string) => void;
}

/** Normalises what an engine tool returns (files written, a report path or folder) into a ToolResult. */
function toolResult(tool: ToolName, runDir: string, r: unknown): ToolResult {
  const o = (r && typeof r === 'object' ? r : {}) as Record<string, unknown>;
  const files: string[] = [];
  for (const k of ['files', 'outputs']) if (Array.isArray(o[k])) files.push(...(o[k] as unknown[]).filter((f): f is string => typeof f === 'string'));
  for (const k of ['file', 'report', 'outDir', 'dir', 'path']) if (typeof o[k] === 'string') files.push(o[k] as string);
  if (typeof r === 'string') files.push(r);
  const abs = [...new Set(files.map((f) => path.resolve(runDir, f)))];
  const summary = typeof o.summary === 'string' ? o.summary : `${tool === 'export' ? 'exported' : 'evaluated'} ${path.basename(runDir)}${abs.length ? `: ${abs.map((f) => path.relative(runDir, f)).join(', ')}` : ''}`;
  return { files: abs, summary };
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

function handle(msg: HostToWorker): void {
  switch (msg.type) {
    case 'start':
      void serve(msg.id, async (signal) => {
        await ensureData(loadConfigFile(msg.configPath).data); // before the run folder exists
        const runDir = await createRun({ configPath: msg.configPath, runsDir: msg.runsDir, name: msg.name });
        send({ type: 'runCreated', id: msg.id, runDir });
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
      });
      return;
    case 'resume':
      void serve(msg.id, async (signal) => {
        await ensureRunData(msg.runDir);
        const status = await runStages({
          runDir: msg.runDir,
          backend: msg.backend,
          threads: msg.threads,
          wasmDir: WASM_DIR,
          signal,
          onEvent: (event) => send({ type: 'event', runDir: msg.runDir, event }),
          onLog: (line) => log('info', line),
        });
        return { runDir: msg.runDir, status };
      });
      return;
    case 'sample':
      void serve(msg.id, (signal) => sampleGrid(msg.spec, engineOptions(msg, signal)));
      return;
    case 'tool':
      void serve(msg.id, async (signal) => {
        const name = TOOL_FUNCTIONS[msg.tool];
        const fn = (engine as unknown as Record<string, unknown>)[name];
        if (typeof fn !== 'function') {
          throw new Error(`distill ${msg.tool} is not available in this build (the engine has no ${name}())`);
        }
        const opts: ToolOptions = {
          runDir: msg.runDir,
          backend: msg.backend,
          threads: msg.threads,
          wasmDir: WASM_DIR,
          signal,
          onProgress: (done, total) => send({ type: 'progress', id: msg.id, done, total }),
          onLog: (line) => log('info', line),
        };
        if (msg.tool === 'eval') await ensureRunData(msg.runDir);
        const result: unknown = await (fn as (o: ToolOptions) => Promise<unknown>)(opts);
        return toolResult(msg.tool, msg.runDir, result);
      });
      return;
    case 'backends':
      // Probes without activating a backend, so the worker's later requests may still choose any.
      void serve(msg.id, () => describeBackends({ wasmDir: WASM_DIR }));
      return;
    case 'editInput':
      void serve(msg.id, (signal) => editTabInput(msg.runDir, msg.source, engineOptions(msg, signal)));
      return;
    case 'edit':
      void serve(msg.id, (signal) => editTabRun(msg.spec, engineOptions(msg, signal)));
      return;
    case 'cancel':
      controllers.get(msg.id)?.abort();
      return;
    case 'stop':
      stopAll('stop requested');
      return;
  }
}

function stopAll(why: string): void {
  if (!stopping) log('info', `worker ${process.pid}: ${why}; saving and exiting`);
  stopping = true;
  for (const c of controllers.values()) c.abort();
  maybeExit();
}

process.on('message', (raw) => {
  const msg = asHostToWorker(raw);
  if (!msg) {
    log('warn', `worker: dropped a malformed message: ${JSON.stringify(raw)?.slice(0, 200)}`);
    return;
  }
  handle(msg);
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
  process.stderr.write('dist/worker.js is the extension\'s worker process; it must be started with an IPC channel (child_process.fork).\n');
  process.exit(2);
}
send({ type: 'ready', pid: process.pid });
