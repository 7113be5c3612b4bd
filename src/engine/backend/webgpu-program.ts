/**
 * The one shape of compute program this project's WGSL kernels use with tfjs-backend-webgpu (webgpu-adam.ts,
 * webgpu_group-norm.ts, webgpu-software.ts): a flat 1-D dispatch of 64-invocation workgroups over the output, whose
 * `code` defines `fn main(index : i32)`. tfjs wraps it with the bindings of `variableNames` (and their shapes), the
 * output, `uniforms.size` (the output's element count) and the program's own `uniforms`.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Uniform = { type: 'float32' | 'int32'; data: number[] };

/** The part of tfjs-backend-webgpu's WebGPUBackend these kernels call. */
export interface WebGpuBackendLike {
  runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: 'float32', uniforms?: Uniform[]): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** Invocations per workgroup. */
export const WG = 64;

/** Workgroups for `threads` invocations; past 65,535 workgroups the grid folds into y (tfjs's index covers it). */
export function flatDispatch(threads: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / WG));
  if (groups <= 65535) return [groups, 1, 1];
  const x = Math.ceil(Math.sqrt(groups));
  return [x, Math.ceil(groups / x), 1];
}

export class FlatProgram {
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  constructor(
    readonly shaderKey: string,
    readonly outputShape: number[],
    readonly variableNames: string[],
    readonly uniforms: string | undefined,
    private readonly code: string,
    /** Invocations: one per output element by default; a reduction passes (outputs × WG) for a workgroup each. */
    threads = tf.util.sizeFromShape(outputShape),
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = flatDispatch(threads);
  }
  getUserCode(): string {
    return this.code;
  }
}
