/**
 * `distill backends` and the editor's "Distill: Show Backends": every backend, whether it can run here and why not,
 * what `auto` would pick, the WebGPU adapter with its limits and the CUDA devices. Probes without activating anything
 * (no tfjs backend is set, no native TensorFlow is loaded), so it is safe in any process.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createRequire } from 'module';
import { cudaLikelyUsable, logicalCores, resolveWasmDir } from './select';
import { adapterLabel, AdapterReport, DawnLoader, loadDawn, probeWebGpu, vulkanLoaderPresent } from './webgpu';

export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendStatus {
  name: BackendName;
  /** What `--backend` / the config's `backend` calls it. */
  choice: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  available: boolean;
  /** GPU or CPU; for webgpu a software adapter counts as CPU. */
  device: 'gpu' | 'cpu';
  /** One line: what it is here (adapter, version, threads) or why it cannot run. */
  detail: string;
  /** What to do to make it available (absent when it is). */
  fix?: string;
  adapter?: AdapterReport;
  cudaDevices?: string[];
}

export interface BackendsReport {
  platform: string;
  node: string;
  backends: BackendStatus[];
  /** The backend `auto` picks on this machine. */
  auto: BackendName;
}

function resolvable(pkg: string): string | null {
  try {
    const base = typeof __filename === 'string' ? __filename : path.join(process.cwd(), 'index.js');
    return createRequire(base).resolve(`${pkg}/package.json`);
  } catch {
    return null;
  }
}

function packageVersion(pkgJson: string | null): string | undefined {
  if (!pkgJson) return undefined;
  try {
    return (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** NVIDIA GPUs the driver exposes (Linux: /proc/driver/nvidia/gpus/<bus>/information "Model:" lines). */
export function cudaDevices(root = '/proc/driver/nvidia/gpus'): string[] {
  try {
    return fs
      .readdirSync(root)
      .sort()
      .map((bus) => {
        const info = fs.readFileSync(path.join(root, bus, 'information'), 'utf8');
        const model = /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim();
        return `${model ?? 'NVIDIA GPU'} (${bus})`;
      });
  } catch {
    return [];
  }
}

export async function describeBackends(
  opts: { dawnLoader?: DawnLoader; wasmDir?: string } = {},
): Promise<BackendsReport> {
  const backends: BackendStatus[] = [];
  const nativeFix = (pkg: string) =>
    `npm install ${pkg}@4.22.0 in the folder that holds this tool (an opt-in: it downloads libtensorflow, hundreds of MB)`;

  // tfjs-node-gpu: CUDA 11.2 + cuDNN 8.1 only
  const gpuPkg = resolvable('@tensorflow/tfjs-node-gpu');
  const cuda = cudaLikelyUsable();
  const devices = cudaDevices();
  backends.push({
    name: 'tensorflow-gpu',
    choice: 'tensorflow',
    device: 'gpu',
    available: !!gpuPkg && cuda,
    detail: gpuPkg
      ? cuda
        ? `@tensorflow/tfjs-node-gpu ${packageVersion(gpuPkg) ?? ''} installed; CUDA driver present${devices.length ? `: ${devices.join(', ')}` : ''} (needs CUDA 11.2 + cuDNN 8.1)`
        : '@tensorflow/tfjs-node-gpu installed, but no NVIDIA driver (/proc/driver/nvidia/version)'
      : `@tensorflow/tfjs-node-gpu not installed${cuda ? `; NVIDIA driver present${devices.length ? `: ${devices.join(', ')}` : ''}` : ''}`,
    ...(gpuPkg && cuda
      ? {}
      : {
          fix: gpuPkg
            ? 'install the NVIDIA driver with CUDA 11.2 and cuDNN 8.1; any other GPU: use webgpu'
            : `${nativeFix('@tensorflow/tfjs-node-gpu')}; needs CUDA 11.2 + cuDNN 8.1 exactly — webgpu runs on any GPU without them`,
        }),
    ...(devices.length ? { cudaDevices: devices } : {}),
  });

  // webgpu through Dawn
  try {
    const probe = await probeWebGpu(opts.dawnLoader ?? loadDawn);
    const a = probe.report;
    const lim = `max buffer ${(a.limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB, max storage binding ${(a.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`;
    backends.push({
      name: 'webgpu',
      choice: 'webgpu',
      device: a.software ? 'cpu' : 'gpu',
      available: true,
      adapter: a,
      detail:
        `${adapterLabel(a)}; ${lim}${probe.dawnVersion ? `; npm webgpu ${probe.dawnVersion}` : ''}` +
        (a.software
          ? ' — a software adapter: `auto` skips it, `--backend webgpu` uses it (for checking correctness; slower than wasm)'
          : ''),
      ...(a.software
        ? {
            fix: 'for a real GPU: install its Vulkan driver (Linux), or update the GPU driver (Windows: D3D12, macOS: Metal)',
          }
        : {}),
    });
  } catch (e) {
    const fix = /not installed/.test((e as Error).message)
      ? 'npm install webgpu (Dawn, prebuilt for linux/macOS/Windows; nothing is downloaded at install)'
      : process.platform === 'linux' && !vulkanLoaderPresent()
        ? "apt-get install libvulkan1 and the GPU's Vulkan driver"
        : 'install or update the GPU driver (Linux: with its Vulkan ICD)';
    backends.push({
      name: 'webgpu',
      choice: 'webgpu',
      device: 'gpu',
      available: false,
      detail: (e as Error).message,
      fix,
    });
  }

  // tfjs-node (CPU)
  const cpuPkg = resolvable('@tensorflow/tfjs-node');
  backends.push({
    name: 'tensorflow',
    choice: 'tensorflow',
    device: 'cpu',
    available: !!cpuPkg,
    detail: cpuPkg
      ? `@tensorflow/tfjs-node ${packageVersion(cpuPkg) ?? ''} installed (native TensorFlow on the CPU)`
      : '@tensorflow/tfjs-node not installed',
    ...(cpuPkg ? {} : { fix: nativeFix('@tensorflow/tfjs-node') }),
  });

  // wasm
  let wasmDetail: string;
  let wasmOk = true;
  try {
    const dir = resolveWasmDir(opts.wasmDir);
    wasmDetail = `SIMD build with this project's training kernels, up to ${Math.min(8, logicalCores())} threads (${logicalCores()} cores; data-parallel training on worker threads), binaries in ${dir}`;
  } catch (e) {
    wasmOk = false;
    wasmDetail = (e as Error).message;
  }
  backends.push({
    name: 'wasm',
    choice: 'wasm',
    device: 'cpu',
    available: wasmOk,
    detail: wasmDetail,
    ...(wasmOk ? {} : { fix: 'reinstall (npm ci) or rebuild (npm run build)' }),
  });
  backends.push({
    name: 'cpu',
    choice: 'cpu',
    device: 'cpu',
    available: true,
    detail: 'plain JavaScript (slow; always there)',
  });

  const by = (n: BackendName) => backends.find((b) => b.name === n)!;
  const auto: BackendName = by('tensorflow-gpu').available
    ? 'tensorflow-gpu'
    : by('webgpu').available && !by('webgpu').adapter?.software
      ? 'webgpu'
      : by('tensorflow').available
        ? 'tensorflow'
        : by('wasm').available
          ? 'wasm'
          : 'cpu';
  return { platform: `${process.platform}-${process.arch}`, node: process.version, backends, auto };
}

/** The report as the CLI prints it (and the editor shows it). */
export function formatBackends(r: BackendsReport): string {
  const lines = [`Backends on this machine (${r.platform}, Node ${r.node}); \`auto\` picks: ${r.auto}`, ''];
  for (const b of r.backends) {
    lines.push(`${b.available ? '✔' : '✘'} ${b.name.padEnd(15)} ${b.device === 'gpu' ? 'GPU' : 'CPU'}  ${b.detail}`);
    if (b.fix) lines.push(`  ${' '.repeat(15)}      → ${b.fix}`);
  }
  lines.push(
    '',
    'Choose one with --backend auto|webgpu|tensorflow|wasm|cpu (CLI), "backend" in the config, or the distill.backend setting.',
  );
  return lines.join('\n');
}
