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
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-package-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Entry {
  name: string;
  size: number;
}
interface PackageTool {
  DAWN_TARGETS: Record<string, string>;
  dawnFiles(target: string): [string, string][];
  zipEntries(file: string): Entry[];
  vsixTarget(file: string): string | undefined;
  extractVsix(file: string, dir: string): void;
  zipRead(file: string, entry: Entry): Buffer;
  vsixName(target?: string): string;
}
const load = async (): Promise<PackageTool> => (await import(path.join(REPO, 'tools', 'package.mjs'))) as PackageTool;
const OTHER_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-universal', 'win32-x64', 'win32-arm64'];

describe('which Dawn files a target carries', () => {
  it('every VS Code target with a Dawn build maps to its folder; only that folder is taken', async () => {
    const p = await load();
    assert.deepEqual(p.DAWN_TARGETS, {
      'linux-x64': 'linux-x64',
      'linux-arm64': 'linux-arm64',
      'darwin-x64': 'darwin-universal',
      'darwin-arm64': 'darwin-universal',
      'win32-x64': 'win32-x64',
      'win32-arm64': 'win32-arm64',
    });
    for (const [target, folder] of Object.entries(p.DAWN_TARGETS)) {
      const to = p.dawnFiles(target).map(([, t]) => t.split(path.sep).join('/'));
      assert.ok(to.includes(`dist/node_modules/webgpu/dist/${folder}/dawn.node`), `${target}: ${to.join(', ')}`);
      for (const f of ['index.js', 'package.json', 'LICENSE.md'])
        assert.ok(to.includes(`dist/node_modules/webgpu/${f}`), `${target} carries ${f}`);
      assert.ok(
        to.every((f) => !OTHER_PLATFORMS.filter((o) => o !== folder).some((o) => f.includes(`/dist/${o}/`))),
        `${target}: no other platform`,
      );
      if (target.startsWith('win32')) {
        // dawn.node loads the D3D shader compilers from beside itself.
        assert.ok(
          to.includes(`dist/node_modules/webgpu/dist/${folder}/dxcompiler.dll`) &&
            to.includes(`dist/node_modules/webgpu/dist/${folder}/d3dcompiler_47.dll`),
          to.join(', '),
        );
      }
    }
    assert.equal(p.vsixName(), 'diffusion-distiller.vsix');
    assert.equal(p.vsixName('win32-arm64'), 'diffusion-distiller-win32-arm64.vsix');
  });

  it('targets without a Dawn build, and unknown ones, are refused with the reason', async () => {
    const p = await load();
    assert.throws(
      () => p.dawnFiles('alpine-x64'),
      /no platform package for --target alpine-x64: Dawn's Linux builds need glibc/,
    );
    assert.throws(
      () => p.dawnFiles('linux-armhf'),
      /no platform package for --target linux-armhf: Dawn ships no 32-bit ARM build/,
    );
    assert.throws(
      () => p.dawnFiles('darwin-universal'),
      /unknown --target darwin-universal: not a VS Code target; targets with a Dawn build: linux-x64, .*darwin-x64, darwin-arm64/,
    );
    const r = spawnSync(process.execPath, [path.join(REPO, 'tools', 'package.mjs'), '--target', 'web', '--no-build'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^package: no platform package for --target web: a web extension cannot run the training worker/,
    );
  });
});

const hostTarget = process.platform === 'darwin' ? `darwin-${process.arch}` : `${process.platform}-${process.arch}`;

describe(`npm run package: the universal and the ${hostTarget} .vsix`, { timeout: 240_000 }, () => {
  const pack = (target: string | undefined, out: string) => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist', 'worker.js')), 'dist/ is missing: run `npm run build` first');
    const r = spawnSync(
      process.execPath,
      [path.join(REPO, 'tools', 'package.mjs'), '--no-build', ...(target ? ['--target', target] : []), '--out', out],
      { cwd: REPO, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.ok(!fs.existsSync(path.join(REPO, 'dist', 'node_modules')), 'the staged Dawn copy is removed after packing');
    return r.stdout;
  };
  const backends = (extDir: string): BackendsReport => {
    const r = spawnSync(process.execPath, [path.join(extDir, 'dist', 'cli.js'), 'backends', '--json'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, NODE_PATH: '' },
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
    assert.deepEqual(
      names.filter((n) => n.endsWith('.node')),
      [dawn.name],
      'exactly one native module',
    );
    for (const other of OTHER_PLATFORMS.filter((o) => o !== folder))
      assert.ok(!names.some((n) => n.includes(`/webgpu/dist/${other}/`)), other);
    assert.ok(
      !names.some((n) => /node_modules\/(@tensorflow|webgpu\/node_modules|@webgpu)/.test(n)),
      'nothing else from node_modules',
    );
    assert.equal(p.vsixTarget(file), hostTarget, 'the manifest names the target (VS Code installs it only there)');
    const mib = fs.statSync(file).size / 2 ** 20;
    assert.match(
      stdout,
      new RegExp(
        `platform\\.vsix: ${mib.toFixed(1)} MiB \\(${hostTarget}, with Dawn from node_modules/webgpu/dist/${folder}\\)`,
      ),
    );

    const dir = path.join(tmp, 'platform');
    p.extractVsix(file, dir);
    const r = backends(path.join(dir, 'extension'));
    const wg = r.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, true, wg.detail);
    assert.match(wg.detail, /SwiftShader.*npm webgpu \d+\.\d+\.\d+/);
    assert.equal(wg.adapter?.software, true);
    assert.ok(r.backends.find((b) => b.name === 'wasm')!.available, 'wasm binaries ship too');
  });

  /** The universal .vsix, packed once for the tests below. */
  let universal: { file: string; stdout: string } | undefined;
  const packUniversal = () => {
    const file = path.join(tmp, 'universal.vsix');
    universal ??= { file, stdout: pack(undefined, file) };
    return universal;
  };

  it('the universal .vsix holds no Dawn; unpacked, `distill backends` says how to get webgpu', async () => {
    const p = await load();
    const { file, stdout } = packUniversal();
    const names = p.zipEntries(file).map((e) => e.name);
    assert.ok(
      names.includes('extension/dist/worker.js') && names.includes('extension/dist/wasm/tfjs-backend-wasm-simd.wasm'),
    );
    assert.deepEqual(
      names.filter((n) => n.endsWith('.node') || n.includes('node_modules')),
      [],
    );
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
  it('the universal .vsix ships the README, CHANGELOG, LICENSE, icon, schemas and every picture the README, its guide pages and the walkthrough show', async () => {
    const p = await load();
    const { file } = packUniversal();
    const entries = p.zipEntries(file);
    const names = new Set(entries.map((e) => e.name));
    const read = (name: string) => p.zipRead(file, entries.find((e) => e.name === name)!);
    const has = (rel: string, what: string) =>
      assert.ok(names.has(`extension/${rel}`), `${what}: extension/${rel} is not in the .vsix`);

    // The Marketplace / Extensions view read these through the manifest's assets (vsce names them readme.md, changelog.md, LICENSE.txt).
    const manifest = read('extension.vsixmanifest').toString('utf8');
    const assets = Object.fromEntries(
      [...manifest.matchAll(/<Asset Type="([^"]+)" Path="([^"]+)"/g)].map((m) => [m[1], m[2]]),
    );
    const want: Record<string, [string, string]> = {
      'Microsoft.VisualStudio.Services.Content.Details': ['README.md', 'extension/readme.md'],
      'Microsoft.VisualStudio.Services.Content.Changelog': ['CHANGELOG.md', 'extension/changelog.md'],
      'Microsoft.VisualStudio.Services.Content.License': ['LICENSE', 'extension/LICENSE.txt'],
      'Microsoft.VisualStudio.Services.Icons.Default': [pkg.icon, `extension/${pkg.icon}`],
    };
    for (const [type, [source, entry]] of Object.entries(want)) {
      assert.equal(assets[type], entry, `${type}: ${JSON.stringify(assets)}`);
      assert.ok(names.has(entry), `${entry} is not in the .vsix`);
      assert.deepEqual(read(entry), fs.readFileSync(path.join(REPO, source)), `${entry} is ${source} unchanged`);
    }
    const icon = read(`extension/${pkg.icon}`);
    assert.equal(icon.subarray(1, 4).toString('latin1'), 'PNG', 'the icon is a PNG');
    assert.ok(icon.readUInt32BE(16) >= 128 && icon.readUInt32BE(20) >= 128, 'the Marketplace icon is at least 128×128');

    // Files the manifest points at: schemas of the config editor, the activity-bar icon, the walkthrough's media.
    for (const v of pkg.contributes.jsonValidation) has(v.url.replace(/^\.\//, ''), `jsonValidation ${v.fileMatch}`);
    for (const c of pkg.contributes.viewsContainers.activitybar) has(c.icon, `the ${c.id} activity-bar icon`);
    const walkthroughMedia: string[] = [];
    for (const w of pkg.contributes.walkthroughs) {
      for (const step of w.steps) {
        const m = step.media;
        const files =
          typeof m.image === 'object'
            ? [m.image.light, m.image.dark, m.image.hc, m.image.hcLight]
            : [m.image, m.svg, m.markdown];
        for (const f of files.filter(Boolean)) {
          has(f, `walkthrough step ${step.id}`);
          walkthroughMedia.push(f);
        }
      }
    }
    assert.equal(
      walkthroughMedia.length,
      pkg.contributes.walkthroughs[0].steps.length,
      'one picture per walkthrough step',
    );

    // Relative links of the README (pictures and guide pages) resolve inside the installed extension, and so do the
    // pictures of the guide pages it links to.
    const links = (md: string) =>
      [
        ...[...md.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
        ...[...md.matchAll(/<img[^>]+src="([^"]+)"/g)].map((m) => m[1]),
      ]
        .filter((l) => !/^(https?:|mailto:|command:|#)/.test(l))
        .map((l) => decodeURIComponent(l.split('#')[0]))
        .filter(Boolean);
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const readmeLinks = links(readme);
    assert.ok(
      readmeLinks.includes('media/screenshots/dashboard.png'),
      `the README shows the dashboard: ${readmeLinks.join(', ')}`,
    );
    // vsce stores these three under its own names (the Extensions view shows them as the Changelog and License tabs).
    const renamed: Record<string, string> = Object.fromEntries(
      Object.values(want).map(([source, entry]) => [source, entry.slice('extension/'.length)]),
    );
    const pages = new Set<string>();
    for (const l of readmeLinks) {
      const rel = path.posix.normalize(l);
      assert.ok(!rel.startsWith('..'), `README.md links outside the extension: ${l}`);
      has(renamed[rel] ?? rel, `README.md links ${l}`);
      if (rel.endsWith('.md') && !renamed[rel]) pages.add(rel);
    }
    assert.ok(pages.size > 0, 'the README links its guide pages');
    for (const page of pages) {
      for (const l of links(read(`extension/${page}`).toString('utf8'))) {
        const rel = path.posix.normalize(path.posix.join(path.posix.dirname(page), l));
        if (/\.(png|jpe?g|gif|svg)$/i.test(rel)) has(rel, `${page} shows ${l}`);
      }
    }
    const pictures = readmeLinks.filter((l) => /\.(png|jpe?g|gif|svg)$/i.test(l));
    assert.ok(pictures.length >= 2, `the README shows pictures: ${pictures.join(', ')}`);
  });
});
