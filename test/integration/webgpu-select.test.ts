/**
 * Choosing WebGPU: `auto` takes a hardware adapter and never a software one, falls back when Dawn or an adapter is
 * missing, an explicit `webgpu` accepts SwiftShader with a warning, `distill backends` names the adapter, and a bundle
 * without the `webgpu` package says how to install it. Real Dawn + SwiftShader underneath (stubbed adapter lists only
 * where a machine without a GPU cannot show the case).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/engine/backend/select';
import { describeBackends, formatBackends } from '../../src/engine/backend/report';
import { describeAdapter, adapterLabel, vulkanDriverManifests } from '../../src/engine/backend/webgpu';
import { dawnWithAdapterInfo, missingDawn, useSwiftShader } from '../helpers/gpu';

useSwiftShader();
const REPO = path.resolve(__dirname, '../..');

test('describeAdapter: software adapters are recognised by flag or by name', () => {
  const mk = (info: Record<string, unknown>) =>
    describeAdapter({
      info,
      limits: { maxBufferSize: 1 },
      features: new Set<string>(),
      requestDevice: async () => {
        throw new Error('no');
      },
    });
  assert.equal(
    mk({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }).software,
    true,
  );
  assert.equal(mk({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }).software, true);
  assert.equal(mk({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }).software, true);
  assert.equal(mk({ vendor: 'x', description: 'y', isFallbackAdapter: true }).software, true);
  const hw = mk({ vendor: 'nvidia', architecture: 'ada', description: 'NVIDIA GeForce RTX 4070' });
  assert.equal(hw.software, false);
  assert.equal(adapterLabel(hw), 'NVIDIA GeForce RTX 4070 (ada)');
});

test('distill backends on this machine: SwiftShader found, marked software, auto does not pick it', async () => {
  const r = await describeBackends();
  const wg = r.backends.find((b) => b.name === 'webgpu')!;
  assert.equal(wg.available, true, wg.detail);
  assert.equal(wg.adapter!.software, true);
  assert.match(wg.adapter!.description, /SwiftShader/);
  assert.ok(
    wg.adapter!.limits.maxBufferSize >= 256 * 2 ** 20 &&
      wg.adapter!.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20,
    JSON.stringify(wg.adapter!.limits),
  );
  assert.notEqual(r.auto, 'webgpu');
  assert.equal(r.auto, 'wasm');
  const text = formatBackends(r);
  assert.match(text, /webgpu +CPU +SwiftShader driver .*software, emulated on the CPU.*max buffer \d+ MiB/);
  assert.match(text, /tensorflow-gpu .*not installed/);
  assert.match(text, /npm install @tensorflow\/tfjs-node-gpu/);
});

test('auto: Dawn not installed → wasm, and the note says why; explicit webgpu says what to install', async () => {
  const info = await selectBackend({ backend: 'auto', threads: 1, dawnLoader: missingDawn });
  assert.equal(info.name, 'wasm');
  assert.match(info.note!, /webgpu: the npm package `webgpu`.*not installed/);
  await assert.rejects(selectBackend({ backend: 'webgpu', dawnLoader: missingDawn }), /npm install webgpu/);
});

test('auto: no adapter → wasm; explicit webgpu names the driver to install', async () => {
  const none = dawnWithAdapterInfo(null);
  const info = await selectBackend({ backend: 'auto', threads: 1, dawnLoader: none });
  assert.equal(info.name, 'wasm');
  assert.match(info.note!, /webgpu: Dawn found no WebGPU adapter/);
  await assert.rejects(selectBackend({ backend: 'webgpu', dawnLoader: none }), /no WebGPU adapter.*(Vulkan|driver)/);
});

test('auto never trains on a software adapter', async () => {
  const info = await selectBackend({ backend: 'auto', threads: 1 });
  assert.equal(info.name, 'wasm');
  assert.match(info.note!, /webgpu: the only adapter is SwiftShader.*auto never trains on an emulated GPU/);
});

test('explicit webgpu on SwiftShader: runs, with a warning that it is emulated', async () => {
  const info = await selectBackend({ backend: 'webgpu' });
  assert.equal(info.name, 'webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  assert.equal(info.adapter!.software, true);
  assert.match(info.warning!, /emulated on the CPU/);
  const y = tf.tidy(() => tf.sum(tf.mul(tf.range(0, 100), 2)));
  assert.equal((await y.data())[0], 9900);
  y.dispose();
});

test('auto picks a hardware adapter over wasm', async () => {
  const gpu = dawnWithAdapterInfo({
    vendor: 'nvidia',
    architecture: 'ada',
    description: 'NVIDIA GeForce RTX 4070 (test stub)',
  });
  const info = await selectBackend({ backend: 'auto', threads: 1, dawnLoader: gpu });
  assert.equal(info.name, 'webgpu', info.note);
  assert.equal(info.adapter!.software, false);
  assert.equal(info.warning, undefined);
  const y = tf.tidy(() => tf.sum(tf.square(tf.range(0, 10))));
  assert.equal((await y.data())[0], 285);
  y.dispose();
});

test('a bundle without the webgpu package: `distill backends --json` says it is not installed and how to get it', () => {
  const cli = path.join(REPO, 'dist', 'cli.js');
  assert.ok(fs.existsSync(cli), 'run npm run build first (npm test does)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-nodawn-'));
  try {
    fs.copyFileSync(cli, path.join(dir, 'cli.js'));
    const r = spawnSync(process.execPath, [path.join(dir, 'cli.js'), 'backends', '--json'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as {
      backends: { name: string; available: boolean; detail: string; fix?: string }[];
      auto: string;
    };
    const wg = rep.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, false);
    assert.match(wg.detail, /`webgpu`.*not installed/);
    assert.match(wg.fix!, /npm install webgpu/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('vulkanDriverManifests searches as the Vulkan loader does: XDG folders, or only VK_ICD_FILENAMES / VK_DRIVER_FILES', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-icd-'));
  try {
    const data = path.join(dir, 'data');
    fs.mkdirSync(path.join(data, 'vulkan', 'icd.d'), { recursive: true });
    fs.writeFileSync(path.join(data, 'vulkan', 'icd.d', 'gpu_icd.x86_64.json'), '{}');
    fs.writeFileSync(path.join(data, 'vulkan', 'icd.d', 'README'), '');
    const extra = path.join(dir, 'extra.json');
    fs.writeFileSync(extra, '{}');
    const empty = path.join(dir, 'empty');
    const base = { XDG_CONFIG_HOME: empty, XDG_CONFIG_DIRS: empty, XDG_DATA_HOME: empty };
    // The search path: only .json files count.
    const found = vulkanDriverManifests({ ...base, XDG_DATA_DIRS: `${empty}:${data}` }, dir);
    assert.deepEqual(found.files, [path.join(data, 'vulkan', 'icd.d', 'gpu_icd.x86_64.json')]);
    assert.equal(found.explicit, false);
    assert.ok(found.searched.includes('/etc/vulkan/icd.d'), found.searched.join());
    // Nothing there: no manifest.
    const none = vulkanDriverManifests({ ...base, XDG_DATA_DIRS: empty }, dir);
    assert.ok(none.files.every((f) => !f.startsWith(dir)));
    // VK_ICD_FILENAMES replaces the search path (a folder or files); VK_ADD_DRIVER_FILES adds to it.
    assert.deepEqual(
      vulkanDriverManifests({ ...base, XDG_DATA_DIRS: data, VK_ICD_FILENAMES: path.join(dir, 'nope.json') }, dir),
      { files: [], searched: [path.join(dir, 'nope.json')], explicit: true },
    );
    assert.deepEqual(
      vulkanDriverManifests({ VK_ICD_FILENAMES: path.join(data, 'vulkan', 'icd.d'), VK_ADD_DRIVER_FILES: extra }, dir)
        .files,
      [path.join(data, 'vulkan', 'icd.d', 'gpu_icd.x86_64.json'), extra],
    );
    assert.deepEqual(
      vulkanDriverManifests({ VK_DRIVER_FILES: extra, VK_ICD_FILENAMES: path.join(dir, 'nope.json') }, dir).files,
      [extra],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no Vulkan driver: `distill backends` says so and Dawn is never asked (no "vkCreateInstance" noise on stderr)', () => {
  const cli = path.join(REPO, 'dist', 'cli.js');
  assert.ok(fs.existsSync(cli), 'run npm run build first (npm test does)');
  const missing = path.join(os.tmpdir(), 'dd-no-such-icd.json');
  const r = spawnSync(process.execPath, [cli, 'backends', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, VK_ICD_FILENAMES: missing, VK_DRIVER_FILES: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /vkCreateInstance|Warning/, r.stderr);
  const rep = JSON.parse(r.stdout) as {
    backends: { name: string; available: boolean; detail: string }[];
    auto: string;
  };
  const wg = rep.backends.find((b) => b.name === 'webgpu')!;
  assert.equal(wg.available, false);
  assert.equal(
    wg.detail,
    `VK_ICD_FILENAMES names no Vulkan driver manifest that exists (${missing}); point it at the driver's ICD .json, or unset it`,
  );
  assert.equal(rep.auto, 'wasm');
});

test('DeviceWatch: out of GPU memory, other GPU errors and a lost device each become one clear error', async () => {
  const { DeviceWatch } = await import('../../src/engine/backend/webgpu');
  let fire: (e: { error?: { message?: string; constructor?: { name?: string } } }) => void = () => undefined;
  let lose: (i: { reason?: string; message?: string }) => void = () => undefined;
  const device = {
    lost: new Promise<{ reason?: string; message?: string }>((r) => {
      lose = r;
    }),
    addEventListener: (_t: 'uncapturederror', fn: typeof fire) => {
      fire = fn;
    },
    destroy: () => undefined,
  };
  const watch = new DeviceWatch(device);
  watch.check(); // nothing yet
  class GPUOutOfMemoryError {
    constructor(readonly message: string) {}
  }
  fire({ error: new GPUOutOfMemoryError('Out of memory while creating a 4 GiB buffer') });
  assert.throws(
    () => watch.check(),
    /the GPU ran out of memory \(Out of memory.*lower the batch size or the model's channels.*resume the run/,
  );
  watch.check(); // reported once
  class GPUValidationError {
    constructor(readonly message: string) {}
  }
  fire({
    error: new GPUValidationError(
      'The number of storage buffers (28) exceeds the maximum per-stage limit (8).\n - While …',
    ),
  });
  assert.throws(
    () => watch.check(),
    /^GpuDeviceError: the GPU reported GPUValidationError: The number of storage buffers \(28\)[^\n]*$/,
  );
  lose({ reason: 'unknown', message: 'driver reset' });
  await new Promise((r) => setTimeout(r, 0));
  assert.throws(
    () => watch.check(),
    /the GPU device was lost \(unknown: driver reset\).*resume the run \(on any backend\)/,
  );
  await assert.rejects(watch.explain(new Error('AbortError')), /GPU device was lost/);
});
