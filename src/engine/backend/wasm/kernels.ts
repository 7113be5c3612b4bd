/**
 * Training kernels for tfjs-backend-wasm, registered for backendName 'wasm' only.
 *
 * Each kernel is composed of stock wasm kernels (XNNPACK convolutions, transposes, pads…)
 * called through tf ops inside tf.tidy. That is legal inside a kernel: the engine turns gradient
 * taping off while a kernel runs (kernelDepth > 0), tidy disposes every intermediate, and the
 * returned Tensor is handed back to the engine as the kernel's output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGrad, conv2dInputGrad, ConvGeom } from './conv-grads';
import { f32View, WasmBackendLike } from './heap';
import { filterGradGemm } from './filter-grad';
import { concatF32, splitF32 } from './layout';
import { nearestResizeAdjoint } from '../resize-grad';
import { winogradApplies, winogradConv } from './winograd';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

function convGeom(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap): ConvGeom {
  const dataFormat = (attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') throw new Error(`wasm training kernels support NHWC only, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  return {
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    filterH: info.filterHeight,
    filterW: info.filterWidth,
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
  };
}

/** The engine passes Tensors as kernel inputs when called through ops; wrap plain TensorInfos otherwise. */
function asTensor<R extends tf.Rank>(t: tf.TensorInfo): tf.Tensor<R> {
  if (t instanceof tf.Tensor) return t as tf.Tensor<R>;
  return tf.engine().makeTensorFromTensorInfo(t) as tf.Tensor<R>;
}

/** Implementation choices, for A/B measurements (bench/profile-step.ts --opt key=value). Defaults are the fastest measured. */
export const wasmKernelOptions = {
  /**
   * 'winograd': 3×3 stride-1 convolutions with at least `winogradMinChannels` input and output channels (multiples
   * of 4) by Winograd F(2×2,3×3) (winograd.ts), the forward pass and the input gradient; 'stock': XNNPACK's direct conv.
   * Break-even measured at 16 channels (128×16×16: 6.6 vs 6.8 ms), 24 channels 10–15 % faster, 64 channels 1.6×.
   */
  conv: 'winograd' as 'winograd' | 'stock',
  winogradMinChannels: 24,
  /** 'gemm': filter gradients as XNNPACK GEMMs on shifted views (filter-grad.ts); 'conv': as one XNNPACK conv (conv-grads.ts). */
  filterGrad: 'gemm' as 'gemm' | 'conv',
};

function conv2DBackpropFilter({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const filterShape = (attrs as tf.NamedAttrMap).filterShape as number[];
  const g = convGeom((inputs.x as tf.TensorInfo).shape, filterShape, attrs as tf.NamedAttrMap);
  if (
    wasmKernelOptions.filterGrad === 'gemm' &&
    (inputs.x as tf.TensorInfo).dtype === 'float32' &&
    (inputs.dy as tf.TensorInfo).dtype === 'float32'
  ) {
    return filterGradGemm(backend as WasmBackendLike, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, g);
  }
  const x = asTensor<tf.Rank.R4>(inputs.x as tf.TensorInfo);
  const dy = asTensor<tf.Rank.R4>(inputs.dy as tf.TensorInfo);
  return conv2dFilterGrad(x, dy, g);
}

function conv2DBackpropInput({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const dy = asTensor<tf.Rank.R4>(inputs.dy as tf.TensorInfo);
  const filter = asTensor<tf.Rank.R4>(inputs.filter as tf.TensorInfo);
  const inputShape = (attrs as tf.NamedAttrMap).inputShape as number[];
  const g = convGeom(inputShape, filter.shape, attrs as tf.NamedAttrMap);
  return conv2dInputGrad(dy, filter, g);
}

let stockConv2D: tf.KernelFunc | null = null;

/** Whether the Winograd option and channel threshold allow it (float32 only). */
function useWinograd(x: tf.TensorInfo, filter: tf.TensorInfo): boolean {
  const [, , ci, co] = filter.shape;
  return (
    wasmKernelOptions.conv === 'winograd' &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    ci >= wasmKernelOptions.winogradMinChannels &&
    co >= wasmKernelOptions.winogradMinChannels
  );
}

/** Conv2D: Winograd for the 3×3 stride-1 convolutions it is faster for, the stock XNNPACK kernel otherwise. */
function conv2D(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo,
    filter = args.inputs.filter as tf.TensorInfo;
  const a = (args.attrs ?? {}) as tf.NamedAttrMap;
  if (useWinograd(x, filter) && (a.dataFormat ?? 'NHWC') === 'NHWC') {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides as [number, number] | number,
      (a.dilations ?? 1) as [number, number] | number,
      a.pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding,
      a.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
      false,
      'channelsLast',
    );
    if (
      winogradApplies(
        x.shape,
        filter.shape,
        [info.strideHeight, info.strideWidth],
        [info.dilationHeight, info.dilationWidth],
      ) &&
      info.padInfo.top >= 0 &&
      info.padInfo.left >= 0
    ) {
      return winogradConv(args.backend as WasmBackendLike, x, filter, {
        padTop: info.padInfo.top,
        padLeft: info.padInfo.left,
        outH: info.outHeight,
        outW: info.outWidth,
      });
    }
  }
  return (stockConv2D as tf.KernelFunc)(args as never) as tf.TensorInfo;
}

interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * Identity without a copy. The engine clones every tensor it saves for the backward pass
 * (engine.clone → Identity); the stock wasm kernel memcpy's it. tfjs tensors are immutable
 * (Variable.assign swaps dataIds), so sharing the buffer with a ref-count, as the stock wasm
 * Reshape kernel does, is safe.
 */
function identity({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let stockCast: tf.KernelFunc | null = null;
/** Cast to the same dtype (the gradient of engine.clone) without a copy; other casts use the stock kernel. */
function cast(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (args.attrs?.dtype === x.dtype && x.dtype !== 'string') return identity(args);
  return (stockCast as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

let stockTranspose: tf.KernelFunc | null = null;
/**
 * [N,H,W,C] → [C,H,W,N] (perm 3,1,2,0, used by the filter gradient) as a cache-blocked JS loop over
 * the wasm heap: on par with or up to ~1.4× faster than the stock kernel for this perm (measured; the
 * stock kernel wins on row-copy perms such as 1,2,0,3, which therefore stay stock, as does everything else).
 */
function transpose(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const perm = (args.attrs?.perm as number[]) ?? [];
  const key = perm.join(',');
  if (x.dtype !== 'float32' || x.shape.length !== 4 || key !== '3,1,2,0') {
    return (stockTranspose as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const [n, h, w, c] = x.shape;
  const p = h * w;
  const out = backend.makeOutput(
    perm.map((a) => x.shape[a]),
    'float32',
  );
  const a = f32View(backend, x),
    o = f32View(backend, out);
  const pc = p * c,
    pn = p * n,
    B = 16;
  // o[c][p][n] = a[n][p][c], in 16×16 (n, c) tiles per pixel
  for (let q = 0; q < p; q++) {
    for (let n0 = 0; n0 < n; n0 += B) {
      const ne = Math.min(n, n0 + B);
      for (let c0 = 0; c0 < c; c0 += B) {
        const ce = Math.min(c, c0 + B);
        for (let k = c0; k < ce; k++) {
          const ob = k * pn + q * n;
          for (let i = n0, ib = n0 * pc + q * c + k; i < ne; i++, ib += pc) o[ob + i] = a[ib];
        }
      }
    }
  }
  return out;
}

let stockConcat: tf.KernelFunc | null = null;
/** float32 Concat as JS loops (layout.ts); other dtypes stock. */
function concat(args: KernelArgs): tf.TensorInfo {
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  if (!Array.isArray(inputs) || inputs.length < 2 || inputs.some((t) => t.dtype !== 'float32')) {
    return (stockConcat as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, inputs[0].shape)[0];
  tf.backend_util.assertParamsConsistent(
    inputs.map((t) => t.shape),
    axis,
  );
  if (inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0).length < 2) {
    return (stockConcat as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return concatF32(args.backend as WasmBackendLike, inputs, axis);
}

let stockSplitV: tf.KernelFunc | null = null;
/** float32 SplitV as JS loops (layout.ts); other dtypes stock. */
function splitV(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== 'float32')
    return (stockSplitV as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo[];
  const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, args.attrs?.numOrSizeSplits as number[] | number, axis);
  return splitF32(args.backend as WasmBackendLike, x, sizes, axis);
}

let stockSum: tf.KernelFunc | null = null;
/**
 * Sum over leading axes of a float32 tensor with ≤ 128 trailing elements (the bias gradients: dy
 * [N,H,W,C] summed to [C]) in JS, 4 columns at a time with the accumulators in registers (float64):
 * ≈3× faster than the stock kernel, which transposes the reduced axes innermost first (measured 0.82 vs
 * 2.35 ms for 128×16×16×32). Other reductions use the stock kernel.
 */
function sum(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const rank = x.shape.length;
  const axes = tf.util
    .parseAxisParam(args.attrs?.axis as number | number[], x.shape)
    .sort((a: number, b: number) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  const cols = leading ? tf.util.sizeFromShape(x.shape.slice(axes.length)) : 0;
  if (x.dtype !== 'float32' || !leading || cols > 128) {
    return (stockSum as tf.KernelFunc)(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const outShape = args.attrs?.keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
  const out = backend.makeOutput(outShape, 'float32');
  const a = f32View(backend, x),
    o = f32View(backend, out);
  const end = a.length,
    c = cols;
  let k = 0;
  for (; k + 4 <= c; k += 4) {
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0;
    for (let i = k; i < end; i += c) {
      a0 += a[i];
      a1 += a[i + 1];
      a2 += a[i + 2];
      a3 += a[i + 3];
    }
    o[k] = a0;
    o[k + 1] = a1;
    o[k + 2] = a2;
    o[k + 3] = a3;
  }
  for (; k < c; k++) {
    let a0 = 0;
    for (let i = k; i < end; i += c) a0 += a[i];
    o[k] = a0;
  }
  return out;
}

/**
 * Stock kernel ignores halfPixelCenters, and is ≈2.7× slower than this exact JS adjoint
 * (15.6 vs 5.8 ms for [128,8,8,64] ← [128,16,16,64]); the JS adjoint is used for every case.
 */
function resizeNearestNeighborGrad(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as WasmBackendLike;
  const images = inputs.images as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const out = backend.makeOutput(images.shape, 'float32');
  const dx = f32View(backend, out);
  dx.fill(0);
  nearestResizeAdjoint(
    dx,
    f32View(backend, dy),
    images.shape,
    dy.shape,
    !!attrs?.alignCorners,
    !!attrs?.halfPixelCenters,
  );
  return out;
}

export const WASM_TRAINING_KERNELS: ReadonlyArray<{
  kernelName: string;
  kernelFunc: (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
}> = [
  { kernelName: tf.Conv2D, kernelFunc: conv2D },
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInput },
  { kernelName: tf.ResizeNearestNeighborGrad, kernelFunc: resizeNearestNeighborGrad },
  { kernelName: tf.Identity, kernelFunc: identity },
  { kernelName: tf.Cast, kernelFunc: cast },
  { kernelName: tf.Transpose, kernelFunc: transpose },
  { kernelName: tf.Sum, kernelFunc: sum },
  { kernelName: tf.Concat, kernelFunc: concat },
  { kernelName: tf.SplitV, kernelFunc: splitV },
];

const registered = new Set<string>();

/** Registers (or re-registers, replacing stock ones) the training kernels for 'wasm'. Idempotent. */
export function registerWasmTrainingKernels(): void {
  for (const k of WASM_TRAINING_KERNELS) {
    if (registered.has(k.kernelName)) continue;
    const stockKernel = tf.getKernel(k.kernelName, 'wasm');
    let setupFunc: tf.KernelSetupFunc | undefined;
    if (stockKernel != null) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      if (k.kernelName === tf.Conv2D) stockConv2D = stockKernel.kernelFunc;
      if (k.kernelName === tf.Concat) stockConcat = stockKernel.kernelFunc;
      if (k.kernelName === tf.SplitV) stockSplitV = stockKernel.kernelFunc;
      if (k.kernelName === tf.Cast) stockCast = stockKernel.kernelFunc;
      if (k.kernelName === tf.Transpose) stockTranspose = stockKernel.kernelFunc;
      if (k.kernelName === tf.Sum) stockSum = stockKernel.kernelFunc;
      setupFunc = stockKernel.setupFunc;
    }
    tf.registerKernel({
      kernelName: k.kernelName,
      backendName: 'wasm',
      kernelFunc: k.kernelFunc as unknown as tf.KernelFunc,
      setupFunc,
    });
    registered.add(k.kernelName);
  }
}
