// `npm run screenshots`: the product's pictures, taken from the real thing. Trains a digits run far enough to draw
// recognisable digits (or reuses it), evaluates it with a quick `distill eval`, installs the freshly packed .vsix into
// a VS Code server (code-server from npm, as the e2e tests use it: bash test/e2e/install.sh first), opens it in headless
// chromium and screenshots the Runs view, the dashboard, the checkpoint preview (teacher vs the 4-step student), its
// Edit tab, the evaluation report and a config with its schema hover. Writes
//   media/screenshots/{runs-view,dashboard,preview,preview-edit-tab,evaluate,walkthrough}.png   (the README, the guide)
//   media/walkthrough/{config,run,dashboard,preview,evaluate}.png                               (the walkthrough steps)
// cropped to the panel, each squeezed with pngquant when it is installed (Debian: apt-get install pngquant).
// The walkthrough picture shows the walkthrough's own media as the packed .vsix carries them: after new walkthrough
// pictures, run it once more.
//
//   node tools/screenshots.mjs [--keep DIR] [--vsix FILE] [--train-only] [--out DIR]
//
// --keep DIR: the folder the run is trained into and kept between calls (default $DISTILL_SCREENSHOTS_DIR or
//   ~/.cache/diffusion-distiller/screenshots): DIR/workspace/ is the VS Code workspace, DIR/workspace/runs/digits the run.
//   A finished run there is reused; a stopped one is resumed. The training takes about 10 min on an idle 2-core machine.
// --vsix FILE: use this .vsix instead of packing one (npm run package).
// --train-only: train (and evaluate) the run, take no pictures.
// --out DIR: write the pictures under DIR/media/ instead of the repository's media/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const lap = (m) => console.log(`[screenshots ${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}`);

/**
 * The quick start's digits model made smaller (channels 16/32, batch 32) and distilled from 16 teacher steps instead
 * of 64 (16 → 8 → 4): it draws recognisable digits after 600 teacher steps, in about a third of the quick start's time.
 */
export const DIGITS_CONFIG = {
  name: 'digits',
  seed: 0,
  backend: 'wasm',
  data: { kind: 'mnist', imageSize: 16 },
  model: { kind: 'unet', channels: [16, 32], blocksPerLevel: 1, groups: 8, embedDim: 64 },
  guidance: { wMin: 0, wMax: 4, wPower: 3, sampleW: [0, 1, 2, 4] },
  teacher: { steps: 600, batch: 32, lr: 0.002, warmup: 30, ema: 0.99 },
  guided: { steps: 100, batch: 32, lr: 0.0005 },
  progressive: { n0: 16, targetSteps: 4, steps: 80, batch: 32, lr: 0.0005 },
  eval: { classifierSteps: 300 },
  sampling: { interval: 0, teacherSteps: 64, perClass: 1 },
  checkpoint: { interval: 100, keep: 2 },
  log: { interval: 10 },
};
const RUN = DIGITS_CONFIG.name;
/** `distill eval` kept small: a picture of the report, not a measurement. */
const EVAL_ARGS = ['--samples', '60', '--w', '0,1,2,4', '--teacher-steps', '64,8', '--student-steps', '1,2,4'];

function parseArgs(argv) {
  const o = {
    keep:
      process.env.DISTILL_SCREENSHOTS_DIR || path.join(os.homedir(), '.cache', 'diffusion-distiller', 'screenshots'),
    vsix: undefined,
    trainOnly: false,
    out: REPO,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return path.resolve(v);
    };
    if (a === '--keep') o.keep = value();
    else if (a === '--vsix') o.vsix = value();
    else if (a === '--out') o.out = value();
    else if (a === '--train-only') o.trainOnly = true;
    else
      throw new Error(
        `unknown option ${a} (usage: node tools/screenshots.mjs [--keep DIR] [--vsix FILE] [--train-only] [--out DIR])`,
      );
  }
  return o;
}

function run(cmd, args, opts = {}) {
  lap(`${path.basename(cmd)} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.signal ?? `exit ${r.status}`})`);
}

/** How the run folder's event log says the run ended: 'finished' | 'stopped' | 'failed' | undefined (never ended). */
function runEnd(runDir) {
  const file = path.join(runDir, 'events.jsonl');
  if (!fs.existsSync(file)) return undefined;
  let status;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"run_end"')) continue;
    try {
      status = JSON.parse(line).status;
    } catch {
      /* a torn last line */
    }
  }
  return status;
}

/** Trains DIR/workspace/runs/digits to the end (or reuses / resumes it); returns the run folder. */
function ensureRun(workspace) {
  const cli = path.join(REPO, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) run(process.execPath, [path.join(REPO, 'esbuild.mjs')]);
  const runsDir = path.join(workspace, 'runs');
  const runDir = path.join(runsDir, RUN);
  const configFile = path.join(workspace, `${RUN}.distill.json`);
  fs.mkdirSync(workspace, { recursive: true });
  // (no $schema: the installed extension's contributes.jsonValidation gives *.distill.json its schema)
  if (!fs.existsSync(configFile)) fs.writeFileSync(configFile, JSON.stringify(DIGITS_CONFIG, null, 2) + '\n');
  const end = runEnd(runDir);
  if (end === 'finished') {
    lap(`reusing the finished run ${runDir}`);
  } else if (fs.existsSync(path.join(runDir, 'run.json'))) {
    if (end === 'failed') throw new Error(`${runDir} failed; delete it to train it again`);
    run(process.execPath, [cli, 'resume', runDir]);
  } else {
    run(process.execPath, [cli, 'run', configFile, '--runs-dir', runsDir, '--name', RUN]);
  }
  if (runEnd(runDir) !== 'finished')
    throw new Error(`${runDir} did not finish (its events.jsonl has no finished run_end)`);
  if (!fs.existsSync(path.join(runDir, 'eval', 'report.json')))
    run(process.execPath, [cli, 'eval', runDir, ...EVAL_ARGS]);
  return runDir;
}

/** Writes a PNG to `to`: pngquant (quality 70–95) when installed, else the file as taken. Returns its size in bytes. */
function savePng(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const q = spawnSync(
    'pngquant',
    ['--force', '--skip-if-larger', '--strip', '--quality', '70-95', '--speed', '1', '--output', to, from],
    { encoding: 'utf8' },
  );
  if (q.error || (q.status !== 0 && q.status !== 98 && q.status !== 99)) {
    if (q.error) lap(`  (pngquant not found: ${path.relative(REPO, to)} is written as taken)`);
    fs.copyFileSync(from, to);
  } else if (!fs.existsSync(to) || q.status === 98 || q.status === 99) {
    fs.copyFileSync(from, to);
  }
  return fs.statSync(to).size;
}

export async function takePictures({ workspace, vsix, out }) {
  const { startServer } = await import('../test/e2e/server.mjs');
  const { launch, openWorkbench, poll, runCommand, sleep, workbenchUrl, notifications } = await import(
    '../test/e2e/browser.mjs'
  );
  const { openDistillContainer, treeRows, webviews } = await import('../test/e2e/ui.e2e.mjs');
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-screenshots-'));
  const serverDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-screenshots-server-'));
  const written = [];
  const server = await startServer({ runDir: serverDir, workspace, vsix: [vsix] });
  lap(`VS Code server ${server.baseUrl} with ${path.basename(vsix)} installed`);
  const browser = await launch(server.baseUrl, { viewport: { width: 1280, height: 1150 } });
  const { page } = browser;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  /** Saves a screenshot (of `target`: a locator, or a clip rectangle of the page) as media/<rel>. */
  const picture = async (rel, target) => {
    const tmp = path.join(shots, rel.replace(/[\\/]/g, '-'));
    if (target && typeof target.screenshot === 'function') await target.screenshot({ path: tmp });
    else await page.screenshot({ path: tmp, clip: target });
    const bytes = savePng(tmp, path.join(out, 'media', rel));
    written.push({ rel, bytes });
    lap(`  media/${rel}: ${(bytes / 1024).toFixed(0)} KB`);
  };
  const box = async (selector) => {
    const b = await page.locator(selector).first().boundingBox();
    if (!b) throw new Error(`${selector} is not on the page`);
    return b;
  };
  /** The editor part of the workbench (tabs and the webview / editor below them). */
  const editorArea = () => box('[id="workbench.parts.editor"]');
  const webviewWith = async (what, selector) =>
    poll(
      what,
      async () => {
        for (const w of await webviews(page))
          if (
            await w.frame
              .locator(selector)
              .count()
              .catch(() => 0)
          )
            return w.frame;
        return undefined;
      },
      { timeout: 60_000 },
    );
  const pickRow = async (pattern, what) => {
    const widget = page.locator('.quick-input-widget');
    const row = widget.locator('.monaco-list-row').filter({ hasText: pattern }).first();
    await poll(what, async () => (await widget.isVisible()) && (await row.count()), { timeout: 20_000 }).catch(
      async (e) => {
        throw new Error(
          `${e.message}; rows: ${JSON.stringify(
            await widget
              .locator('.monaco-list-row')
              .allInnerTexts()
              .catch(() => []),
          )}`,
        );
      },
    );
    await row.click();
  };
  const closeEditors = async () => {
    await runCommand(page, 'View: Close All Editors');
    await sleep(500);
  };

  try {
    await openWorkbench(page, workbenchUrl(server.baseUrl, workspace));
    await openDistillContainer(page);
    // A wider side bar, so the tree's rows are not cut off: drag the sash on its right edge.
    const bar = await box('[id="workbench.parts.sidebar"]');
    await page.mouse.move(bar.x + bar.width + 1, bar.y + bar.height / 2);
    await page.mouse.down();
    await page.mouse.move(bar.x + bar.width + 160, bar.y + bar.height / 2, { steps: 8 });
    await page.mouse.up();
    await sleep(500);

    // ── the Runs view: the finished run, expanded to its units and checkpoints ──
    const rowsLoc = page.locator('[id="workbench.parts.sidebar"] .pane-body .monaco-list-row');
    const runRow = await poll(
      `the run "${RUN}" finished in the Runs view`,
      async () => {
        const r = (await treeRows(page)).find((x) => x.level === 1 && new RegExp(`^${RUN}\\b`).test(x.label));
        return r && /finished/.test(r.label) ? r : undefined;
      },
      { timeout: 60_000 },
    );
    lap(`Runs view: ${runRow.label}`);
    const expand = async (loc) => {
      if ((await loc.getAttribute('aria-expanded')) === 'false') await loc.locator('.monaco-tl-twistie').click();
    };
    await expand(rowsLoc.filter({ hasText: RUN }).first());
    const lastUnit = rowsLoc
      .filter({ has: page.locator('.label-name', { hasText: /^progressive 8→4$|^progressive-8-4$/ }) })
      .first();
    await poll("the run's units in the tree", async () => await lastUnit.count(), { timeout: 20_000 }).catch(
      async (e) => {
        throw new Error(`${e.message}; tree: ${JSON.stringify(await treeRows(page))}`);
      },
    );
    await expand(lastUnit);
    await sleep(800);
    await page.mouse.move(900, 500); // no hover highlight in the tree
    const side = await box('[id="workbench.parts.sidebar"]');
    const lastRow = await rowsLoc.last().boundingBox();
    const runsClip = {
      x: side.x,
      y: side.y,
      width: side.width,
      height: Math.min(side.height, lastRow.y + lastRow.height - side.y + 24),
    };
    await picture('walkthrough/run.png', runsClip);
    await picture('screenshots/runs-view.png', runsClip);

    // The editor gets the whole width for the panels.
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
    await sleep(500);

    // ── the dashboard: loss curves per stage and the sample grids ──
    await runCommand(page, 'Distill: Open Dashboard');
    await sleep(700);
    if (await page.locator('.quick-input-widget').isVisible())
      await pickRow(new RegExp(RUN), 'the run in the Open Dashboard pick');
    const dash = await webviewWith('the dashboard', '#loss-chart');
    await poll(
      "the dashboard's loss chart and sample grid",
      async () =>
        dash.evaluate(() => {
          const chart = document.querySelector('#loss-chart');
          const grid =
            [...document.querySelectorAll('#grid img')].filter((i) => i.complete && i.naturalWidth > 0).length +
            [...document.querySelectorAll('#grid canvas')].filter((c) => c.width > 0).length;
          return Number(chart?.getAttribute('data-points') || 0) > 0 && chart.querySelector('canvas') && grid > 0;
        }),
      { timeout: 60_000 },
    );
    await sleep(1500);
    const problem = await dash.evaluate(() =>
      [...document.querySelectorAll('.error')]
        .map((e) => e.textContent.trim())
        .filter(Boolean)
        .join(' | '),
    );
    if (problem) throw new Error(`the dashboard shows an error: ${problem}`);
    // the loss curves at the top, the newest sample grid (the 4-step student's) below them
    await dash.evaluate(() =>
      document.querySelector('section[aria-labelledby="h-loss"]').scrollIntoView({ block: 'start' }),
    );
    await sleep(800);
    await picture('screenshots/dashboard.png', await editorArea());
    await picture('walkthrough/dashboard.png', dash.locator('section[aria-labelledby="h-loss"]'));

    // ── the evaluation report (the dashboard's Report card, from eval/report.json) ──
    await poll(
      'the Report card with its table',
      async () =>
        dash.evaluate(() => {
          const r = document.querySelector('#report');
          return r && !r.hidden && document.querySelectorAll('#report-table tr').length > 1;
        }),
      { timeout: 60_000 },
    );
    await dash.locator('#report').scrollIntoViewIfNeeded();
    await dash.evaluate(() => document.querySelector('#report').scrollIntoView({ block: 'start' }));
    await sleep(1000);
    await picture('screenshots/evaluate.png', await editorArea());
    // the walkthrough's column is narrow: the table and the first row of plots
    const report = await dash.locator('#report').boundingBox();
    await picture('walkthrough/evaluate.png', {
      x: report.x,
      y: report.y,
      width: report.width,
      height: Math.min(report.height, 645),
    });

    // ── the checkpoint preview: guided teacher vs the 4-step student from the same noise ──
    await closeEditors();
    await runCommand(page, 'Distill: Preview Checkpoint');
    await sleep(700); // with one run in the workspace there is no run to pick: the checkpoints come first
    const firstRows = await page
      .locator('.quick-input-widget .monaco-list-row')
      .allInnerTexts()
      .catch(() => []);
    if (firstRows.some((r) => new RegExp(`^${RUN}\\b`).test(r)) && !firstRows.some((r) => /step \d+/.test(r))) {
      await pickRow(new RegExp(RUN), 'the run in the Preview Checkpoint pick');
    }
    await pickRow(/progressive-8-4|progressive 8→4/, 'the 4-step student in the checkpoint pick');
    let preview = await webviewWith('the preview', 'body[data-ready="true"] #render');
    await preview.locator('#render').click();
    const result = await poll(
      'teacher and student grids in the preview',
      async () => {
        const f = await webviewWith('the preview', '#teacher-result');
        return f.evaluate(() => {
          const pane = (w) => ({
            nfe: document.querySelector(`#${w}-meta`)?.getAttribute('data-nfe'),
            meta: document.querySelector(`#${w}-meta`)?.textContent || '',
            img: [...document.querySelectorAll(`#${w}-grid img`)].filter((i) => i.complete && i.naturalWidth > 0)
              .length,
          });
          const r = {
            teacher: pane('teacher'),
            student: pane('student'),
            error: document.querySelector('#form-error')?.textContent || '',
          };
          return r.error || (r.teacher.nfe && r.student.nfe && r.teacher.img && r.student.img) ? r : undefined;
        });
      },
      { timeout: 300_000 },
    );
    if (result.error) throw new Error(`the preview shows an error: ${result.error}`);
    lap(`preview: teacher ${result.teacher.meta}; student ${result.student.meta}`);
    preview = await webviewWith('the preview', '#teacher-result');
    await preview.locator('#student-result').scrollIntoViewIfNeeded();
    await sleep(800);
    await picture('screenshots/preview.png', await editorArea());
    const panes = await preview.evaluate(() => {
      const a = document.querySelector('#teacher-result').getBoundingClientRect();
      const b = document.querySelector('#student-result').getBoundingClientRect();
      return {
        x: Math.min(a.left, b.left),
        y: Math.min(a.top, b.top),
        right: Math.max(a.right, b.right),
        bottom: Math.max(a.bottom, b.bottom),
      };
    });
    const frameBox = await (await preview.frameElement()).boundingBox();
    await picture('walkthrough/preview.png', {
      x: frameBox.x + panes.x - 4,
      y: frameBox.y + panes.y - 4,
      width: panes.right - panes.x + 8,
      height: panes.bottom - panes.y + 8,
    });

    // ── the Edit tab: a held-out style training example repainted towards another class, teacher and student ──
    await preview.locator('#tab-edit').click();
    await poll(
      'the Edit tab ready',
      async () => (await webviewWith('the preview', '#edit-tab')).locator('#edit-tab[data-ready="true"]').count(),
      { timeout: 30_000 },
    );
    let edit = await webviewWith('the preview', '#edit-tab');
    await edit.locator('#edit-tab vscode-textfield[label="Training example"]').evaluate((el) => {
      el.value = '7';
    });
    await edit.locator('#edit-use-example').click();
    await poll(
      'the training example on the canvas',
      async () => (await webviewWith('the preview', '#edit-tab')).locator('#edit-canvas[data-loaded="true"]').count(),
      { timeout: 60_000 },
    );
    edit = await webviewWith('the preview', '#edit-tab');
    await edit.locator('#edit-class').evaluate((el) => {
      el.value = '3';
    });
    await edit.locator('#edit-tab vscode-textfield[label="Strength S"]').evaluate((el) => {
      el.value = '0.8';
    });
    await edit.locator('#edit-run').click();
    const edited = await poll(
      'teacher and student edits',
      async () =>
        (await webviewWith('the preview', '#edit-tab')).evaluate(() => {
          const ok = (w) =>
            [...document.querySelectorAll(`#edit-result-${w}-image`)].some(
              (i) => !i.hidden && i.complete && i.naturalWidth > 0,
            );
          const error = document.querySelector('#edit-error')?.textContent || '';
          return error || (ok('teacher') && ok('student'))
            ? { error, input: document.querySelector('#edit-input-label')?.textContent || '' }
            : undefined;
        }),
      { timeout: 300_000 },
    );
    if (edited.error) throw new Error(`the Edit tab shows an error: ${edited.error}`);
    lap(`edit: ${edited.input}`);
    edit = await webviewWith('the preview', '#edit-tab');
    await edit.locator('#edit-result-student').scrollIntoViewIfNeeded();
    await sleep(800);
    await picture('screenshots/preview-edit-tab.png', await editorArea());

    // ── a config in the editor with the schema's hover on a field (the New Config step) ──
    await closeEditors();
    const configFile = path.join(workspace, `${RUN}.distill.json`);
    const configText = fs.readFileSync(configFile, 'utf8').split('\n');
    const lrLine = configText.findIndex(
      (l, i) => i > configText.findIndex((t) => /"teacher"/.test(t)) && /"lr"/.test(l),
    );
    await runCommand(page, 'Go to File...');
    await page.keyboard.type(`${RUN}.distill.json`);
    await poll(
      'the config in the Go to File list',
      async () =>
        page
          .locator('.quick-input-widget .monaco-list-row')
          .filter({ hasText: `${RUN}.distill.json` })
          .count(),
      { timeout: 30_000 },
    );
    await page.keyboard.press('Enter');
    await poll(
      'the config in the editor',
      async () =>
        (
          await page
            .locator('.tabs-container')
            .innerText()
            .catch(() => '')
        ).includes(`${RUN}.distill.json`),
      { timeout: 20_000 },
    );
    await sleep(3000); // the JSON language service loads the schema
    await runCommand(page, 'Go to Line/Column...');
    await page.keyboard.type(`${lrLine + 1}:${configText[lrLine].indexOf('"lr"') + 3}`);
    await page.keyboard.press('Enter');
    await sleep(500);
    await runCommand(page, 'Show or Focus Hover');
    const hover = await poll(
      'the schema hover on teacher.lr',
      async () => {
        const t = await page
          .locator('.monaco-hover:not(.hidden)')
          .first()
          .innerText({ timeout: 500 })
          .catch(() => '');
        return /rate|Range/i.test(t) ? t : undefined;
      },
      { timeout: 30_000 },
    );
    lap(`hover: ${JSON.stringify(hover.slice(0, 160))}`);
    // the hover with the lines above it (the hover opens below or above the cursor's line)
    const ed = await editorArea();
    const hov = await box('.monaco-hover:not(.hidden)');
    const cursor = await box('.monaco-editor .cursors-layer .cursor');
    const top = Math.max(ed.y, Math.min(hov.y, cursor.y) - 330);
    const bottom = Math.min(ed.y + ed.height, Math.max(hov.y + hov.height, cursor.y + cursor.height) + 16);
    await picture('walkthrough/config.png', { x: ed.x, y: top, width: Math.min(ed.width, 900), height: bottom - top });

    // ── the Getting Started walkthrough ──
    await closeEditors();
    for (let attempt = 1; ; attempt++) {
      await runCommand(page, 'Distill: Get Started');
      const tab = await poll(
        'a walkthrough editor',
        async () => {
          const t = await page
            .locator('.tabs-container')
            .innerText()
            .catch(() => '');
          return /Walkthrough: /.test(t) ? t : undefined;
        },
        { timeout: 20_000 },
      );
      if (/Diffusion Distiller/.test(tab)) break;
      if (attempt === 3) throw new Error(`Distill: Get Started opened ${JSON.stringify(tab)}`);
      await closeEditors();
    }
    await page.locator('button.getting-started-step[data-step-id$="distill.gettingStarted.dashboard"]').first().click();
    await sleep(2500);
    await picture('screenshots/walkthrough.png', await editorArea());

    const toasts = (await notifications(page)).filter((t) => /error|fail/i.test(t));
    if (toasts.length) throw new Error(`error notifications: ${JSON.stringify(toasts)}`);
    if (pageErrors.length) lap(`page errors (not shown in the pictures): ${JSON.stringify(pageErrors.slice(0, 5))}`);
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failure.png') }).catch(() => {});
    throw new Error(`${e.message}\n(screenshot of the failure: ${path.join(shots, 'failure.png')})`);
  } finally {
    await browser.close();
    await server.stop();
    fs.rmSync(serverDir, { recursive: true, force: true });
  }
  if (browser.external.length)
    throw new Error(`requests left the local server: ${browser.external.slice(0, 5).join(', ')}`);
  fs.rmSync(shots, { recursive: true, force: true });
  return written;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const workspace = path.join(o.keep, 'workspace');
    ensureRun(workspace);
    if (!o.trainOnly) {
      let vsix = o.vsix;
      if (!vsix) {
        run(process.execPath, [path.join(REPO, 'tools', 'package.mjs')]);
        vsix = path.join(REPO, 'diffusion-distiller.vsix');
      }
      const written = await takePictures({ workspace, vsix, out: o.out });
      const big = written.filter((w) => w.bytes > 200 * 1024);
      for (const w of written) console.log(`media/${w.rel}  ${(w.bytes / 1024).toFixed(0)} KB`);
      if (big.length) console.log(`larger than 200 KB (install pngquant): ${big.map((w) => w.rel).join(', ')}`);
    }
    lap('done');
  } catch (e) {
    console.error(`screenshots: ${e.message}`);
    process.exit(1);
  }
}
