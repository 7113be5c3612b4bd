/**
 * Backend selection for the training engine, in one place.
 *
 *  - `tensorflow`: @tensorflow/tfjs-node-gpu (only when a CUDA GPU looks usable), else
 *    @tensorflow/tfjs-node. These native packages are optional and loaded with a runtime
 *    require that bundlers leave alone; missing ones are an error only when asked for explicitly.
 *  - `wasm`: @tensorflow/tfjs-backend-wasm with this project's training kernels (see ./wasm) and,
 *    for threads > 1, the multi-threaded XNNPACK build made to work under Node (./wasm/node_threads).
 *  - `webgpu`: @tensorflow/tfjs-backend-webgpu on Dawn (the npm package `webgpu`), see ./webgpu.ts. An explicit
 *    `webgpu` accepts a software adapter with a warning; `auto` never picks one.
 *  - `cpu`: @tensorflow/tfjs-backend-cpu (slow, always there).
 *  - `auto`: the fastest real device: tfjs-node-gpu where CUDA is usable, webgpu on a hardware adapter, tfjs-node
 *    (CPU), wasm, cpu.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createRequire } from 'module';
import * as tf from '@tensorflow/tfjs-core';
// A bare import would be dropped by bundlers (the package declares its node bundle side-effect free).
import * as tfcpu from '@tensorflow/tfjs-backend-cpu';
// Gradient functions for every op (training needs them; the core package does not register them by default).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm/kernels';
import { guardWasmAllocations } from './wasm/heap';
import { resizeNearestNeighborGradCpu } from './resize-grad';
import { registerGroupNormKernels } from './group-norm';
import { adapterLabel, AdapterReport, DawnLoader, selectWebGpu, WebGpuUnavailable } from './webgpu';
import {
  describeThreadedProgress,
  findThreadedFactory,
  newThreadedProgress,
  startInitWatchdog,
  unrefWasmThreads,
  wasmTracer,
  withNodeThreadedInit,
} from './wasm/node-threads';
import type { BackendChoice } from './choices';

export type { BackendChoice } from './choices';

export interface BackendInfo {
  /** tfjs backend name now active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** Version of the package providing the backend. */
  version: string;
  /** Threads the backend computes with (native TF: its intra-op pool as requested). */
  threads: number;
  /** wasm: SIMD build in use. Native backends: true. cpu: false. */
  simd: boolean;
  /** Why a fallback happened, or which variant was loaded. */
  note?: string;
  /** webgpu: the adapter (vendor, architecture, description, software or not, limits). */
  adapter?: AdapterReport;
  /** Something the user should know, e.g. that the WebGPU adapter is emulated on the CPU. */
  warning?: string;
}

export interface SelectBackendOptions {
  backend: BackendChoice;
  /** Compute threads; default: number of logical cores. wasm is capped at 8 (its pthread pool). */
  threads?: number;
  /**
   * Directory holding tfjs-backend-wasm*.wasm (and, for threads > 1, tfjs-backend-wasm-threaded-simd.js).
   * Default: `<dir of this module or bundle>/wasm` if it holds the .wasm files, else the installed package's dist/.
   */
  wasmDir?: string;
  /**
   * Threads for the wasm backend when it is the one chosen (default: `threads`). Data-parallel training
   * asks for 1: its worker threads do the heavy work and the main thread then needs no pthread pool.
   */
  wasmThreads?: number;
  /** Loads Dawn (tests inject a fixed adapter list); default: the npm package `webgpu`. */
  dawnLoader?: DawnLoader;
  /** Loads a native TensorFlow package (tests stand in for one that is absent); default: a runtime require. */
  nativeLoader?: NativeLoader;
}

export type NativeLoader = (pkg: NativePackage) => unknown;

const WASM_BINARY = 'tfjs-backend-wasm-simd.wasm';
const WASM_MAX_THREADS = 8;

/** A require that esbuild leaves as a runtime call (optional native packages must stay external). */
function runtimeRequire(): NodeRequire {
  const base = typeof __filename === 'string' ? __filename : path.join(process.cwd(), 'index.js');
  return createRequire(base);
}

/** Logical cores Node may run on (the default thread / worker count everywhere). */
export function logicalCores(): number {
  const osAny = os as unknown as { availableParallelism?: () => number };
  return Math.max(1, osAny.availableParallelism ? osAny.availableParallelism() : os.cpus().length);
}

/** Directory of the installed @tensorflow/tfjs-backend-wasm package, or null (e.g. inside a bundle shipped alone). */
export function wasmPackageDir(): string | null {
  try {
    return path.dirname(runtimeRequire().resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch {
    return null;
  }
}

/** Resolves the directory with the .wasm binaries (see SelectBackendOptions.wasmDir). */
export function resolveWasmDir(override?: string): string {
  if (override) {
    if (!fs.existsSync(path.join(override, WASM_BINARY))) throw new Error(`wasmDir ${override} has no ${WASM_BINARY}`);
    return override;
  }
  const besideBundle = typeof __dirname === 'string' ? path.join(__dirname, 'wasm') : null;
  if (besideBundle && fs.existsSync(path.join(besideBundle, WASM_BINARY))) return besideBundle;
  const pkg = wasmPackageDir();
  if (pkg && fs.existsSync(path.join(pkg, 'dist', WASM_BINARY))) return path.join(pkg, 'dist');
  throw new Error(
    `cannot find ${WASM_BINARY}: ship the tfjs-backend-wasm .wasm files in ${besideBundle ?? '<bundle dir>/wasm'} or pass wasmDir`,
  );
}

/** True when a CUDA driver is visible (no nvidia-smi needed). */
export function cudaLikelyUsable(): boolean {
  if (process.platform === 'linux') return fs.existsSync('/proc/driver/nvidia/version');
  if (process.platform === 'win32') return !!process.env.CUDA_PATH;
  return false;
}

function loadNative(pkg: NativePackage, loader: NativeLoader = (p) => runtimeRequire()(p)): { version: string } {
  const mod = loader(pkg) as { version?: unknown };
  const v = mod.version;
  const version =
    typeof v === 'string'
      ? v
      : v && typeof v === 'object'
        ? String(
            (v as Record<string, unknown>)['tfjs-node'] ?? (v as Record<string, unknown>)['tfjs-core'] ?? 'unknown',
          )
        : 'unknown';
  return { version };
}

export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
const NATIVE_HINT =
  'they are not installed by default: `npm install @tensorflow/tfjs-node-gpu` (NVIDIA, CUDA 11.2 + cuDNN 8.1) ' +
  'or `npm install @tensorflow/tfjs-node` (CPU) in the folder that holds this tool';

async function selectTensorflow(threads: number, only?: NativePackage[], loader?: NativeLoader): Promise<BackendInfo> {
  const errors: string[] = [];
  const candidates: NativePackage[] = [];
  if (cudaLikelyUsable()) candidates.push('@tensorflow/tfjs-node-gpu');
  candidates.push('@tensorflow/tfjs-node');
  for (const pkg of candidates.filter((c) => !only || only.includes(c))) {
    try {
      // TF reads its intra-op pool size at session creation.
      if (process.env.TF_NUM_INTRAOP_THREADS == null) process.env.TF_NUM_INTRAOP_THREADS = String(threads);
      const { version } = loadNative(pkg, loader);
      if (tf.findBackend('tensorflow') == null && tf.findBackendFactory('tensorflow') == null) {
        throw new Error(
          `${pkg} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs-core (version mismatch?)`,
        );
      }
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg}: tf.setBackend('tensorflow') failed`);
      await tf.ready();
      return {
        name: 'tensorflow',
        version,
        threads: Number(process.env.TF_NUM_INTRAOP_THREADS) || threads,
        simd: true,
        note: pkg,
      };
    } catch (e) {
      const m = (e as Error).message.split('\n')[0];
      errors.push(`${pkg}: ${/Cannot find module/.test(m) ? 'not installed' : m}`);
    }
  }
  if (!errors.length)
    errors.push(
      only?.includes('@tensorflow/tfjs-node-gpu')
        ? 'no CUDA driver found (/proc/driver/nvidia/version)'
        : 'nothing to try',
    );
  throw new Error(
    `backend 'tensorflow' unavailable (${errors.join('; ')}). The native TensorFlow packages are an opt-in: ${NATIVE_HINT} (version ${tf.version_core}, matching tfjs-core).`,
  );
}

async function selectWebgpuBackend(allowSoftware: boolean, loader?: DawnLoader): Promise<BackendInfo> {
  const info = await selectWebGpu({ allowSoftware, loader });
  const a = info.adapter;
  return {
    name: 'webgpu',
    version: info.version,
    threads: 1,
    simd: false,
    note: `adapter ${adapterLabel(a)}${info.dawnVersion ? `; Dawn (npm webgpu ${info.dawnVersion})` : ''}`,
    adapter: a,
    ...(a.software
      ? {
          warning:
            `the WebGPU adapter ${a.description || a.device || a.vendor} is a software rasteriser: ` +
            'the GPU is emulated on the CPU, far slower than the wasm backend; use it to check correctness, not for training',
        }
      : {}),
  };
}

let wasmState: { threads: number; dir: string } | null = null;

/**
 * A hung start-up (a pthread worker that never loads) becomes an error saying where it stopped and naming
 * the way out, not a silent stall. DISTILL_WASM_INIT_TIMEOUT_S overrides the 60 s.
 */
function wasmInitTimeoutMs(): number {
  const s = Number(process.env.DISTILL_WASM_INIT_TIMEOUT_S);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

/** `p`, or a rejection with `message` (evaluated then) after `ms`; the timer is cleared either way. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(typeof message === 'function' ? message() : message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function selectWasm(threads: number, wasmDirOpt?: string): Promise<BackendInfo> {
  registerWasmTrainingKernels();
  registerGroupNormKernels();
  const dir = resolveWasmDir(wasmDirOpt);
  const want = Math.min(Math.max(1, Math.floor(threads)), WASM_MAX_THREADS);
  const notes: string[] = [];
  if (threads > WASM_MAX_THREADS) notes.push(`threads capped at ${WASM_MAX_THREADS}`);
  const factory = want > 1 ? findThreadedFactory(dir, wasmPackageDir()) : null;
  if (want > 1 && !factory) notes.push(`threaded wasm factory script not found next to ${dir}; using 1 thread`);
  const useThreads = factory ? want : 1;

  if (wasmState && (wasmState.threads !== useThreads || wasmState.dir !== dir)) {
    // Re-creating the Emscripten module in the same process (e.g. 1 → 2 threads) can deadlock in
    // XNNPACK's pthreadpool start-up (seen ~1 in 12 runs), so the first configuration stays.
    notes.push(
      `wasm was already initialised in this process with ${wasmState.threads} thread(s) from ${wasmState.dir}; ` +
        `start a new process to change that`,
    );
  }
  if (!wasmState) {
    tfwasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    tfwasm.setThreadsCount(useThreads);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', useThreads > 1);
    // Emscripten unrefs each pthread worker once it has loaded; while the rest of the init is only
    // pending promises, Node would see an empty event loop and exit. Hold it open until init is done.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const trace = wasmTracer();
    const progress = newThreadedProgress();
    const timeoutMs = wasmInitTimeoutMs();
    trace?.(`starting the ${useThreads > 1 ? `${useThreads}-thread` : 'single-thread'} wasm backend from ${dir}`);
    // The main-thread timeout below cannot fire while a wait inside the module blocks the main thread; the
    // watchdog thread then reports a few seconds later and ends the process instead of letting it hang.
    const watchdog =
      useThreads > 1
        ? startInitWatchdog(
            timeoutMs + 5000,
            `the ${useThreads}-thread wasm backend did not start within ${(timeoutMs + 5000) / 1000} s and blocks the main thread; ` +
              `ending the process. Run with threads: 1 (--threads 1) to use the single-threaded build`,
          )
        : null;
    watchdog?.update(describeThreadedProgress(progress));
    const report = (msg: string) => {
      trace?.(msg);
      watchdog?.update(describeThreadedProgress(progress));
    };
    let ok: boolean;
    try {
      ok =
        useThreads > 1
          ? await withTimeout(
              withNodeThreadedInit(factory as string, useThreads, () => tf.setBackend('wasm'), progress, report).catch(
                (e: Error) => {
                  throw new Error(
                    `the ${useThreads}-thread wasm backend did not start: ${e.message}; ` +
                      'run with threads: 1 (--threads 1) to use the single-threaded build',
                  );
                },
              ),
              timeoutMs,
              () =>
                `the ${useThreads}-thread wasm backend did not start within ${timeoutMs / 1000} s ` +
                `(${describeThreadedProgress(progress)}); run with threads: 1 (--threads 1) to use the single-threaded build`,
            )
          : await withTimeout(
              tf.setBackend('wasm'),
              timeoutMs,
              `the wasm backend did not start within ${timeoutMs / 1000} s (loading ${path.join(dir, WASM_BINARY)})`,
            );
    } finally {
      clearInterval(keepAlive);
      watchdog?.finish();
    }
    trace?.(`tf.setBackend('wasm') returned ${ok}`);
    if (!ok) throw new Error(`tf.setBackend('wasm') failed (wasm files in ${dir})`);
    const backend = tf.backend() as unknown as { wasm: { PThread?: object } };
    if (useThreads > 1) unrefWasmThreads(backend.wasm as Parameters<typeof unrefWasmThreads>[0]);
    wasmState = { threads: useThreads, dir };
  } else if (!(await tf.setBackend('wasm'))) {
    throw new Error(`tf.setBackend('wasm') failed`);
  }
  await tf.ready();
  guardWasmAllocations(tf.backend());
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  const actual = tfwasm.getThreadsCount();
  const used = (wasmState as { threads: number }).threads;
  if (actual !== used) notes.push(`asked for ${used} threads, XNNPACK runs ${actual}`);
  notes.unshift(used > 1 ? 'threaded-simd build' : simd ? 'simd build' : 'plain build');
  return { name: 'wasm', version: tfwasm.version_wasm, threads: actual, simd, note: notes.join('; ') };
}

let cpuFixed = false;
/** Replaces tfjs-backend-cpu's ResizeNearestNeighborGrad (wrong for batch > 1, see resize-grad.ts). */
export function registerCpuKernelFixes(): void {
  if (cpuFixed) return;
  if (tf.getKernel(tf.ResizeNearestNeighborGrad, 'cpu') != null)
    tf.unregisterKernel(tf.ResizeNearestNeighborGrad, 'cpu');
  tf.registerKernel({
    kernelName: tf.ResizeNearestNeighborGrad,
    backendName: 'cpu',
    kernelFunc: resizeNearestNeighborGradCpu as unknown as tf.KernelFunc,
  });
  cpuFixed = true;
}

async function selectCpu(note?: string): Promise<BackendInfo> {
  if (tf.findBackendFactory('cpu') == null) tf.registerBackend('cpu', () => new tfcpu.MathBackendCPU(), 1);
  registerCpuKernelFixes();
  registerGroupNormKernels();
  if (!(await tf.setBackend('cpu'))) throw new Error(`tf.setBackend('cpu') failed`);
  await tf.ready();
  return { name: 'cpu', version: tfcpu.version_cpu, threads: 1, simd: false, ...(note ? { note } : {}) };
}

/**
 * Activates a tfjs backend and reports what is running. May be called again to switch backends; the
 * wasm thread count and wasmDir are fixed by the first wasm initialisation in a process (see note).
 */
export async function selectBackend(opts: SelectBackendOptions): Promise<BackendInfo> {
  const threads = opts.threads != null && opts.threads > 0 ? Math.floor(opts.threads) : logicalCores();
  const wasmThreads = opts.wasmThreads != null && opts.wasmThreads > 0 ? Math.floor(opts.wasmThreads) : threads;
  switch (opts.backend) {
    case 'tensorflow':
      return selectTensorflow(threads, undefined, opts.nativeLoader);
    case 'webgpu':
      return selectWebgpuBackend(true, opts.dawnLoader);
    case 'wasm':
      return selectWasm(wasmThreads, opts.wasmDir);
    case 'cpu':
      return selectCpu();
    case 'auto': {
      // The fastest real device first: CUDA through native TensorFlow, a hardware WebGPU adapter, then the CPU
      // backends (native TensorFlow, wasm, cpu).
      const skipped: string[] = [];
      const nativeReason = (e: unknown) =>
        (e as Error).message.replace(/^backend 'tensorflow' unavailable \(/, '').replace(/\)\. The native.*$/s, '');
      const withSkipped = (info: BackendInfo): BackendInfo => ({
        ...info,
        note: [info.note, ...(skipped.length ? [`not used: ${skipped.join('; ')}`] : [])].filter(Boolean).join('; '),
      });
      if (cudaLikelyUsable()) {
        try {
          return withSkipped(await selectTensorflow(threads, ['@tensorflow/tfjs-node-gpu'], opts.nativeLoader));
        } catch (e) {
          skipped.push(nativeReason(e));
        }
      }
      try {
        return withSkipped(await selectWebgpuBackend(false, opts.dawnLoader));
      } catch (e) {
        skipped.push(
          `webgpu: ${e instanceof WebGpuUnavailable && e.code === 'software-adapter' ? `${e.message} (auto never trains on an emulated GPU; --backend webgpu does)` : (e as Error).message}`,
        );
      }
      try {
        return withSkipped(await selectTensorflow(threads, ['@tensorflow/tfjs-node'], opts.nativeLoader));
      } catch (e) {
        skipped.push(nativeReason(e));
      }
      try {
        return withSkipped(await selectWasm(wasmThreads, opts.wasmDir));
      } catch (e) {
        skipped.push(`wasm: ${(e as Error).message}`);
      }
      return selectCpu(`fell back to cpu: ${skipped.join('; ')}`);
    }
    default:
      throw new Error(`unknown backend '${String((opts as { backend: unknown }).backend)}'`);
  }
}
