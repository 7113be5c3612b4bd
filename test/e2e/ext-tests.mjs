// Runs the extension's Mocha integration suite (dist/test/suite/index.js, exporting run() like
// @vscode/test-electron expects) inside the REAL Node extension host of a running VS Code server.
// The web workbench takes extensionDevelopmentPath / extensionTestsPath from the `payload` URL parameter
// (the server must run with --enable-smoke-test-driver, see server.mjs); the extension host loads the
// extension from the development path, calls run() and exits; the workbench then calls
// window.codeAutomationExit(code) — the only place that tells pass (0) from fail (the server log says 0).
// Mocha's output arrives through window.codeAutomationLog.
//
// API: await runExtensionTests({ baseUrl, extDir, testsIndex, workspace, outDir, timeoutMs })
//        -> { code, passed, failed, output }
// CLI: node test/e2e/ext-tests.mjs BASE_URL [EXT_DIR] [TESTS_INDEX_JS] [WORKSPACE] [TIMEOUT_S]
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { fileURLToPath } from 'node:url';
import { launch, workbenchUrl } from './browser.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Counts from Mocha's spec reporter ("  12 passing (3s)", "  1 failing", "  2 pending"). */
export function mochaCounts(text) {
  const n = (re) => {
    const m = [...text.matchAll(re)].pop();
    return m ? Number(m[1]) : 0;
  };
  return {
    passed: n(/^\s*(\d+) passing\b/gm),
    failed: n(/^\s*(\d+) failing\b/gm),
    pending: n(/^\s*(\d+) pending\b/gm),
  };
}

export async function runExtensionTests({
  baseUrl,
  extDir = REPO,
  testsIndex = path.join(REPO, 'dist/test/suite/index.js'),
  workspace,
  outDir = path.join(REPO, 'test-artifacts/e2e'),
  timeoutMs = 180_000,
  log = console.log,
}) {
  if (!fs.existsSync(testsIndex)) throw new Error(`extension test suite ${testsIndex} not found (is it built?)`);
  if (!fs.existsSync(path.join(extDir, 'package.json'))) throw new Error(`no extension in ${extDir}`);
  fs.mkdirSync(outDir, { recursive: true });
  const authority = new URL(baseUrl).host; // the server uses the Host header as the remote authority
  const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
  const payload = [
    ['extensionDevelopmentPath', remote(extDir)],
    ['extensionTestsPath', remote(testsIndex)],
    ['skipWelcome', 'true'],
  ];
  const lines = [];
  const out = (line) => {
    lines.push(line);
    log(line);
  };
  const browser = await launch(baseUrl, { log: out });
  const { page } = browser;
  let code;
  try {
    let resolveExit;
    const exited = new Promise((r) => {
      resolveExit = r;
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const line = util.format(...(Array.isArray(args) ? args : [args]));
      out(type === 'info' || type === 'log' ? line : `[${type}] ${line}`);
    });
    await page.exposeFunction('codeAutomationExit', (c, logs) => resolveExit({ code: c, logs }));
    page.on('pageerror', (e) => out(`[pageerror] ${e.message}`));
    await page.goto(workbenchUrl(baseUrl, workspace, payload));
    const timer = setTimeout(() => resolveExit({ code: 'timeout' }), timeoutMs);
    const res = await exited;
    clearTimeout(timer);
    code = res.code;
    if (Array.isArray(res.logs)) {
      const dir = path.join(outDir, 'ext-tests-workbench-logs');
      for (const l of res.logs) {
        const f = path.join(dir, l.relativePath);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, l.contents);
      }
    }
    if (code !== 0) await page.screenshot({ path: path.join(outDir, 'ext-tests-failure.png') }).catch(() => {});
  } finally {
    await browser.close();
  }
  const output = lines.join('\n');
  fs.writeFileSync(path.join(outDir, 'ext-tests.log'), output + '\n');
  let { passed, failed, pending } = mochaCounts(output);
  if (code === 'timeout') {
    out(`[ext-tests] no codeAutomationExit within ${timeoutMs / 1000}s: the payload was ignored or the suite hung`);
    failed = Math.max(failed, 1);
  } else if (code !== 0 && failed === 0) {
    out(
      `[ext-tests] the extension host exited with code ${code} without a Mocha failure count (suite did not load or run() threw)`,
    );
    failed = 1;
  } else if (code === 0 && passed === 0) {
    out('[ext-tests] exit code 0 but no "N passing" line: no test ran');
    failed = Math.max(failed, 1);
  }
  log(`[ext-tests] requests that left the test server: ${browser.external.length}`);
  if (browser.external.length) {
    out(`[ext-tests] ${browser.external.length} request(s) left the test server`);
    failed += 1;
  }
  return { code, passed, failed, pending, output, external: browser.external };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [baseUrl, extDir, testsIndex, workspace, timeoutS = '180'] = process.argv.slice(2);
  if (!baseUrl) {
    console.error('usage: node test/e2e/ext-tests.mjs BASE_URL [EXT_DIR] [TESTS_INDEX_JS] [WORKSPACE] [TIMEOUT_S]');
    process.exit(2);
  }
  fs.mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
  const ws = workspace || fs.mkdtempSync(path.join(REPO, 'test-artifacts', 'ext-tests-ws-'));
  const r = await runExtensionTests({
    baseUrl,
    extDir: extDir || REPO,
    testsIndex: testsIndex || undefined,
    workspace: ws,
    timeoutMs: Number(timeoutS) * 1000,
  });
  console.log(`${r.passed} passed, ${r.failed} failed`);
  process.exit(r.failed === 0 && r.code === 0 ? 0 : 1);
}
