/**
 * ResizeNearestNeighborGrad for the cpu backend. tfjs-backend-cpu 4.22's kernel is wrong for batch > 1
 * (it offsets dy by the *images* batch stride) and ignores halfPixelCenters, so training an
 * upsampling network on 'cpu' would get wrong gradients. (The stock wasm kernel is correct and kept.)
 * This is the exact adjoint of the forward index map used by tfjs:
 *   src = min(in-1, alignCorners ? round(f) : floor(f)),  f = ratio·(dst + (halfPixelCenters ? 0.5 : 0)),
 *   ratio = (in - a) / (out - a) with a = 1 if alignCorners and out > 1 else 0,
 *   and src clamped at 0 when halfPixelCenters;
 * dx[n, src(y), src(x), c] += dy[n, y, x, c].
 */
import * as tf from '@tensorflow/tfjs-core';

function srcIndex(outSize: number, inSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const a = alignCorners && outSize > 1 ? 1 : 0;
  const ratio = (inSize - a) / (outSize - a);
  const idx = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const f = halfPixelCenters ? ratio * (d + 0.5) : ratio * d;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(f) : Math.floor(f));
    if (halfPixelCenters) s = Math.max(0, s);
    idx[d] = s;
  }
  return idx;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/** dx (zeroed, [n,inH,inW,c]) += adjoint of nearest-neighbour resize applied to dy ([n,outH,outW,c]). */
export function nearestResizeAdjoint(
  dx: Float32Array,
  g: ArrayLike<number>,
  imagesShape: number[],
  dyShape: number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): void {
  const [n, inH, inW, c] = imagesShape;
  const [, outH, outW] = dyShape;
  const sy = srcIndex(outH, inH, alignCorners, halfPixelCenters);
  const sx = srcIndex(outW, inW, alignCorners, halfPixelCenters);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < outH; y++) {
      const dstRow = (b * inH + sy[y]) * inW * c;
      let src = (b * outH + y) * outW * c;
      for (let x = 0; x < outW; x++) {
        const dst = dstRow + sx[x] * c;
        for (let k = 0; k < c; k++) dx[dst + k] += g[src + k];
        src += c;
      }
    }
  }
}

export function resizeNearestNeighborGradCpu(args: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const images = args.inputs.images as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const alignCorners = !!args.attrs?.alignCorners;
  const halfPixelCenters = !!args.attrs?.halfPixelCenters;
  const dx = new Float32Array(tf.util.sizeFromShape(images.shape));
  nearestResizeAdjoint(
    dx,
    backend.data.get(dy.dataId).values as Float32Array,
    images.shape,
    dy.shape,
    alignCorners,
    halfPixelCenters,
  );
  return backend.makeTensorInfo(images.shape, 'float32', dx);
}
