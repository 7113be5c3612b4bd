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
