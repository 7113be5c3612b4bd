/**
 * Low-level helpers for wasm kernels that call the stock XNNPACK-backed kernels on raw heap memory.
 *
 * `withHeapView` registers a tensor that aliases a range of an existing heap allocation (no copy);
 * it is removed again without freeing memory. Such views never leave a kernel.
 *
 * `matMulInto`: the stock wasm BatchMatMul runs XNNPACK's fully-connected operator when both
 * operands have batch 1 and no transpose: out[M,N] = a[M,K] · b[K,N]. It packs `b` once per
 * tensor id and caches the packed operator until `b` is disposed, so several products with the
 * same `b` pack it only once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WasmBackendLike } from './heap';

interface WasmBackendFull {
  wasm: { tfjs: { disposeData(id: number): void } };
  dataIdMap: { get(dataId: object): { id: number } | undefined; delete(dataId: object): boolean };
  disposeData(dataId: object, force?: boolean): boolean;
}

export function memoryOffset(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const e = backend.dataIdMap.get(t.dataId);
  if (!e) throw new Error('tensor is not on the wasm backend');
  return e.memoryOffset;
}

/** A float32 tensor of `shape` aliasing heap bytes [byteOffset, byteOffset + 4·size). Caller must `dropHeapView` it. */
export function heapView(backend: WasmBackendLike, byteOffset: number, shape: number[]): tf.TensorInfo {
  if (byteOffset % 4 !== 0) throw new Error('heapView: unaligned offset');
  return backend.makeOutput(shape, 'float32', byteOffset);
}

/** Unregisters a view made by heapView without freeing the memory it aliases. */
export function dropHeapView(backend: WasmBackendLike, view: tf.TensorInfo): void {
  const b = backend as unknown as WasmBackendFull;
  const e = b.dataIdMap.get(view.dataId);
  if (!e) return;
  b.wasm.tfjs.disposeData(e.id);
  b.dataIdMap.delete(view.dataId);
}

let stockBatchMatMul: tf.KernelFunc | null = null;

/** out [1, M, N] = a [1, M, K] · b [1, K, N] through the stock (XNNPACK) BatchMatMul; returns a new tensor info. */
export function xnnMatMul(backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  if (!stockBatchMatMul) {
    const k = tf.getKernel(tf.BatchMatMul, 'wasm');
    if (!k) throw new Error('wasm BatchMatMul kernel not registered');
    stockBatchMatMul = k.kernelFunc;
  }
  if (
    a.shape.length !== 3 ||
    b.shape.length !== 3 ||
    a.shape[0] !== 1 ||
    b.shape[0] !== 1 ||
    a.shape[2] !== b.shape[1]
  ) {
    throw new Error(`xnnMatMul: bad shapes ${a.shape} x ${b.shape}`);
  }
  return stockBatchMatMul({
    inputs: { a, b },
    backend: backend as never,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
}

export function disposeInfo(backend: WasmBackendLike, t: tf.TensorInfo): void {
  (backend as unknown as WasmBackendFull).disposeData(t.dataId);
}
