// Packaging (tools/package.mjs, `npm run package [-- --target T]`): which Dawn files each VS Code target carries, the
// refusals, and the real thing — the universal .vsix and this machine's platform .vsix are packed from the current
// build (dist/, made by `npm test` / `npm run build`), their zip listings are inspected, and each is unpacked outside
// the repository and asked `distill backends`: the platform one loads its own dawn.node (SwiftShader answers), the
// universal one says how to get webgpu.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendsReport } from '../../src/protocol';
import { SWIFTSHADER_ICD, useSwiftShader } from '../helpers/gpu';

useSwiftShader();
const REPO = path.resolve(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-package-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Entry { name: string; size: number }
interface PackageTool {
  DAWN_TARGETS: Record<string, string>;
  dawnFiles(target: string): [string, string][];
  zipEntries(file: string): Entry[];
  vsixTarget(file: string): string | undefined;
  extractVsix(file: string, dir: string): void;
  vsixName(target?: string): string;
}
const load = async (): Promise<PackageTool> => (await import(path.join(REPO, 'tools', 'package.mjs'))) as PackageTool;
const OTHER_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-universal', 'win32-x64', 'win32-arm64'];

describe('which Dawn files a target carries', () => {
  it('every VS Code target with a Dawn build maps to its folder; only that folder is taken', async () => {
    const p = await load();
    assert.deepEqual(p.DAWN_TARGETS, {
      'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'darwin-x64': 'darwin-universal', 'darwin-arm64': 'darwin-universal',
      'win32-x64': 'win32-x64', 'win32-arm64': 'win32-arm64',
    });
    for (const [target, folder] of Object.entries(p.DAWN_TARGETS)) {
      const to = p.dawnFiles(target).map(([, t]) => t.split(path.sep).join('/'));
      assert.ok(to.includes(`dist/node_modules/webgpu/dist/${folder}/dawn.node`), `${target}: ${to.join(', ')}`);
      for (const f of ['index.js', 'package.json', 'LICENSE.md']) assert.ok(to.includes(`dist/node_modules/webgpu/${f}`), `${target} carries ${f}`);
      assert.ok(to.every((f) => !OTHER_PLATFORMS.filter((o) => o !== folder).some((o) => f.includes(`/dist/${o}/`))), `${target}: no other platform`);
      if (target.startsWith('win32')) {
        // dawn.node loads the D3D shader compilers from beside itself.
        assert.ok(to.includes(`dist/node_modules/webgpu/dist/${folder}/dxcompiler.dll`) && to.includes(`dist/node_modules/webgpu/dist/${folder}/d3dcompiler_47.dll`), to.join(', '));
      }
    }
    assert.equal(p.vsixName(), 'diffusion-distiller.vsix');
    assert.equal(p.vsixName('win32-arm64'), 'diffusion-distiller-win32-arm64.vsix');
  });

  it('targets without a Dawn build, and unknown ones, are refused with the reason', async () => {
    const p = await load();
    assert.throws(() => p.dawnFiles('alpine-x64'), /no platform package for --target alpine-x64: Dawn's Linux builds need glibc/);
    assert.throws(() => p.dawnFiles('linux-armhf'), /no platform package for --target linux-armhf: Dawn ships no 32-bit ARM build/);
    assert.throws(() => p.dawnFiles('darwin-universal'), /unknown --target darwin-universal: not a VS Code target; targets with a Dawn build: linux-x64, .*darwin-x64, darwin-arm64/);
    const r = spawnSync(process.execPath, [path.join(REPO, 'tools', 'package.mjs'), '--target', 'web', '--no-build'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^package: no platform package for --target web: a web extension cannot run the training worker/);
  });
});

const hostTarget = process.platform === 'darwin' ? `darwin-${process.arch}` : `${process.platform}-${process.arch}`;

describe(`npm run package: the universal and the ${hostTarget} .vsix`, { timeout: 240_000 }, () => {
  const pack = (target: string | undefined, out: string) => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist', 'worker.js')), 'dist/ is missing: run `npm run build` first');
    const r = spawnSync(process.execPath, [path.join(REPO, 'tools', 'package.mjs'), '--no-build', ...(target ? ['--target', target] : []), '--out', out], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.ok(!fs.existsSync(path.join(REPO, 'dist', 'node_modules')), 'the staged Dawn copy is removed after packing');
    return r.stdout;
  };
  const backends = (extDir: string): BackendsReport => {
    const r = spawnSync(process.execPath, [path.join(extDir, 'dist', 'cli.js'), 'backends', '--json'], {
      cwd: tmp, encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, NODE_PATH: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as BackendsReport;
  };

  it(`the ${hostTarget} .vsix holds its dawn.node and no other platform's; unpacked, its worker loads that Dawn`, async () => {
    const p = await load();
    const file = path.join(tmp, `platform.vsix`);
    const stdout = pack(hostTarget, file);
    const entries = p.zipEntries(file);
    const names = entries.map((e) => e.name);
    const folder = p.DAWN_TARGETS[hostTarget];
    const dawn = entries.find((e) => e.name === `extension/dist/node_modules/webgpu/dist/${folder}/dawn.node`);
    assert.ok(dawn, names.join('\n'));
    assert.equal(dawn.size, fs.statSync(path.join(REPO, 'node_modules', 'webgpu', 'dist', folder, 'dawn.node')).size);
    assert.deepEqual(names.filter((n) => n.endsWith('.node')), [dawn.name], 'exactly one native module');
    for (const other of OTHER_PLATFORMS.filter((o) => o !== folder)) assert.ok(!names.some((n) => n.includes(`/webgpu/dist/${other}/`)), other);
    assert.ok(!names.some((n) => /node_modules\/(@tensorflow|webgpu\/node_modules|@webgpu)/.test(n)), 'nothing else from node_modules');
    assert.equal(p.vsixTarget(file), hostTarget, 'the manifest names the target (VS Code installs it only there)');
    const mib = fs.statSync(file).size / 2 ** 20;
    assert.match(stdout, new RegExp(`platform\\.vsix: ${mib.toFixed(1)} MiB \\(${hostTarget}, with Dawn from node_modules/webgpu/dist/${folder}\\)`));

    const dir = path.join(tmp, 'platform');
    p.extractVsix(file, dir);
    const r = backends(path.join(dir, 'extension'));
    const wg = r.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, true, wg.detail);
    assert.match(wg.detail, /SwiftShader.*npm webgpu \d+\.\d+\.\d+/);
    assert.equal(wg.adapter?.software, true);
    assert.ok(r.backends.find((b) => b.name === 'wasm')!.available, 'wasm binaries ship too');
  });

  it('the universal .vsix holds no Dawn; unpacked, `distill backends` says how to get webgpu', async () => {
    const p = await load();
    const file = path.join(tmp, 'universal.vsix');
    const stdout = pack(undefined, file);
    const names = p.zipEntries(file).map((e) => e.name);
    assert.ok(names.includes('extension/dist/worker.js') && names.includes('extension/dist/wasm/tfjs-backend-wasm-simd.wasm'));
    assert.deepEqual(names.filter((n) => n.endsWith('.node') || n.includes('node_modules')), []);
    assert.equal(p.vsixTarget(file), undefined, 'no target: installs everywhere');
    assert.match(stdout, /universal\.vsix: \d+\.\d MiB \(universal: wasm and cpu, no Dawn\)/);
    const dir = path.join(tmp, 'universal');
    p.extractVsix(file, dir);
    const r = backends(path.join(dir, 'extension'));
    const wg = r.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, false);
    assert.match(wg.detail, /the npm package `webgpu` \(Dawn's Node binding\) is not installed/);
    assert.equal(r.auto, 'wasm');
  });
});
