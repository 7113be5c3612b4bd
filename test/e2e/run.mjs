// The end-to-end entry point: install check → build the .vsix → the .vsix installed into an empty extensions folder
// and used → VS Code server → the extension's Mocha suite in the real extension host → the UI flow in chromium → the
// Restricted Mode suite in a second server with Workspace Trust on → stop the servers. Prints "N passed, N failed" last and
// exits non-zero on any failure. Artifacts (screenshots, logs, the workspaces with their run folders) go to
// test-artifacts/e2e/.
//
//   bash test/e2e/install.sh && node test/e2e/run.mjs
//
// Env: E2E_SKIP_INSTALL=1 (do not call install.sh), E2E_SKIP_BUILD=1 (use the existing .vsix / dist),
//      E2E_ONLY=vsix|ext|ui|untrusted (run one part), E2E_TIMEOUT_S (whole-run guard, default 1200).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(REPO, 'test-artifacts/e2e');
const VSIX = path.join(REPO, 'diffusion-distiller.vsix');
const SUITE = path.join(REPO, 'dist/test/suite/index.js');
const UNTRUSTED_SUITE = path.join(REPO, 'dist/test/suite/untrusted.js');
const only = process.env.E2E_ONLY;
const t0 = Date.now();
const lap = (m) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

const results = { passed: [], failed: [] };
const fail = (name, error) => {
  results.failed.push({ name, error });
  lap(`FAIL ${name}: ${error}`);
};

/** Every file under `dir` (recursively) whose name satisfies `want`. */
function findFiles(dir, want, out = []) {
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) findFiles(p, want, out);
    else if (want(e.name)) out.push(p);
  }
  return out;
}

/**
 * On failure, CI shows only this process's output: print the tails of the extension's log channel and of
 * every run's events.jsonl, so a failure can be diagnosed from the CI log alone.
 */
function printDiagnostics() {
  const tail = (file, n) => fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n);
  const files = [
    ...findFiles(path.join(OUT, 'vscode-logs'), (n) => n === 'Distill.log'),
    ...findFiles(OUT, (n) => n === 'events.jsonl'),
  ];
  for (const f of files) {
    console.log(`--- ${path.relative(OUT, f)} (last 40 lines)`);
    for (const line of tail(f, 40)) console.log(`    ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
  }
}

/** `error` events in the test runs (e.g. a data-parallel start that fell back in-process): shown, not failed. */
function printRunErrors() {
  for (const f of findFiles(OUT, (n) => n === 'events.jsonl')) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (!line.includes('"type":"error"')) continue;
      console.log(`note: error event in ${path.relative(OUT, f)}: ${line.slice(0, 400)}`);
    }
  }
}

function finish() {
  console.log('');
  try {
    printRunErrors();
  } catch (e) {
    console.log(`(run errors: ${e.message})`);
  }
  if (results.failed.length) {
    try {
      printDiagnostics();
    } catch (e) {
      console.log(`(diagnostics: ${e.message})`);
    }
  }
  for (const f of results.failed) console.log(`FAIL: ${f.name}\n      ${String(f.error).split('\n').join('\n      ')}`);
  console.log(`artifacts: ${path.relative(process.cwd(), OUT) || OUT}`);
  console.log(`${results.passed.length} passed, ${results.failed.length} failed`);
  process.exit(results.failed.length ? 1 : 0);
}

let server;
let serverDir;
let untrusted;
let untrustedDir;
const guard = setTimeout(
  async () => {
    fail('whole e2e run', `did not finish within ${process.env.E2E_TIMEOUT_S || 1200}s`);
    if (server) await server.stop();
    if (untrusted) await untrusted.stop();
    finish();
  },
  Number(process.env.E2E_TIMEOUT_S || 1200) * 1000,
);
guard.unref();

/** Keeps the workbench / extension-host logs (the extension's output channel is among them). */
function copyLogs(from, to) {
  try {
    fs.cpSync(from, to, { recursive: true });
  } catch {
    /* no logs */
  }
}

function sh(what, cmd, args, opts = {}) {
  lap(`${what}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')} exited ${r.status ?? r.signal})`);
}

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });

// 1. install check (install.sh skips everything already done: ~0.5 s).
try {
  if (!process.env.E2E_SKIP_INSTALL) sh('install check', 'bash', [path.join(REPO, 'test/e2e/install.sh')]);
} catch (e) {
  fail('install', e.message);
  finish();
}

// 2. build: the packaged extension (npm run package → diffusion-distiller.vsix) and the compiled Mocha suite.
if (!process.env.E2E_SKIP_BUILD) {
  try {
    const scripts = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts || {};
    if (!scripts.package)
      throw new Error('package.json has no "package" script (it must build diffusion-distiller.vsix)');
    fs.rmSync(VSIX, { force: true });
    sh('build', 'npm', ['run', '--silent', 'package']);
    if (!fs.existsSync(VSIX)) throw new Error(`npm run package did not produce ${VSIX}`);
  } catch (e) {
    fail('build the .vsix', e.message);
    finish();
  }
}

// 3. the .vsix as a user installs it: code-server --install-extension into an empty extensions folder, then the
//    installed extension's commands (Show Backends, the config schema, Start Run to the end, the dashboard).
if (!only || only === 'vsix') {
  const { runVsixInstallCheck } = await import('./vsix-install.e2e.mjs');
  lap('the .vsix installed into an empty extensions folder');
  try {
    const r = await runVsixInstallCheck({ vsix: VSIX, outDir: path.join(OUT, 'vsix') });
    results.passed.push(...r.passed.map((n) => `vsix: ${n}`));
    results.failed.push(...r.failed.map((f) => ({ name: `vsix: ${f.name}`, error: f.error })));
  } catch (e) {
    fail('vsix install check', e.stack || e.message);
  }
  if (only === 'vsix') finish();
}

const { startServer } = await import('./server.mjs');
const { runExtensionTests } = await import('./ext-tests.mjs');
const { runUiFlow, makeWorkspace } = await import('./ui.e2e.mjs');

// 4. server, with the packaged extension installed.
try {
  const workspace = path.join(OUT, 'workspace');
  makeWorkspace(workspace);
  // The server's folders (extensions, user data, HOME) live outside the repo, as a user's would: an extension
  // installed below the repo would resolve the repo's node_modules at run time and test something no user runs.
  serverDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-server-'));
  server = await startServer({ runDir: serverDir, workspace, vsix: [VSIX] });
  lap(
    `VS Code server ${server.baseUrl} (pid ${server.pid}) up in ${server.startupMs} ms with ${path.basename(VSIX)} installed`,
  );
  process.on('SIGINT', async () => {
    await server.stop();
    process.exit(130);
  });
  process.on('SIGTERM', async () => {
    await server.stop();
    process.exit(143);
  });

  // 5. the Mocha suite inside the real extension host (extensionDevelopmentPath = the repo).
  if (only !== 'ui' && only !== 'untrusted') {
    if (!fs.existsSync(SUITE)) {
      fail('extension Mocha suite', `${path.relative(REPO, SUITE)} not found: the build must compile test/suite/`);
    } else {
      const ws = path.join(OUT, 'ext-tests-workspace');
      fs.mkdirSync(ws, { recursive: true });
      // The editor-budget tests (test/suite/budget.test.ts) measure activation and the Runs view over 50 CLI runs.
      const { makeBudgetRuns } = await import('./budget-runs.mjs');
      const made = makeBudgetRuns(path.join(ws, 'runs'));
      lap(
        `50 CLI-written runs for the budget test (one distill run in ${made.cliMs} ms, events.jsonl ${made.bytes} bytes each)`,
      );
      lap('extension Mocha suite in the extension host');
      const r = await runExtensionTests({
        baseUrl: server.baseUrl,
        extDir: REPO,
        testsIndex: SUITE,
        workspace: ws,
        outDir: OUT,
        timeoutMs: 360_000,
      });
      lap(
        `Mocha: exit ${r.code}, ${r.passed} passing, ${r.failed} failing, ${r.pending} pending (log: ${path.join(OUT, 'ext-tests.log')})`,
      );
      for (let i = 0; i < r.passed; i++) results.passed.push(`mocha #${i + 1}`);
      for (let i = 0; i < r.failed; i++)
        results.failed.push({
          name: `extension Mocha suite (failure ${i + 1} of ${r.failed})`,
          error: `see ${path.join(OUT, 'ext-tests.log')}`,
        });
      if (r.failed) lap(`FAIL extension Mocha suite: ${r.failed} failing`);
    }
  }

  // 6. the UI flow.
  if (only !== 'ext' && only !== 'untrusted') {
    lap('UI flow');
    const r = await runUiFlow({
      baseUrl: server.baseUrl,
      workspace,
      serverLog: server.logFile,
      outDir: path.join(OUT, 'ui'),
    });
    results.passed.push(...r.passed.map((n) => `ui: ${n}`));
    results.failed.push(...r.failed.map((f) => ({ name: `ui: ${f.name}`, error: f.error })));
  }

  // 7. Restricted Mode: a second server with Workspace Trust on, the Mocha suite test/suite/untrusted.test.ts in a
  // folder that is never trusted (its settings point distill.nodePath at a script that leaves a marker if run).
  if (!only || only === 'untrusted') {
    const { makeUntrustedWorkspace } = await import('./untrusted.mjs');
    const ws = path.join(OUT, 'untrusted-workspace');
    const marker = makeUntrustedWorkspace(ws);
    untrustedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-untrusted-'));
    untrusted = await startServer({ runDir: untrustedDir, workspace: ws, vsix: [VSIX], trust: true });
    lap(`Restricted Mode: VS Code server ${untrusted.baseUrl} with Workspace Trust on (pid ${untrusted.pid})`);
    const r = await runExtensionTests({
      baseUrl: untrusted.baseUrl,
      extDir: REPO,
      testsIndex: UNTRUSTED_SUITE,
      workspace: ws,
      outDir: path.join(OUT, 'untrusted'),
      timeoutMs: 180_000,
    });
    lap(
      `Restricted Mode Mocha: exit ${r.code}, ${r.passed} passing, ${r.failed} failing (log: ${path.join(OUT, 'untrusted', 'ext-tests.log')})`,
    );
    for (let i = 0; i < r.passed; i++) results.passed.push(`restricted mode #${i + 1}`);
    for (let i = 0; i < r.failed; i++)
      results.failed.push({
        name: `Restricted Mode suite (failure ${i + 1} of ${r.failed})`,
        error: `see ${path.join(OUT, 'untrusted', 'ext-tests.log')}`,
      });
    if (fs.existsSync(marker))
      fail('Restricted Mode', `the workspace's distill.nodePath script ran: ${fs.readFileSync(marker, 'utf8').trim()}`);
    else results.passed.push('restricted mode: the workspace node script never ran');
  }
} catch (e) {
  fail('e2e harness', e.stack || e.message);
} finally {
  if (untrusted) {
    await untrusted.stop();
    copyLogs(path.join(untrustedDir, 'user-data/logs'), path.join(OUT, 'untrusted', 'vscode-logs'));
  }
  if (untrustedDir) fs.rmSync(untrustedDir, { recursive: true, force: true });
  // 8. stop the servers (and with it the extension hosts and their workers).
  if (server) {
    const ts = Date.now();
    const { survivors } = await server.stop();
    lap(`server stopped in ${((Date.now() - ts) / 1000).toFixed(1)}s`);
    if (survivors.length) lap(`killed after 15 s (did not exit with the server):\n  ${survivors.join('\n  ')}`);
    fs.copyFileSync(server.logFile, path.join(OUT, 'server.log'));
    copyLogs(path.join(serverDir, 'user-data/logs'), path.join(OUT, 'vscode-logs'));
  }
  if (serverDir) fs.rmSync(serverDir, { recursive: true, force: true });
}
finish();
