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

let tempDir: string | null = null;
function makeTempDir(): string {
  if (tempDir) return tempDir;
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-tfjs-wasm-'));
  const dir = tempDir;
  process.once('exit', () => {
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  });
  return dir;
}

/**
 * Runs `init` (which must call `tf.setBackend('wasm')`) with the Node
 * threading workarounds in place. `threads` is the XNNPACK pool size wanted.
 */
export async function withNodeThreadedInit<T>(
  factoryScript: string, threads: number, init: () => Promise<T>): Promise<T> {
  const dir = makeTempDir();
  const mainPath = path.join(dir, THREADED_FACTORY_JS);
  fs.copyFileSync(factoryScript, mainPath);

  const g = globalThis as unknown as { Blob: typeof Blob };
  const OrigBlob = g.Blob;
  const sources = new WeakMap<object, string>();
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every(p => typeof p === 'string')) sources.set(this, (parts as string[]).join(''));
    }
  }
  const origCreateObjectURL = URL.createObjectURL;
  let patchError: Error | null = null;
  const patchedCreateObjectURL = (obj: Blob): string => {
    const src = sources.get(obj);
    if (src != null && src.includes('WasmBackendModuleThreadedSimd(Module)')) {
      if (!src.includes(WORKER_LOAD_SNIPPET)) {
        patchError = new Error('unrecognised tfjs-backend-wasm pthread worker script');
      } else {
        const workerPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
        fs.writeFileSync(workerPath, src.replace(WORKER_LOAD_SNIPPET, `importScripts(${JSON.stringify(mainPath)});`));
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
  g.Blob = RecordingBlob as unknown as typeof Blob;
  (URL as unknown as { createObjectURL: unknown }).createObjectURL = patchedCreateObjectURL;
  osMod.cpus = () => Array.from({ length: Math.max(2, 2 * threads) }, (_, i) => realCpus[i % realCpus.length]);
  try {
    const r = await init();
    if (patchError) throw patchError;
    return r;
  } finally {
    g.Blob = OrigBlob;
    (URL as unknown as { createObjectURL: unknown }).createObjectURL = origCreateObjectURL;
    osMod.cpus = origCpus;
  }
}

interface PThreadLike { runningWorkers?: Array<{ unref?: () => void }>; unusedWorkers?: Array<{ unref?: () => void }> }

/** Lets the process exit while XNNPACK's pthreads are parked. */
export function unrefWasmThreads(wasmModule: { PThread?: PThreadLike }): void {
  const pt = wasmModule.PThread;
  if (!pt) return;
  for (const w of [...(pt.runningWorkers ?? []), ...(pt.unusedWorkers ?? [])]) w.unref?.();
}
