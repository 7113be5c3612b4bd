// The .vsix as a user installs it: `code-server --install-extension diffusion-distiller.vsix --extensions-dir DIR` into
// an EMPTY extensions folder outside the repository (so nothing can be resolved from the repo's node_modules or dist/),
// then a VS Code server on that folder and chromium on a workspace with a tiny toy config. The installed extension
// must do real work with nothing but the files the .vsix carries:
//   - Distill: Show Backends (the training worker, dist/worker.js, probes every backend; wasm needs dist/wasm/*.wasm),
//   - the config's schema (contributes.jsonValidation → src/engine/run/config.schema.json) flags an out-of-range field,
//   - Distill: Start Run trains the toy config to the end (worker, engine, wasm) and the Runs view says finished,
//   - Distill: Open Dashboard draws its loss chart and sample grid (dist/webview/*.js, *.css).
// A missing bundle, wasm binary, schema or webview script makes one of these fail.
//
// API: await runVsixInstallCheck({ vsix, outDir }) -> { passed: [names], failed: [{name, error}] }
// CLI: node test/e2e/vsix-install.e2e.mjs [VSIX]   (default: ./diffusion-distiller.vsix; artifacts: test-artifacts/e2e/vsix/)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, notifications, openWorkbench, poll, runCommand, sleep, workbenchUrl } from './browser.mjs';
import { CODE_SERVER_DIR, isolatedEnv, startServer } from './server.mjs';
import { openDistillContainer, treeRows, validateConfig, webviews } from './ui.e2e.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
export const EXTENSION_ID = `${PKG.publisher}.${PKG.name}`;

/** Trains in well under a minute on a busy 2-core machine: every stage runs, so every unit's code path loads. */
export const VSIX_CONFIG = {
  name: 'fromvsix',
  seed: 2,
  backend: 'wasm',
  data: { kind: 'toy2d', shape: 'moons', n: 256 },
  model: { kind: 'mlp', hidden: 32, depth: 2 },
  teacher: { steps: 40, batch: 32, lr: 0.002 },
  guided: { steps: 20, batch: 32, lr: 0.001 },
  progressive: { n0: 4, targetSteps: 2, steps: 10, batch: 32, lr: 0.001 },
  sampling: { interval: 20, teacherSteps: 8 },
  checkpoint: { interval: 1000, keep: 1 },
};
const CONFIG_FILE = 'fromvsix.distill.json';
/** A config the schema refuses (teacher.lr above its maximum): the editor must underline it. */
const BAD_CONFIG_FILE = 'bad-lr.distill.json';

/** The code-server command line (the npm package's own CLI, as a user runs it). */
function codeServerCli() {
  const entry = path.join(CODE_SERVER_DIR, 'node_modules/code-server/out/node/entry.js');
  if (!fs.existsSync(entry)) throw new Error(`code-server not installed (${entry}); run: bash test/e2e/install.sh`);
  return entry;
}

/** `code-server --install-extension VSIX --extensions-dir DIR`; returns the listing `--list-extensions --show-versions` gives after. */
export function installVsix(vsix, { extensionsDir, userDataDir, env }) {
  const cli = codeServerCli();
  const base = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];
  const r = spawnSync(process.execPath, [cli, ...base, '--install-extension', vsix], {
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 || /failed|error/i.test(out))
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${out}`);
  const l = spawnSync(process.execPath, [cli, ...base, '--list-extensions', '--show-versions'], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (l.status !== 0)
    throw new Error(`code-server --list-extensions failed (exit ${l.status ?? l.signal}):\n${l.stdout}${l.stderr}`);
  return {
    installOutput: out.trim(),
    listed: l.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

export async function runVsixInstallCheck({
  vsix = path.join(REPO, 'diffusion-distiller.vsix'),
  outDir = path.join(REPO, 'test-artifacts/e2e/vsix'),
  log = console.log,
} = {}) {
  fs.mkdirSync(outDir, { recursive: true });
  const t0 = Date.now();
  const lap = (m) => log(`[vsix ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const passed = [];
  const failed = [];
  // Outside the repo, as a user's: an extension below the repo would resolve the repo's node_modules at run time.
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-vsix-'));
  const extensionsDir = path.join(runDir, 'extensions');
  const userDataDir = path.join(runDir, 'user-data');
  const workspace = path.join(runDir, 'workspace');
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  validateConfig(VSIX_CONFIG);
  fs.writeFileSync(path.join(workspace, CONFIG_FILE), JSON.stringify(VSIX_CONFIG, null, 2) + '\n');
  fs.writeFileSync(
    path.join(workspace, BAD_CONFIG_FILE),
    JSON.stringify({ ...VSIX_CONFIG, name: 'bad', teacher: { ...VSIX_CONFIG.teacher, lr: 5 } }, null, 2) + '\n',
  );

  let server;
  let browser;
  let shot = 0;
  const steps = [];
  const step = (name, fn) => steps.push({ name, fn });
  const state = {};
  const screenshot = async (name) =>
    browser?.page.screenshot({ path: path.join(outDir, `${String(++shot).padStart(2, '0')}-${name}.png`) });

  step('code-server --install-extension puts the .vsix, and only it, into an empty extensions folder', async () => {
    if (!fs.existsSync(vsix)) throw new Error(`${vsix} not found: run npm run package first`);
    const before = fs.readdirSync(extensionsDir);
    if (before.length) throw new Error(`the extensions folder is not empty: ${before.join(', ')}`);
    const { installOutput, listed } = installVsix(vsix, { extensionsDir, userDataDir, env: isolatedEnv(runDir) });
    lap(`  ${installOutput.split('\n').pop()}`);
    lap(`  installed: ${JSON.stringify(listed)}`);
    if (JSON.stringify(listed) !== JSON.stringify([`${EXTENSION_ID}@${PKG.version}`])) {
      throw new Error(
        `--list-extensions shows ${JSON.stringify(listed)}, expected only ${EXTENSION_ID}@${PKG.version}`,
      );
    }
    const folders = fs.readdirSync(extensionsDir).filter((f) => !f.startsWith('.') && f !== 'extensions.json');
    if (folders.length !== 1) throw new Error(`the extensions folder holds ${JSON.stringify(folders)}`);
    state.extDir = path.join(extensionsDir, folders[0]);
    for (const f of ['package.json', 'dist/extension.js', 'dist/worker.js']) {
      if (!fs.existsSync(path.join(state.extDir, f)))
        throw new Error(`${f} is not in the installed extension ${state.extDir}`);
    }
    if (fs.existsSync(path.join(state.extDir, 'node_modules')))
      throw new Error('the installed extension has a node_modules folder: the bundles must be self-contained');
  });

  step('the server starts with the installed extension and the Distill container appears', async () => {
    server = await startServer({ runDir, workspace });
    lap(`  server ${server.baseUrl} up in ${server.startupMs} ms`);
    browser = await launch(server.baseUrl, { log });
    browser.page.on('pageerror', (e) => lap(`  page error: ${e.message}`));
    await openWorkbench(browser.page, workbenchUrl(server.baseUrl, workspace));
    await openDistillContainer(browser.page);
    await screenshot('distill-container');
  });

  step('Distill: Show Backends (run by the installed worker) lists wasm as available and what auto picks', async () => {
    const { page } = browser;
    await runCommand(page, 'Distill: Show Backends');
    const shown = async () => {
      for (const w of await webviews(page)) if (/Distill: backends on this machine/.test(w.text)) return w.text;
      const src = await page
        .locator('.editor-instance .monaco-editor .view-lines')
        .first()
        .innerText({ timeout: 500 })
        .catch(() => '');
      return /Distill: backends on this machine/.test(src) ? src : undefined;
    };
    const text = (
      await poll('the Show Backends document', shown, { timeout: 90_000 }).catch(async (e) => {
        throw new Error(`${e.message}; notifications: ${JSON.stringify(await notifications(page))}`);
      })
    ).replace(/\u00a0/g, ' ');
    lap(`  ${JSON.stringify(text.slice(0, 300))}`);
    if (!/auto`? picks (\*\*)?wasm/.test(text))
      throw new Error(
        `the report does not say auto picks wasm (are dist/wasm/*.wasm in the .vsix?): ${text.slice(0, 1200)}`,
      );
    await screenshot('show-backends');
    await runCommand(page, 'View: Close All Editors');
  });

  step('the shipped config schema flags an out-of-range teacher.lr in the editor', async () => {
    const { page } = browser;
    await runCommand(page, 'Go to File...');
    await page.keyboard.type(BAD_CONFIG_FILE);
    await sleep(800);
    await page.keyboard.press('Enter');
    await poll(
      `${BAD_CONFIG_FILE} open in the editor`,
      async () =>
        (
          await page
            .locator('.tabs-container')
            .innerText()
            .catch(() => '')
        ).includes(BAD_CONFIG_FILE),
      { timeout: 20_000 },
    );
    await runCommand(page, 'View: Focus Problems (Errors, Warnings, Infos)').catch(() =>
      runCommand(page, 'View: Toggle Problems (Errors, Warnings)'),
    );
    const problem = await poll(
      'a schema problem for teacher.lr in the Problems view',
      async () => {
        const rows = await page
          .locator('.markers-panel .monaco-list-row')
          .allInnerTexts()
          .catch(() => []);
        return rows.find((r) => /maximum/i.test(r));
      },
      { timeout: 60_000 },
    ).catch(async (e) => {
      throw new Error(
        `${e.message}; problems: ${JSON.stringify(
          await page
            .locator('.markers-panel')
            .innerText()
            .catch(() => ''),
        )}`,
      );
    });
    lap(`  problem: ${JSON.stringify(problem.replace(/\s+/g, ' '))}`);
    await screenshot('schema-problem');
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'View: Hide Panel', { timeout: 5000 }).catch(() => {});
  });

  step('Distill: Start Run trains the toy config to the end; the Runs view says finished', async () => {
    const { page } = browser;
    await runCommand(page, 'Distill: Start Run');
    const widget = page.locator('.quick-input-widget');
    await poll(
      'the config quick pick',
      async () =>
        (await widget.isVisible()) &&
        (await widget.locator('.monaco-list-row').allInnerTexts()).some((t) => t.includes(CONFIG_FILE)),
      { timeout: 20_000 },
    );
    await widget.locator('.monaco-list-row').filter({ hasText: CONFIG_FILE }).first().click();
    await openDistillContainer(page);
    const row = await poll(
      'the run "fromvsix" finished in the Runs view',
      async () => {
        const r = (await treeRows(page)).find((x) => x.level === 1 && /^fromvsix\b/.test(x.label));
        return r && /finished|failed/.test(r.label) ? r : undefined;
      },
      { timeout: 300_000 },
    ).catch(async (e) => {
      const runs = path.join(workspace, 'runs');
      const ev = fs.existsSync(runs)
        ? fs
            .readdirSync(runs)
            .map((d) => path.join(runs, d, 'events.jsonl'))
            .filter((f) => fs.existsSync(f))
        : [];
      const tail = ev.map((f) => fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-5).join('\n')).join('\n');
      throw new Error(
        `${e.message}; tree: ${JSON.stringify(await treeRows(page))}; notifications: ${JSON.stringify(await notifications(page))}\n${tail}`,
      );
    });
    lap(`  tree row: ${row.label}`);
    if (!/finished/.test(row.label))
      throw new Error(
        `the run did not finish: ${row.label}; notifications: ${JSON.stringify(await notifications(page))}`,
      );
    state.runName = row.label.split(',')[0].trim();
    await screenshot('run-finished');
  });

  step('Distill: Open Dashboard draws the loss chart and the sample grid of that run', async () => {
    const { page } = browser;
    await runCommand(page, 'Distill: Open Dashboard');
    await sleep(700);
    const widget = page.locator('.quick-input-widget');
    if (await widget.isVisible())
      await widget
        .locator('.monaco-list-row')
        .filter({ hasText: /fromvsix/ })
        .first()
        .click();
    const dash = async () => {
      for (const w of await webviews(page)) {
        const facts = await w.frame
          .evaluate(() => {
            const chart = document.querySelector('#loss-chart');
            if (!chart) return undefined;
            return {
              points: Number(chart.getAttribute('data-points') || 0),
              chartCanvas: !!chart.querySelector('canvas'),
              grid:
                [...document.querySelectorAll('#grid img')].filter((i) => i.complete && i.naturalWidth > 0).length +
                [...document.querySelectorAll('#grid canvas')].filter((c) => c.width > 0).length,
              styled:
                getComputedStyle(document.body).getPropertyValue('--vscode-font-family') !== '' &&
                document.styleSheets.length > 0,
            };
          })
          .catch(() => undefined);
        if (facts) return facts;
      }
      return undefined;
    };
    const f = await poll(
      'the dashboard with loss points, a chart and a sample grid',
      async () => {
        const d = await dash();
        return d && d.points > 0 && d.chartCanvas && d.grid > 0 ? d : undefined;
      },
      { timeout: 60_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; dashboard: ${JSON.stringify(await dash())}`);
    });
    lap(`  dashboard: ${JSON.stringify(f)}`);
    if (!f.styled) throw new Error('the dashboard has no style sheet (dist/webview/*.css missing?)');
    await screenshot('dashboard');
  });

  try {
    let broken;
    for (const s of steps) {
      if (broken) {
        failed.push({ name: s.name, error: `not run (after failure of "${broken}")` });
        continue;
      }
      const ts = Date.now();
      try {
        await s.fn();
        passed.push(s.name);
        lap(`ok   ${s.name} (${((Date.now() - ts) / 1000).toFixed(1)}s)`);
      } catch (e) {
        broken = s.name;
        failed.push({ name: s.name, error: e.message });
        lap(`FAIL ${s.name}: ${e.message}`);
        await browser?.page.screenshot({ path: path.join(outDir, 'failure.png') }).catch(() => {});
      }
    }
  } finally {
    if (browser) await browser.close();
    if (server) {
      await server.stop();
      fs.copyFileSync(server.logFile, path.join(outDir, 'server.log'));
      try {
        fs.cpSync(path.join(userDataDir, 'logs'), path.join(outDir, 'vscode-logs'), { recursive: true });
      } catch {
        /* none */
      }
    }
    try {
      fs.cpSync(path.join(workspace, 'runs'), path.join(outDir, 'runs'), { recursive: true });
    } catch {
      /* none */
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  if (browser?.external.length)
    failed.push({ name: 'no request leaves the test server', error: browser.external.slice(0, 20).join('\n') });
  return { passed, failed };
}

// ─────────────────────────────────── CLI ───────────────────────────────────
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const vsix = path.resolve(process.argv[2] || path.join(REPO, 'diffusion-distiller.vsix'));
  const r = await runVsixInstallCheck({ vsix });
  for (const f of r.failed) console.log(`FAIL: ${f.name}\n  ${f.error}`);
  console.log(`${r.passed.length} passed, ${r.failed.length} failed`);
  process.exit(r.failed.length ? 1 : 0);
}
