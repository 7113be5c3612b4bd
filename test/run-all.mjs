// `npm test`: the static checks (test/check.mjs: typecheck, lint, format, unused exports; counted as one test), the
// unit suites (test/unit: in-process and fast), the integration suites (test/integration: child processes, the built
// dist/ bundles, headless Chromium, a one-node Slurm cluster, and training runs that take minutes) — node:test, one
// file per process, in sequence — and then the real-VS-Code end-to-end tests (test/e2e/run.mjs). Streams everything,
// then prints one closing line "tests: N passed, N failed".
// Env: SKIP_E2E=1 leaves out the e2e tests (they need test/e2e/install.sh: chromium + code-server).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecks } from './check.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const suites = (dir) =>
  fs
    .readdirSync(path.join(REPO, dir))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(dir, f));

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => process.stderr.write(d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const last = (re, text) => {
  const all = [...text.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
};

let passed = 0;
let failed = 0;
const notes = [];

const failedChecks = await runChecks();
if (failedChecks.length) {
  failed += 1;
  notes.push(`check failed: ${failedChecks.join(', ')}`);
  console.log(`\ncheck: failed: ${failedChecks.join(', ')} (npm run check)`);
} else passed += 1;

// The suites need Debian packages too (chromium for the webview tests and, with libvulkan1, SwiftShader's Vulkan
// driver for the webgpu tests): the install script's apt step (quick when they are there; E2E_SKIP_APT=1 never calls apt).
if (!process.env.E2E_SKIP_INSTALL) {
  const pre = await run('bash', ['test/e2e/install.sh', '--apt-only']);
  if (pre.code !== 0) {
    console.log(
      `\ntests: ${passed} passed, ${failed + 1} failed (installing the Debian packages the tests need failed; see above)`,
    );
    process.exit(1);
  }
}
// ... and the npm packages the integration suites read that are not dependencies (the emoji sprites): installed once,
// as distill does.
const data = await run(process.execPath, ['--import', 'tsx', 'test/ensure-data.ts']);
if (data.code !== 0) {
  console.log(
    `\ntests: ${passed} passed, ${failed + 1} failed (installing the npm packages the tests read failed; see above)`,
  );
  process.exit(1);
}

for (const dir of ['test/unit', 'test/integration']) {
  const r = await run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...suites(dir)]);
  const p = last(/^# pass (\d+)$/gm, r.out) ?? 0;
  let f = last(/^# fail (\d+)$/gm, r.out) ?? (r.code ? 1 : 0);
  if (r.code !== 0 && f === 0) f = 1;
  console.log(`\n${dir}: ${p} passed, ${f} failed`);
  passed += p;
  failed += f;
}

if (!process.env.SKIP_E2E) {
  const e2e = await run(process.execPath, ['test/e2e/run.mjs'], { E2E_SKIP_BUILD: '' });
  const m = [...e2e.out.matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (e2e.code !== 0 && (!m || Number(m[2]) === 0)) failed += 1;
}

if (notes.length) console.log(`\n${notes.join('\n')}`);
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
