// `npm test`: the unit suites (node:test, one file per process, in sequence) and then the real-VS-Code end-to-end
// tests (test/e2e/run.mjs). Streams everything, then prints one closing line "tests: N passed, N failed".
// Env: SKIP_E2E=1 runs the unit suites only (the e2e tests need test/e2e/install.sh: chromium + code-server).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const unitDir = path.join(REPO, 'test/unit');
const files = fs.readdirSync(unitDir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test/unit', f));

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
// The unit suites need Debian packages too (chromium for the webview tests and, with libvulkan1, SwiftShader's Vulkan
// driver for the webgpu tests): the install script's apt step (quick when they are there; E2E_SKIP_APT=1 never calls apt).
if (!process.env.E2E_SKIP_INSTALL) {
  const pre = await run('bash', ['test/e2e/install.sh', '--apt-only']);
  if (pre.code !== 0) {
    console.log('\ntests: 0 passed, 1 failed (installing the Debian packages the tests need failed; see above)');
    process.exit(1);
  }
}
// ... and the npm packages they read that are not dependencies (the emoji sprites): installed once, as distill does.
const data = await run(process.execPath, ['--import', 'tsx', 'test/ensure-data.ts']);
if (data.code !== 0) {
  console.log('\ntests: 0 passed, 1 failed (installing the npm packages the tests read failed; see above)');
  process.exit(1);
}
const unit = await run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
passed += last(/^# pass (\d+)$/gm, unit.out) ?? 0;
failed += last(/^# fail (\d+)$/gm, unit.out) ?? (unit.code ? 1 : 0);
if (unit.code !== 0 && failed === 0) failed = 1;

if (!process.env.SKIP_E2E) {
  const e2e = await run(process.execPath, ['test/e2e/run.mjs'], { E2E_SKIP_BUILD: '' });
  const m = [...e2e.out.matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (e2e.code !== 0 && (!m || Number(m[2]) === 0)) failed += 1;
}

console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
