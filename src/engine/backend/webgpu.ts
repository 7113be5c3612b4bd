/**
 * The WebGPU backend: @tensorflow/tfjs-backend-webgpu on Dawn's Node binding (the npm package `webgpu`, which ships
 * a prebuilt dawn.node per platform: Vulkan on Linux, D3D12 on Windows, Metal on macOS).
 *
 * Both packages are optional and loaded only when webgpu is asked for or probed (`auto`, `distill backends`).
 * Every way this can fail (package absent, no dawn.node for this platform, no Vulkan loader, no adapter, device lost,
 * out of GPU memory) becomes one message that says what to install or change.
 *
 * A software adapter (SwiftShader, llvmpipe/lavapipe, WARP, any adapter Dawn reports as a fallback) is never chosen by
 * `auto`; an explicit `webgpu` accepts one with a warning that it is emulated on the CPU.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import * as tf from '@tensorflow/tfjs-core';
import { version as tfjsWebgpuVersion } from '@tensorflow/tfjs-backend-webgpu/package.json';
import { registerWebGpuAdamKernels } from './webgpu-adam';
import { registerWebGpuGroupNormKernels } from './webgpu-group-norm';
import { useSoftwareKernels } from './webgpu-software';

/** The part of Dawn's `navigator.gpu` this module uses. */
export interface GpuLike {
  requestAdapter(opts?: {
    powerPreference?: 'high-performance' | 'low-power';
    forceFallbackAdapter?: boolean;
  }): Promise<AdapterLike | null>;
}
export interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  features: Iterable<string> & { has(name: string): boolean };
  requestDevice(desc?: unknown): Promise<DeviceLike>;
}
export interface DeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  addEventListener?(
    type: 'uncapturederror',
    fn: (e: { error?: { message?: string; constructor?: { name?: string } } }) => void,
  ): void;
  destroy(): void;
}
/** What loading the `webgpu` package gives: a factory of `navigator.gpu` objects. */
export interface DawnModule {
  create(flags: string[]): GpuLike;
  /** WebGPU's global constants and classes (GPUBufferUsage, GPUMapMode, …) that tfjs-backend-webgpu reads. */
  globals?: Record<string, unknown>;
  /** Version of the `webgpu` package, when known. */
  version?: string;
}
export type DawnLoader = () => Promise<DawnModule>;

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Emulated on the CPU (SwiftShader, llvmpipe, WARP, a fallback adapter). */
  software: boolean;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number };
  features: string[];
}

export type WebGpuFailure = 'no-package' | 'no-binary' | 'no-vulkan' | 'no-adapter' | 'software-adapter' | 'error';

export class WebGpuUnavailable extends Error {
  constructor(
    readonly code: WebGpuFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebGpuUnavailable';
  }
}

const INSTALL_HINT =
  'install it with `npm install webgpu @tensorflow/tfjs-backend-webgpu` in the folder that holds this tool ' +
  '(a platform build of the VS Code extension ships it)';

/** A require that esbuild leaves as a runtime call. */
function runtimeRequire(): NodeRequire {
  const base = typeof __filename === 'string' ? __filename : path.join(process.cwd(), 'index.js');
  return createRequire(base);
}

/** `import()` that bundlers leave alone (the `webgpu` package is an ES module; this code may run as CommonJS). */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const nativeImport = new Function('specifier', 'return import(specifier)') as (
  s: string,
) => Promise<Record<string, unknown>>;

/** Loads the `webgpu` package (Dawn) from beside this bundle or from node_modules. */
export const loadDawn: DawnLoader = async () => {
  let entry: string;
  try {
    entry = runtimeRequire().resolve('webgpu');
  } catch {
    throw new WebGpuUnavailable(
      'no-package',
      `the npm package \`webgpu\` (Dawn's Node binding) is not installed; ${INSTALL_HINT}`,
    );
  }
  const pkgDir = path.dirname(entry);
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const binary = path.join(pkgDir, 'dist', `${process.platform}-${arch}`, 'dawn.node');
  if (!fs.existsSync(binary)) {
    throw new WebGpuUnavailable(
      'no-binary',
      `the \`webgpu\` package in ${pkgDir} has no Dawn build for ${process.platform}-${arch} ` +
        `(${path.relative(pkgDir, binary)} is missing; Dawn ships linux-x64, linux-arm64, darwin-universal, win32-x64 and win32-arm64)`,
    );
  }
  // Without a Vulkan loader or driver Dawn finds no adapter, and says so on stderr from native code ("vkCreateInstance:
  // Found no drivers!") where nothing can quiet it: so look for them first, as the Vulkan loader would.
  if (process.platform === 'linux') {
    const env = (k: string) => process.env[k];
    if (!vulkanLoaderPresent()) throw new WebGpuUnavailable('no-vulkan', noAdapterMessage());
    const icd = vulkanDriverManifests();
    if (!icd.files.length) {
      throw new WebGpuUnavailable(
        'no-adapter',
        icd.explicit
          ? `${env('VK_DRIVER_FILES') ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES'} names no Vulkan driver manifest that exists (${icd.searched.join(', ')}); ` +
              "point it at the driver's ICD .json, or unset it"
          : `no Vulkan driver is installed: no driver manifest (ICD .json) in ${icd.searched.join(', ')}; ` +
              'install mesa-vulkan-drivers for AMD/Intel or the NVIDIA driver, or set VK_ICD_FILENAMES to a manifest that is elsewhere',
      );
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = await nativeImport(pathToFileURL(entry).href);
  } catch (e) {
    throw new WebGpuUnavailable('error', `loading Dawn (${binary}) failed: ${(e as Error).message.split('\n')[0]}`);
  }
  let version: string | undefined;
  try {
    version = (JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    version = undefined;
  }
  return {
    create: mod.create as DawnModule['create'],
    globals: mod.globals as Record<string, unknown> | undefined,
    version,
  };
};

/** Linux: is the Vulkan loader (libvulkan.so.1) where the dynamic linker looks? (Dawn needs it for any adapter.) */
export function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/usr/lib',
    '/lib64',
    '/lib',
    `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/local/lib',
  ];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

/**
 * Linux: the Vulkan driver manifests (ICD .json files) the Vulkan loader would read, searched the way it searches:
 * VK_DRIVER_FILES / VK_ICD_FILENAMES (files or folders) replace the search path when set; VK_ADD_DRIVER_FILES adds to
 * it; otherwise `vulkan/icd.d` under XDG_CONFIG_HOME, XDG_CONFIG_DIRS, /etc, XDG_DATA_HOME and XDG_DATA_DIRS.
 */
export function vulkanDriverManifests(
  env: NodeJS.ProcessEnv = process.env,
  home = process.env.HOME ?? '',
): { files: string[]; searched: string[]; explicit: boolean } {
  const list = (v: string | undefined) => (v ?? '').split(':').filter(Boolean);
  const explicitList = list(env.VK_DRIVER_FILES).length ? list(env.VK_DRIVER_FILES) : list(env.VK_ICD_FILENAMES);
  const searched = explicitList.length
    ? explicitList
    : [
        ...(env.XDG_CONFIG_HOME ? [env.XDG_CONFIG_HOME] : home ? [path.join(home, '.config')] : []),
        ...(list(env.XDG_CONFIG_DIRS).length ? list(env.XDG_CONFIG_DIRS) : ['/etc/xdg']),
        '/usr/local/etc',
        '/etc',
        ...(env.XDG_DATA_HOME ? [env.XDG_DATA_HOME] : home ? [path.join(home, '.local', 'share')] : []),
        ...(list(env.XDG_DATA_DIRS).length ? list(env.XDG_DATA_DIRS) : ['/usr/local/share', '/usr/share']),
      ].map((d) => path.join(d, 'vulkan', 'icd.d'));
  const all = [...searched, ...list(env.VK_ADD_DRIVER_FILES)];
  const files: string[] = [];
  for (const p of all) {
    try {
      if (fs.statSync(p).isDirectory()) {
        for (const f of fs.readdirSync(p).sort()) if (f.endsWith('.json')) files.push(path.join(p, f));
      } else if (p.endsWith('.json')) {
        files.push(p);
      }
    } catch {
      // absent: the loader skips it too
    }
  }
  return { files, searched: all, explicit: explicitList.length > 0 };
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render|microsoft basic|software/i;

/** Reads the adapter's identity and limits; `software` is true for emulated adapters. */
export function describeAdapter(adapter: AdapterLike): AdapterReport {
  const info = (adapter.info ?? {}) as Record<string, unknown>;
  const s = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : '');
  const vendor = s('vendor');
  const architecture = s('architecture');
  const device = s('device');
  const description = s('description');
  const fallback =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    s('type') === 'CPU' ||
    s('adapterType') === 'cpu';
  const software = fallback || SOFTWARE.test(`${vendor} ${architecture} ${device} ${description}`);
  const lim = (k: string) => Number(adapter.limits[k] ?? 0);
  return {
    vendor,
    architecture,
    device,
    description,
    software,
    limits: {
      maxBufferSize: lim('maxBufferSize'),
      maxStorageBufferBindingSize: lim('maxStorageBufferBindingSize'),
      maxComputeWorkgroupStorageSize: lim('maxComputeWorkgroupStorageSize'),
    },
    features: [...adapter.features].sort(),
  };
}

/** One line naming the adapter, e.g. "NVIDIA GeForce RTX 4070 (nvidia, ada, Vulkan)". */
export function adapterLabel(a: AdapterReport): string {
  const name = a.description || a.device || a.vendor || 'unknown adapter';
  const tags = [a.vendor, a.architecture].filter((x) => x && !name.toLowerCase().includes(x.toLowerCase()));
  return `${name}${tags.length ? ` (${tags.join(', ')})` : ''}${a.software ? ' [software, emulated on the CPU]' : ''}`;
}

function noAdapterMessage(): string {
  const base = 'Dawn found no WebGPU adapter';
  if (process.platform === 'linux') {
    if (!vulkanLoaderPresent()) {
      return (
        `${base}: the Vulkan loader is not installed (Debian/Ubuntu: \`apt-get install libvulkan1\`, plus your GPU's Vulkan ` +
        `driver: mesa-vulkan-drivers for AMD/Intel, the NVIDIA driver's Vulkan ICD for NVIDIA)`
      );
    }
    return (
      `${base}: no Vulkan driver for a GPU here (install mesa-vulkan-drivers for AMD/Intel or the NVIDIA driver; ` +
      `\`vulkaninfo --summary\` lists what Vulkan sees${process.env.VK_ICD_FILENAMES ? `; VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES} restricts it` : ''})`
    );
  }
  if (process.platform === 'win32') return `${base}: update the GPU driver (Dawn uses Direct3D 12)`;
  if (process.platform === 'darwin') return `${base}: Dawn uses Metal (macOS 11 or newer)`;
  return base;
}

export interface ProbeResult {
  globals?: Record<string, unknown>;
  adapter: AdapterLike;
  report: AdapterReport;
  gpu: GpuLike;
  dawnVersion?: string;
}

/** Loads Dawn and asks for the high-performance adapter. Throws WebGpuUnavailable with a message saying what to do. */
export async function probeWebGpu(loader: DawnLoader = loadDawn): Promise<ProbeResult> {
  const dawn = await loader();
  let gpu: GpuLike;
  let adapter: AdapterLike | null;
  try {
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new WebGpuUnavailable('error', `Dawn could not enumerate adapters: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!adapter) {
    throw new WebGpuUnavailable(
      process.platform === 'linux' && !vulkanLoaderPresent() ? 'no-vulkan' : 'no-adapter',
      noAdapterMessage(),
    );
  }
  return { adapter, report: describeAdapter(adapter), gpu, globals: dawn.globals, dawnVersion: dawn.version };
}

/** What went wrong on the device during a run (read at each log interval; see DeviceWatch.check). */
export class GpuDeviceError extends Error {
  constructor(
    readonly kind: 'lost' | 'out-of-memory' | 'error',
    message: string,
  ) {
    super(message);
    this.name = 'GpuDeviceError';
  }
}

/** Records device loss and uncaptured errors (WebGPU reports them asynchronously, never as exceptions). */
export class DeviceWatch {
  lost: { reason?: string; message?: string } | null = null;
  errors: Array<{ kind: string; message: string }> = [];

  constructor(device: DeviceLike) {
    void device.lost.then((info) => {
      this.lost = info ?? {};
    });
    device.addEventListener?.('uncapturederror', (e) => {
      const kind = e.error?.constructor?.name ?? 'GPUError';
      if (this.errors.length < 20) this.errors.push({ kind, message: (e.error?.message ?? '').split('\n')[0] });
    });
  }

  /**
   * A read-back that failed (a lost device aborts pending mappings): waits briefly for the device's own report and
   * throws that, so the user reads "device lost" rather than "AbortError"; rethrows `e` when the device is fine.
   */
  async explain(e: unknown): Promise<never> {
    for (let i = 0; i < 20 && !this.lost && !this.errors.length; i++) await new Promise((r) => setTimeout(r, 10));
    this.check();
    throw e;
  }

  /** Throws a GpuDeviceError when the device was lost or an error was reported since the last call. */
  check(): void {
    if (this.lost) {
      throw new GpuDeviceError(
        'lost',
        `the GPU device was lost (${this.lost.reason ?? 'unknown'}${this.lost.message ? `: ${this.lost.message}` : ''}); ` +
          'nothing after the last checkpoint was saved. A driver reset or sleep can cause this: resume the run (on any backend)',
      );
    }
    const err = this.errors.shift();
    if (!err) return;
    this.errors.length = 0;
    if (/OutOfMemory/i.test(err.kind) || /out of memory/i.test(err.message)) {
      throw new GpuDeviceError(
        'out-of-memory',
        `the GPU ran out of memory (${err.message}); lower the batch size or the model's ` +
          'channels, or close other programs that use the GPU, then resume the run',
      );
    }
    throw new GpuDeviceError('error', `the GPU reported ${err.kind}: ${err.message}`);
  }
}

let active: {
  watch: DeviceWatch;
  device: DeviceLike;
  report: AdapterReport;
  version: string;
  dawnVersion?: string;
  loader: DawnLoader;
} | null = null;

/** The device watch of the active webgpu backend, or null when another backend runs. */
export function webgpuDeviceWatch(): DeviceWatch | null {
  return active && tf.getBackend() === 'webgpu' ? active.watch : null;
}

/** The active webgpu device (tests use it to simulate device loss). */
export function webgpuDevice(): DeviceLike | null {
  return active?.device ?? null;
}

export interface WebGpuInfo {
  version: string;
  adapter: AdapterReport;
  dawnVersion?: string;
}

/**
 * Activates tfjs-backend-webgpu on the probed adapter. `allowSoftware` false (auto) refuses an emulated adapter.
 */
export async function selectWebGpu(opts: { allowSoftware: boolean; loader?: DawnLoader }): Promise<WebGpuInfo> {
  const loader = opts.loader ?? loadDawn;
  if (active && active.loader !== loader) {
    // Another Dawn (tests inject fixed adapter lists): drop the old device and its backend.
    if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
    active.device.destroy();
    active = null;
  }
  if (active && tf.findBackend('webgpu')) {
    if (!opts.allowSoftware && active.report.software) {
      throw new WebGpuUnavailable('software-adapter', `the only adapter is ${adapterLabel(active.report)}`);
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error(`tf.setBackend('webgpu') failed`);
    useSoftwareKernels(active.report.software);
    return { version: active.version, adapter: active.report, dawnVersion: active.dawnVersion };
  }
  const probe = await probeWebGpu(loader);
  if (probe.report.software && !opts.allowSoftware) {
    throw new WebGpuUnavailable('software-adapter', `the only adapter is ${adapterLabel(probe.report)}`);
  }
  let mod: typeof import('@tensorflow/tfjs-backend-webgpu');
  try {
    mod = await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new WebGpuUnavailable(
      'no-package',
      `the npm package @tensorflow/tfjs-backend-webgpu could not be loaded (${(e as Error).message.split('\n')[0]}); ${INSTALL_HINT}`,
    );
  }
  // tfjs-backend-webgpu looks for navigator.gpu (Node 20 has no navigator; Node 21+ has one without gpu).
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (!g.navigator)
    Object.defineProperty(globalThis, 'navigator', {
      value: { userAgent: `Node.js/${process.version}` },
      configurable: true,
      writable: true,
    });
  if (!g.navigator!.gpu) Object.defineProperty(g.navigator!, 'gpu', { value: probe.gpu, configurable: true });
  // …and WebGPU's globals (GPUBufferUsage, GPUMapMode, GPUTextureUsage, …), which Node does not define.
  for (const [k, v] of Object.entries(probe.globals ?? {}))
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  const adapter = probe.adapter;
  const lim = adapter.limits;
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  let device: DeviceLike;
  try {
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
        maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
      },
    });
  } catch (e) {
    throw new WebGpuUnavailable(
      'error',
      `the adapter ${adapterLabel(probe.report)} refused to create a device: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  const watch = new DeviceWatch(device);
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  const Backend = mod.WebGPUBackend as unknown as new (device: unknown, info: unknown) => tf.KernelBackend;
  tf.registerBackend('webgpu', () => new Backend(device, adapter.info), 0);
  if (!(await tf.setBackend('webgpu'))) {
    device.destroy();
    throw new WebGpuUnavailable('error', `tf.setBackend('webgpu') failed on ${adapterLabel(probe.report)}`);
  }
  await tf.ready();
  registerWebGpuAdamKernels();
  registerWebGpuGroupNormKernels();
  // A software adapter emulates workgroup barriers slowly: matmul, transpose and reductions go barrier-free there.
  useSoftwareKernels(probe.report.software);
  const version = tfjsWebgpuVersion;
  active = { watch, device, report: probe.report, version, dawnVersion: probe.dawnVersion, loader };
  return { version, adapter: probe.report, dawnVersion: probe.dawnVersion };
}

/** GPU bytes held by tfjs on the active webgpu backend (0 elsewhere). */
export function gpuBytes(): number {
  const m = tf.memory() as unknown as { numBytesInGPU?: number };
  return tf.getBackend() === 'webgpu' ? Number(m.numBytesInGPU ?? 0) : 0;
}
