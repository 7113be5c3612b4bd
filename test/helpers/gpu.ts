/**
 * The WebGPU tests run the real code path on Dawn + SwiftShader (Debian's chromium ships SwiftShader's Vulkan driver;
 * .ci/run installs it and the Vulkan loader libvulkan1). No GPU is needed, and none is skipped: a machine without
 * them fails with a message that says what to install.
 */
import * as fs from 'fs';
import { AdapterLike, DawnLoader, DawnModule, GpuLike, loadDawn } from '../../src/engine/backend/webgpu';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Points Dawn's Vulkan at SwiftShader (unless VK_ICD_FILENAMES is already set). Call before the first probe. */
export function useSwiftShader(): void {
  if (process.env.VK_ICD_FILENAMES) return;
  if (!fs.existsSync(SWIFTSHADER_ICD)) {
    throw new Error(
      `the WebGPU tests need SwiftShader's Vulkan driver (${SWIFTSHADER_ICD}) and the Vulkan loader: ` +
        'apt-get install chromium libvulkan1 (as .ci/run does), or set VK_ICD_FILENAMES to a Vulkan driver',
    );
  }
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}

/** A Dawn whose only adapter claims `info` (and otherwise is the real one, so a device can still be made). */
export function dawnWithAdapterInfo(info: Record<string, unknown> | null): DawnLoader {
  return async (): Promise<DawnModule> => {
    const real = await loadDawn();
    return {
      ...real,
      create(flags: string[]): GpuLike {
        const gpu = real.create(flags);
        return {
          async requestAdapter(opts) {
            if (info === null) return null;
            const a = await gpu.requestAdapter(opts);
            if (!a) throw new Error('the stub needs a real adapter underneath (SwiftShader)');
            const stub: AdapterLike = {
              info,
              limits: a.limits,
              features: a.features,
              requestDevice: (d) => a.requestDevice(d),
            };
            return stub;
          },
        };
      },
    };
  };
}

/** A Dawn that is not installed. */
export const missingDawn: DawnLoader = async () => {
  const { WebGpuUnavailable } = await import('../../src/engine/backend/webgpu');
  throw new WebGpuUnavailable(
    'no-package',
    "the npm package `webgpu` (Dawn's Node binding) is not installed; install it with `npm install webgpu @tensorflow/tfjs-backend-webgpu`",
  );
};
