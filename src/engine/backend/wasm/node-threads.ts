/**
 * Multi-threaded tfjs-backend-wasm under Node.js.
 *
 * tfjs-backend-wasm 4.x ships `tfjs-backend-wasm-threaded-simd.wasm`, but in
 * Node its init path cannot start the Emscripten pthread pool:
 *  1. the flag WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false in Node;
 *  2. the pthread worker script and the factory script are handed to the
 *     workers as `blob:` URLs / Blob objects, which Node's worker_threads and
 *     the worker's `importScripts` (fs.readFileSync) cannot load;
 *  3. the C++ side caps the XNNPACK pool at `os.cpus().length / 2` (it assumes
 *     2 hyper-threads per core), i.e. 1 thread on a 2-core machine;
 *  4. the running pthreads are ref'ed worker_threads, so the process would
 *     never exit.
 *
 * `withNodeThreadedInit` works around all four while `tf.setBackend('wasm')`
 * runs: it records the Blob sources, writes a patched worker script plus the
 * (self-contained) threaded factory script to a temp dir and hands the workers
 * file paths, reports `threads * 2` logical CPUs during init, and afterwards
 * `unrefWasmThreads` unrefs the worker threads. Everything is restored after
 * init; the temp dir is removed at process exit.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const THREADED_FACTORY_JS = 'tfjs-backend-wasm-threaded-simd.js';

/** Where the self-contained threaded factory script can be found. */
export function findThreadedFactory(wasmDir: string, pkgDir: string | null): string | null {
  const candidates = [path.join(wasmDir, THREADED_FACTORY_JS)];
  if (pkgDir) candidates.push(path.join(pkgDir, 'wasm-out', THREADED_FACTORY_JS));
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return null;
}

const WORKER_LOAD_SNIPPET =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

/**
 * How far a threaded start-up got: the pthread workers Emscripten created, how many of them started,
 * loaded the module, failed or exited, and whether the backend was constructed. A start-up that hangs is
 * reported with this (see `describeThreadedProgress`), and DISTILL_DEBUG=wasm traces it on stderr.
 */
export interface ThreadedInitProgress {
  created: number;
  online: number;
  loaded: number;
  exited: number;
  /** Threads started on loaded workers (XNNPACK's pool: threads - 1 of them). */
  threadsRun: number;
  errors: string[];
  /** The backend (and with it XNNPACK's thread pool) was constructed. */
  ready: boolean;
}

export function newThreadedProgress(): ThreadedInitProgress {
  return { created: 0, online: 0, loaded: 0, exited: 0, threadsRun: 0, errors: [], ready: false };
}

/** One line saying where a threaded start-up stands (used in the time-out error). */
export function describeThreadedProgress(p: ThreadedInitProgress): string {
  const counts =
    `${p.created} pthread workers created, ${p.online} started, ${p.loaded} loaded the module` +
    (p.exited ? `, ${p.exited} exited` : '');
  if (p.errors.length) return `${counts}; worker error: ${p.errors[0]}`;
  if (p.ready) return `${counts}; the backend was constructed`;
  if (p.created === 0) return 'no pthread worker was created yet (the wasm module was still loading or compiling)';
  if (p.loaded < p.created) return `${counts}: waiting for the rest to load`;
  if (p.threadsRun === 0)
    return `${counts}: all loaded, no thread started yet (the module had not finished initialising)`;
  return `${counts}, ${p.threadsRun} thread(s) started: XNNPACK's thread-pool start-up did not return`;
}

/** stderr trace of the wasm start-up when DISTILL_DEBUG contains "wasm" (or "*"). */
export function wasmTracer(): ((msg: string) => void) | null {
  const flags = (process.env.DISTILL_DEBUG ?? '').split(/[\s,]+/);
  if (!flags.includes('wasm') && !flags.includes('*')) return null;
  const t0 = Date.now();
  return (msg) => {
    process.stderr.write(`[distill wasm +${Date.now() - t0} ms] ${msg}\n`);
  };
}

export interface InitWatchdog {
  /** What the start-up has reached (printed if the watchdog fires). */
  update(state: string): void;
  /** The start-up returned (or failed on the main thread): the watchdog ends without a word. */
  finish(): void;
}

/**
 * A start-up that blocks the main thread (a synchronous wait inside the wasm module that never returns)
 * leaves no main-thread timer a chance to fire, so the process would hang without a word. This watchdog
 * thread waits `ms`; unless `finish()` came first it writes `message` and the last `update()` to stderr and
 * ends the process (SIGKILL: a signal handler of the blocked main thread could never run).
 */
export function startInitWatchdog(ms: number, message: string): InitWatchdog {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Worker } = require('worker_threads') as typeof import('worker_threads');
  const sab = new SharedArrayBuffer(8 + 1024);
  const ctl = new Int32Array(sab, 0, 2); // [finished, state length]
  const bytes = new Uint8Array(sab, 8);
  const code = `
    const { workerData } = require('worker_threads');
    const ctl = new Int32Array(workerData.sab, 0, 2);
    Atomics.wait(ctl, 0, 0, workerData.ms);
    if (Atomics.load(ctl, 0) === 0) {
      const state = Buffer.from(new Uint8Array(workerData.sab, 8, Atomics.load(ctl, 1))).toString('utf8');
      require('fs').writeSync(2, 'distill: ' + workerData.message + ' (' + state + ')\\n');
      process.kill(process.pid, 'SIGKILL');
    }`;
  const dog = new Worker(code, { eval: true, workerData: { sab, ms, message } });
  dog.unref();
  dog.on('error', (e) => {
    process.stderr.write(`distill: the wasm start-up watchdog failed: ${e.message}\n`);
  });
  return {
    update(state: string) {
      const enc = Buffer.from(state, 'utf8').subarray(0, bytes.length);
      bytes.set(enc);
      Atomics.store(ctl, 1, enc.length);
    },
    finish() {
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    },
  };
}

let tempDir: string | null = null;
function makeTempDir(): string {
  if (tempDir) return tempDir;
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-tfjs-wasm-'));
  const dir = tempDir;
  process.once('exit', () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  return dir;
}

/**
 * Runs `init` (which must call `tf.setBackend('wasm')`) with the Node
 * threading workarounds in place. `threads` is the XNNPACK pool size wanted.
 */
export async function withNodeThreadedInit<T>(
  factoryScript: string,
  threads: number,
  init: () => Promise<T>,
  progress: ThreadedInitProgress = newThreadedProgress(),
  report: ((msg: string) => void) | null = null,
): Promise<T> {
  const dir = makeTempDir();
  const mainPath = path.join(dir, THREADED_FACTORY_JS);
  fs.copyFileSync(factoryScript, mainPath);

  const g = globalThis as unknown as { Blob: typeof Blob };
  const OrigBlob = g.Blob;
  const sources = new WeakMap<object, string>();
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) sources.set(this, (parts as string[]).join(''));
    }
  }
  const origCreateObjectURL = URL.createObjectURL;
  let patchError: Error | null = null;
  // tfjs asks for the worker script once per pthread worker. It is written once, under a temporary name and
  // renamed into place: rewriting it for the next worker would truncate the file an earlier worker is still
  // reading, and that worker would run an empty script and exit before loading the module.
  const workerPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  let workerScript: string | null = null;
  const patchedCreateObjectURL = (obj: Blob): string => {
    const src = sources.get(obj);
    if (src != null && src.includes('WasmBackendModuleThreadedSimd(Module)')) {
      if (!src.includes(WORKER_LOAD_SNIPPET)) {
        patchError = new Error('unrecognised tfjs-backend-wasm pthread worker script');
      } else {
        const script = src.replace(WORKER_LOAD_SNIPPET, `importScripts(${JSON.stringify(mainPath)});`);
        if (script !== workerScript) {
          const tmp = `${workerPath}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, script);
          fs.renameSync(tmp, workerPath);
          workerScript = script;
        }
        return workerPath;
      }
    }
    return origCreateObjectURL(obj);
  };
  // The C++ side uses min(requested, os.cpus().length / 2) threads.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const osMod: typeof os = require('os');
  const origCpus = osMod.cpus;
  const realCpus = origCpus.call(osMod);
  // Emscripten creates its pthread workers with require('worker_threads').Worker: a subclass counts them and
  // the start-up messages they send, so that a start-up that never finishes can say where it stopped.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const wt: typeof import('worker_threads') = require('worker_threads');
  const OrigWorker = wt.Worker;
  // A worker that fails to start fails the start-up at once instead of leaving it to the time-out.
  let failWorker: (e: Error) => void = () => undefined;
  const workerFailed = new Promise<never>((_, reject) => {
    failWorker = reject;
  });
  workerFailed.catch(() => undefined);
  class CountingWorker extends OrigWorker {
    constructor(filename: string | URL, options?: import('worker_threads').WorkerOptions) {
      super(filename, options);
      const id = ++progress.created;
      report?.(`pthread worker ${id} created`);
      this.once('online', () => {
        progress.online++;
        report?.(`pthread worker ${id} started`);
      });
      let loaded = false;
      const onMessage = (d: unknown) => {
        if ((d as { cmd?: unknown } | null)?.cmd !== 'loaded') return;
        loaded = true;
        progress.loaded++;
        report?.(`pthread worker ${id} loaded the module`);
        this.off('message', onMessage);
      };
      this.on('message', onMessage);
      const post = this.postMessage.bind(this);
      this.postMessage = (value: unknown, transferList?: readonly import('worker_threads').TransferListItem[]) => {
        if ((value as { cmd?: unknown } | null)?.cmd === 'run') {
          progress.threadsRun++;
          report?.(`pthread worker ${id} runs a thread`);
        }
        post(value, transferList);
      };
      this.once('error', (e: Error) => {
        progress.errors.push(`worker ${id}: ${e.message}`);
        report?.(`pthread worker ${id} error: ${e.message}`);
        failWorker(new Error(`a wasm pthread worker failed to start: ${e.message}`));
      });
      this.once('exit', (code: number) => {
        progress.exited++;
        report?.(`pthread worker ${id} exited (${code})`);
        // The start-up waits for every worker to load; one that is gone never will.
        if (!loaded && !progress.ready)
          failWorker(new Error(`a wasm pthread worker exited (code ${code}) before it loaded the module`));
      });
    }
  }
  (wt as { Worker: unknown }).Worker = CountingWorker;
  g.Blob = RecordingBlob as unknown as typeof Blob;
  (URL as unknown as { createObjectURL: unknown }).createObjectURL = patchedCreateObjectURL;
  osMod.cpus = () => Array.from({ length: Math.max(2, 2 * threads) }, (_, i) => realCpus[i % realCpus.length]);
  try {
    const r = await Promise.race([init(), workerFailed]);
    if (patchError) throw patchError;
    progress.ready = true;
    report?.(`backend constructed: ${describeThreadedProgress(progress)}`);
    return r;
  } finally {
    (wt as { Worker: unknown }).Worker = OrigWorker;
    g.Blob = OrigBlob;
    (URL as unknown as { createObjectURL: unknown }).createObjectURL = origCreateObjectURL;
    osMod.cpus = origCpus;
  }
}

interface PThreadLike {
  runningWorkers?: Array<{ unref?: () => void }>;
  unusedWorkers?: Array<{ unref?: () => void }>;
}

/** Lets the process exit while XNNPACK's pthreads are parked. */
export function unrefWasmThreads(wasmModule: { PThread?: PThreadLike }): void {
  const pt = wasmModule.PThread;
  if (!pt) return;
  for (const w of [...(pt.runningWorkers ?? []), ...(pt.unusedWorkers ?? [])]) w.unref?.();
}
