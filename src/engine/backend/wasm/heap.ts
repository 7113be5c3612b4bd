/**
 * Direct access to tensor memory of the wasm backend, for kernels written in plain JS.
 * Uses the live WebAssembly.Memory buffer (the threaded build's heap is a growable
 * SharedArrayBuffer, so cached HEAP views can be stale after growth).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

export function f32View(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected float32, got ${t.dtype}`);
  const entry = backend.dataIdMap.get(t.dataId);
  if (!entry) throw new Error('tensor is not on the wasm backend');
  const buffer = backend.wasm.wasmMemory ? backend.wasm.wasmMemory.buffer : backend.wasm.HEAPU8.buffer;
  return new Float32Array(buffer, entry.memoryOffset, tf.util.sizeFromShape(t.shape));
}

/** tfjs-backend-wasm's heap cannot grow past 4 GiB (32-bit WebAssembly memory). */
export const WASM_HEAP_CAP_BYTES = 4 * 2 ** 30;

/**
 * How a WebAssembly trap or abort reads once it crossed a thread as text ("training worker 1 (…): RuntimeError: memory
 * access out of bounds\n    at …"). Seen here when the 4 GiB heap runs out: "memory access out of bounds",
 * "remainder by zero" and "Aborted()" (a failed allocation is not always checked inside the wasm code).
 */
const WASM_TRAP_TEXT = /\bRuntimeError: ([^\n]*)|(Aborted\(\))/;

/** The active wasm backend's heap size in bytes (undefined when the active backend is not wasm). */
export function wasmHeapBytes(): number | undefined {
  const engine = tf.engine() as unknown as { backendName: string | null; backendInstance?: unknown };
  if (engine.backendName !== 'wasm' || !engine.backendInstance) return undefined;
  const b = engine.backendInstance as WasmBackendLike;
  return (b.wasm.wasmMemory ? b.wasm.wasmMemory.buffer : b.wasm.HEAPU8.buffer).byteLength;
}

/** The wasm backend ran out of memory: the message says what to change. */
export class WasmOutOfMemory extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmOutOfMemory';
  }
}

const MiB = (b: number) => `${Math.round(b / 2 ** 20).toLocaleString('en-US')} MiB`;

/**
 * A WebAssembly trap ("memory access out of bounds", "Aborted()") raised by the wasm backend, in this thread or in a
 * data-parallel training worker (whose message carries its heap size), as an error a user can act on: with the heap
 * near its 4 GiB cap it is memory, so lower the batch or the channels, or train on a GPU; far below the cap it is a
 * fault to report. Any other error is returned unchanged.
 */
export function explainWasmTrap(e: unknown, heapBytes: number | undefined = wasmHeapBytes()): unknown {
  if (!(e instanceof Error) || e instanceof WasmOutOfMemory) return e;
  const text = WASM_TRAP_TEXT.exec(e.message);
  if (!(e instanceof WebAssembly.RuntimeError) && !text) return e;
  const fromWorker = /^training worker (\d+)(?: \(wasm heap (\d+) bytes\))?: /.exec(e.message);
  const heap = fromWorker ? (fromWorker[2] ? Number(fromWorker[2]) : undefined) : heapBytes;
  if (!fromWorker && heap === undefined) return e; // not the wasm backend's
  const trap =
    (e instanceof WebAssembly.RuntimeError ? e.message : (text![1] ?? text![2])).split(/[.\n]/)[0].trim() || 'trap';
  const where = fromWorker ? `data-parallel training worker ${fromWorker[1]}` : 'the wasm backend';
  if (heap !== undefined && heap < 0.75 * WASM_HEAP_CAP_BYTES) {
    // Below the cap, a trap is most often one allocation larger than what is left (e.g. an attention matrix at a high
    // resolution), but it can be a fault: say both.
    return new WasmOutOfMemory(
      `${where} failed (WebAssembly ${trap}) with its heap at ${MiB(heap)} of its ${MiB(WASM_HEAP_CAP_BYTES)} cap: ` +
        'most likely one allocation larger than what is left. Lower the batch size (teacher, guided, progressive or consistency "batch") or ' +
        'model.channels, or train on a GPU (backend "webgpu"); if a much smaller batch fails the same way, please report it with ' +
        "the run's config.json",
    );
  }
  return new WasmOutOfMemory(
    `${where} ran out of memory (WebAssembly ${trap}${heap !== undefined ? ` with its heap at ${MiB(heap)}` : ''}): ` +
      `its heap cannot grow past ${MiB(WASM_HEAP_CAP_BYTES)}. Lower the batch size (teacher, guided, progressive or consistency "batch") or ` +
      'model.channels, or train on a GPU (backend "webgpu"; `distill backends` shows what this machine has)',
  );
}

function allocationFailed(n: number): WasmOutOfMemory {
  return new WasmOutOfMemory(
    `the wasm backend could not allocate ${MiB(n)} for a tensor (heap at ${MiB(wasmHeapBytes() ?? 0)}, ` +
      `which cannot grow past ${MiB(WASM_HEAP_CAP_BYTES)}). Lower the batch size (teacher, guided, progressive or consistency "batch") or ` +
      'model.channels, or train on a GPU (backend "webgpu"; `distill backends` shows what this machine has)',
  );
}

/**
 * Makes the wasm backend's tensor allocations fail loudly: tfjs-backend-wasm takes `_malloc`'s result as the tensor's
 * address even when it is 0 (no memory left), and a request of 4 GiB or more wraps to a tiny one in 32-bit
 * WebAssembly; either way kernels then write over other tensors or trap far from the cause. Idempotent per backend.
 */
export function guardWasmAllocations(backend: unknown): void {
  const wasm = (backend as { wasm?: { _malloc?: ((n: number) => number) & { guarded?: boolean } } }).wasm;
  if (!wasm?._malloc || wasm._malloc.guarded) return;
  const malloc = wasm._malloc.bind(wasm);
  // Called for every tensor the backend allocates: nothing is built unless the allocation fails.
  const guarded = Object.assign(
    (n: number): number => {
      if (n >= WASM_HEAP_CAP_BYTES) throw allocationFailed(n);
      let p: number;
      try {
        p = malloc(n);
      } catch (e) {
        // emscripten aborts when the heap cannot grow for the request
        if (e instanceof WebAssembly.RuntimeError) throw allocationFailed(n);
        throw e;
      }
      if (p === 0 && n > 0) throw allocationFailed(n);
      return p;
    },
    { guarded: true },
  );
  wasm._malloc = guarded;
}
