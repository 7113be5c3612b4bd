// The UI flow in a real VS Code (web workbench + Node extension host of the VS Code server), driven through
// Debian's chromium: the packaged extension (.vsix) is installed into a fresh server, a temp workspace holds
// a tiny toy config, and the test works the way a person does — command palette, quick picks, the "Runs"
// tree of the "Distill" activity-bar container, the status bar, the checkpoint preview and the dashboard.
// A screenshot of every step goes to test-artifacts/e2e/ui/; on failure also failure.png + server.log.
//
// API: await runUiFlow({ baseUrl, serverLog, outDir }) -> { passed: [names], failed: [{name, error}] }
// CLI: node test/e2e/ui.e2e.mjs [VSIX]   (starts and stops its own server; default VSIX: ./diffusion-distiller.vsix)
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import {
  launch,
  notifications,
  openWorkbench,
  poll,
  quickPickRows,
  runCommand,
  sleep,
  workbenchUrl,
} from './browser.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The toy run: small enough for a couple of minutes on 2 cores, long enough to stop in the teacher stage. */
export const E2E_CONFIG = {
  name: 'e2e',
  seed: 1,
  backend: 'wasm',
  data: { kind: 'toy2d', shape: 'moons', n: 512 },
  model: { kind: 'mlp', hidden: 64, depth: 2 },
  teacher: { steps: 300, batch: 64, lr: 0.002 },
  guided: { steps: 150, batch: 64, lr: 0.001 },
  progressive: { n0: 8, targetSteps: 2, steps: 60, batch: 64, lr: 0.001 },
  sampling: { interval: 100, teacherSteps: 16 },
  checkpoint: { interval: 100, keep: 2 },
};
const CONFIG_FILE = 'e2e.distill.json';
/** A two-run sweep of a tinier toy (Start Sweep with the local launcher, then Compare). */
export const E2E_SWEEP = {
  name: 'toysweep',
  base: {
    ...E2E_CONFIG,
    name: 'toysweep',
    teacher: { steps: 100, batch: 64, lr: 0.002 },
    guided: { steps: 40, batch: 64, lr: 0.001 },
    progressive: { n0: 4, targetSteps: 2, steps: 20, batch: 64, lr: 0.001 },
    sampling: { interval: 20, teacherSteps: 8 },
    checkpoint: { interval: 50, keep: 2 },
  },
  grid: { 'progressive.lr': [0.0003, 0.001] },
};
const SWEEP_FILE = 'toysweep.sweep.json';
/** A tiny digits run on images (trained by test/e2e/edit-run.ts during the flow; its config stays outside the workspace) for the Edit tab. */
export const E2E_EDIT_CONFIG = {
  name: 'editdigits',
  seed: 3,
  backend: 'wasm',
  threads: 1,
  data: { kind: 'mnist', imageSize: 16, limit: 400 },
  model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16 },
  teacher: { steps: 10, batch: 8, lr: 0.003, warmup: 2 },
  guided: { steps: 4, batch: 8, lr: 0.001 },
  progressive: { n0: 8, targetSteps: 4, steps: 2, batch: 8, lr: 0.001 },
  sampling: { interval: 0, teacherSteps: 16, perClass: 1, classes: [0, 1] },
  checkpoint: { interval: 1000, keep: 1 },
  log: { interval: 5 },
};

/** Fails early and clearly when the engine's schema and this test's config drift apart. */
export function validateConfig(config) {
  const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'src/engine/run/config.schema.json'), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  if (!validate(config))
    throw new Error(
      `the e2e config does not validate against src/engine/run/config.schema.json: ${ajv.errorsText(validate.errors)}`,
    );
}

export function makeWorkspace(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  validateConfig(E2E_CONFIG);
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(E2E_CONFIG, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, SWEEP_FILE), JSON.stringify(E2E_SWEEP, null, 2) + '\n');
  return dir;
}

// ───────────────────────────── workbench probes ─────────────────────────────
const SIDEBAR = '[id="workbench.parts.sidebar"]';
const STATUSBAR = '[id="workbench.parts.statusbar"]';

/** aria-labels of the rows in the side bar's tree (the Runs view when the Distill container is shown). */
export async function treeRows(page) {
  return page.locator(`${SIDEBAR} .pane-body .monaco-list-row`).evaluateAll((rows) =>
    rows.map((r) => ({
      label: r.getAttribute('aria-label') || r.innerText,
      level: Number(r.getAttribute('aria-level') || 0),
      expanded: r.getAttribute('aria-expanded'),
    })),
  );
}

async function runRow(page) {
  const rows = await treeRows(page);
  return rows.find((r) => r.level === 1 && /^e2e\b/.test(r.label));
}

/** The text of our status bar item ("Distill: teacher 120/300 · ETA 2m"), or undefined. */
export async function statusText(page) {
  const items = await page.locator(`${STATUSBAR} .statusbar-item`).allInnerTexts();
  return items.map((t) => t.trim()).find((t) => t.startsWith('Distill:'));
}

/** "teacher 120/300" → { unit: 'teacher', step: 120, total: 300 } from a status / tree text. */
function parseProgress(text) {
  const m = /(teacher|guided|progressive \d+→\d+)\D*?(\d+)\/(\d+)/.exec(text || '');
  return m ? { unit: m[1], step: Number(m[2]), total: Number(m[3]) } : undefined;
}

/** The body text and a few facts of every webview's content document (outer iframe → inner #active-frame). */
export async function webviews(page) {
  const out = [];
  for (const f of page.frames()) {
    let el;
    try {
      el = await f.frameElement();
    } catch {
      continue;
    }
    if ((await el.getAttribute('id').catch(() => null)) !== 'active-frame') continue;
    const info = await f
      .evaluate(() => ({
        text: document.body ? document.body.innerText : '',
        images: [...document.querySelectorAll('img')]
          .filter((i) => i.complete && i.naturalWidth > 0)
          .map((i) => ({
            alt: i.alt,
            w: i.naturalWidth,
            h: i.naturalHeight,
            visible: i.getBoundingClientRect().width > 0,
          })),
        canvases: [...document.querySelectorAll('canvas')].filter(
          (c) => c.width > 0 && c.getBoundingClientRect().width > 0,
        ).length,
        visible: document.visibilityState === 'visible' && window.innerWidth > 0,
      }))
      .catch(() => undefined);
    if (info) out.push({ frame: f, ...info });
  }
  return out;
}

async function pickInQuickPick(page, pattern, what, beforeClick = async () => {}) {
  const rows = await quickPickRows(page);
  await beforeClick();
  const widget = page.locator('.quick-input-widget');
  const row = widget.locator('.monaco-list-row').filter({ hasText: pattern }).first();
  if (!(await row.count()))
    throw new Error(`${what}: no quick-pick row matches ${pattern}; rows: ${JSON.stringify(rows)}`);
  await row.click();
  return rows;
}

/** After a command that may ask "which run?": pick our run if a quick pick shows up, else carry on. */
async function maybePickRun(page, log) {
  await sleep(700);
  const widget = page.locator('.quick-input-widget');
  if (!(await widget.isVisible())) return;
  const rows = await widget.locator('.monaco-list-row').allInnerTexts();
  if (!rows.length) return;
  log(`  quick pick: ${JSON.stringify(rows)}`);
  const row = widget.locator('.monaco-list-row').filter({ hasText: /e2e/ }).first();
  if (!(await row.count())) throw new Error(`quick pick without our run: ${JSON.stringify(rows)}`);
  await row.click();
}

export async function openDistillContainer(page) {
  const item = page.locator('.activitybar .action-label[aria-label^="Distill"]');
  await item.waitFor({ timeout: 60_000 });
  const checked = await page.locator('.activitybar .action-item.checked .action-label[aria-label^="Distill"]').count();
  if (!checked) await item.click();
  await poll(
    'the Distill side bar',
    async () =>
      /Runs|RUNS/.test(
        await page
          .locator(SIDEBAR)
          .innerText()
          .catch(() => ''),
      ),
    { timeout: 20_000 },
  );
}

// ───────────────────────────────── the flow ─────────────────────────────────
export async function runUiFlow({
  baseUrl,
  workspace,
  outDir = path.join(REPO, 'test-artifacts/e2e/ui'),
  serverLog,
  log = console.log,
}) {
  fs.mkdirSync(outDir, { recursive: true });
  const t0 = Date.now();
  const lap = (m) => log(`[ui ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const browser = await launch(baseUrl, { log });
  const { page } = browser;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const passed = [];
  const failed = [];
  let shot = 0;
  const screenshot = async (name) => {
    const file = path.join(outDir, `${String(++shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
  };
  const state = {};
  // Each step depends on the previous ones: the first failure ends the flow (the rest are reported as not run).
  const steps = [];
  const step = (name, fn) => steps.push({ name, fn });

  step('workbench shows the Distill activity-bar container with the Runs view', async () => {
    await openWorkbench(page, workbenchUrl(baseUrl, workspace));
    await openDistillContainer(page);
    await screenshot('distill-container');
  });

  step('Distill: Start Run with the workspace config starts a run in the Runs view', async () => {
    await runCommand(page, 'Distill: Start Run');
    const rows = await pickInQuickPick(page, CONFIG_FILE, 'Start Run config pick', () =>
      screenshot('start-run-quick-pick'),
    );
    lap(`  start-run quick pick: ${JSON.stringify(rows)}`);
    // Further prompts (if any) take their defaults.
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      if (!(await page.locator('.quick-input-widget').isVisible())) break;
      lap(`  extra prompt: ${JSON.stringify(await page.locator('.quick-input-widget').innerText())}`);
      await page.keyboard.press('Enter');
    }
    await openDistillContainer(page);
    const row = await poll('a run "e2e-…" in the Runs tree', () => runRow(page), { timeout: 30_000 });
    lap(`  tree row: ${row.label}`);
    state.runName = row.label.split(',')[0];
    await screenshot('run-in-tree');
  });

  step("the status bar shows the run's step progress, and it advances", async () => {
    const first = await poll('status bar "Distill: <unit> N/M"', async () => parseProgress(await statusText(page)), {
      timeout: 150_000,
    });
    lap(`  status bar: ${await statusText(page)}`);
    const later = await poll(
      `the step to advance past ${first.step}`,
      async () => {
        const p = parseProgress(await statusText(page));
        return p && (p.unit !== first.unit || p.step > first.step) ? p : undefined;
      },
      { timeout: 60_000 },
    );
    const text = await statusText(page);
    lap(`  status bar: ${text}`);
    // Where the run computes: the e2e config trains on wasm.
    if (!/· CPU\b/.test(text || ''))
      throw new Error(`the status bar does not say where the run computes ("· CPU"): ${text}`);
    state.progress = later;
    await screenshot('running-progress');
  });

  step('Distill: Stop Run stops it (tree says stopped, no step progress in the status bar)', async () => {
    // The engine saves a checkpoint when it stops, so the resume must continue from the stopped step.
    await runCommand(page, 'Distill: Stop Run');
    await maybePickRun(page, lap);
    const row = await poll(
      'the run row to say "stopped"',
      async () => {
        const r = await runRow(page);
        return r && /stopped/.test(r.label) ? r : undefined;
      },
      { timeout: 30_000 },
    );
    lap(`  tree row: ${row.label}`);
    state.stoppedAt = parseProgress(row.label);
    await poll(
      'the status bar to drop the running progress',
      async () => {
        const s = await statusText(page);
        return !s || (!/sync~spin/.test(s) && !parseProgress(s)) ? true : undefined;
      },
      { timeout: 15_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; status bar: ${await statusText(page)}`);
    });
    // And it stays stopped: the step does not move.
    await sleep(3000);
    const again = await runRow(page);
    if (
      !again ||
      !/stopped/.test(again.label) ||
      JSON.stringify(parseProgress(again.label)) !== JSON.stringify(state.stoppedAt)
    ) {
      throw new Error(`run still moving after stop: ${row.label} → ${again?.label}`);
    }
    await screenshot('stopped');
  });

  step('Distill: Resume Run continues from its checkpoint', async () => {
    await runCommand(page, 'Distill: Resume Run');
    await maybePickRun(page, lap);
    // The first progress shown after the resume must continue from the checkpoint saved at the stop,
    // not restart the unit from 0.
    const resumedAt = await poll(
      'progress of the resumed run in the status bar',
      async () => parseProgress(await statusText(page)),
      { timeout: 150_000 },
    );
    lap(`  first progress after resume: ${JSON.stringify(resumedAt)} (stopped at ${JSON.stringify(state.stoppedAt)})`);
    if (!state.stoppedAt) throw new Error('the stopped run row showed no unit/step to resume from');
    if (resumedAt.unit === state.stoppedAt.unit && resumedAt.step < state.stoppedAt.step) {
      throw new Error(
        `the resumed run restarted ${resumedAt.unit} at step ${resumedAt.step}, before the step it stopped at (${state.stoppedAt.step})`,
      );
    }
    const p = await poll(
      'the resumed run to make progress in the status bar',
      async () => {
        const q = parseProgress(await statusText(page));
        return q && (q.unit !== state.stoppedAt?.unit || q.step > (state.stoppedAt?.step ?? 0)) ? q : undefined;
      },
      { timeout: 90_000 },
    );
    // The tree refreshes on a short debounce after the worker's events: poll it rather than read it once.
    let lastRow;
    const row = await poll(
      'the tree row to show the resumed run as running',
      async () => {
        lastRow = await runRow(page);
        return lastRow && !/stopped|failed/.test(lastRow.label) ? lastRow : undefined;
      },
      { timeout: 15_000 },
    ).catch(() => {
      throw new Error(`tree row after resume: ${lastRow?.label}`);
    });
    lap(`  status bar: ${await statusText(page)}; tree row: ${row.label}`);
    state.resumed = p;
    await screenshot('resumed');
  });

  step('Distill: Open Dashboard shows a growing loss chart and a sample grid', async () => {
    await runCommand(page, 'Distill: Open Dashboard');
    await maybePickRun(page, lap);
    const dash = async () => {
      for (const w of await webviews(page)) {
        const facts = await w.frame
          .evaluate(() => {
            const chart = document.querySelector('#loss-chart');
            if (!chart) return undefined;
            return {
              points: Number(chart.getAttribute('data-points') || 0),
              legend: [...document.querySelectorAll('#loss-legend li')].map((li) => li.textContent),
              caption: document.querySelector('#grid-caption')?.textContent || '',
              gridImages: [...document.querySelectorAll('#grid img')].filter((i) => i.complete && i.naturalWidth > 0)
                .length,
              gridCanvases: [...document.querySelectorAll('#grid canvas')].filter((c) => c.width > 0).length,
              chartCanvas: !!chart.querySelector('canvas'),
              status: document.querySelector('#status')?.textContent || '',
            };
          })
          .catch(() => undefined);
        if (facts) return Object.defineProperty(facts, 'frame', { value: w.frame, enumerable: false });
      }
      return undefined;
    };
    const first = await poll(
      'the dashboard with loss points and a sample grid',
      async () => {
        const f = await dash();
        return f && f.points > 0 && f.chartCanvas && f.gridImages + f.gridCanvases > 0 ? f : undefined;
      },
      { timeout: 60_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; dashboard: ${JSON.stringify(await dash())}`);
    });
    lap(
      `  dashboard: ${first.points} points, legend ${JSON.stringify(first.legend)}, grid "${first.caption}", status ${first.status}`,
    );
    await screenshot('dashboard');
    const later = await poll(
      `the loss chart to grow past ${first.points} points`,
      async () => {
        const f = await dash();
        return f && f.points > first.points ? f : undefined;
      },
      { timeout: 60_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; dashboard: ${JSON.stringify(await dash())}`);
    });
    lap(`  dashboard: ${later.points} points, legend ${JSON.stringify(later.legend)}`);
    await screenshot('dashboard-grown');
    await later.frame.locator('#grid').scrollIntoViewIfNeeded();
    await screenshot('dashboard-samples');
  });

  step(
    'clicking a checkpoint in the tree opens the preview; Render shows teacher and student grids with NFE',
    async () => {
      // A student grid needs a student checkpoint: wait until the guided (stage-1 student) unit has one.
      const rowsLoc = page.locator(`${SIDEBAR} .pane-body .monaco-list-row`);
      const expand = async (loc) => {
        if ((await loc.getAttribute('aria-expanded')) === 'false') await loc.locator('.monaco-tl-twistie').click();
      };
      const runLoc = rowsLoc.filter({ hasText: state.runName }).first();
      await expand(runLoc);
      const unitLoc = (name) =>
        rowsLoc.filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${name}$`) }) }).first();
      await poll('the guided unit row', async () => (await unitLoc('guided').count()) > 0, { timeout: 20_000 });
      // Rows of the guided unit's checkpoints: level 3 rows right after the guided row.
      const guidedCheckpoints = async () => {
        const rows = await treeRows(page);
        const i = rows.findIndex((r) => r.level === 2 && /^guided\b/.test(r.label));
        if (i < 0) return [];
        const out = [];
        for (const r of rows.slice(i + 1)) {
          if (r.level !== 3) break;
          out.push(r.label);
        }
        return out;
      };
      const ckpts = await poll(
        'a checkpoint of the guided (student) unit in the tree',
        async () => {
          await expand(unitLoc('guided'));
          const c = await guidedCheckpoints();
          return c.length ? c : undefined;
        },
        { timeout: 180_000 },
      ).catch(async (e) => {
        throw new Error(`${e.message}; tree: ${JSON.stringify(await treeRows(page))}`);
      });
      lap(`  guided checkpoints: ${JSON.stringify(ckpts)}`);
      const label = ckpts[0].split(',')[0];
      const guidedIdx = (await treeRows(page)).findIndex((r) => r.level === 2 && /^guided\b/.test(r.label));
      const ckpt = rowsLoc.nth(guidedIdx + 1);
      if (!((await ckpt.getAttribute('aria-label')) || '').startsWith(label))
        throw new Error(`tree changed under the test: ${await ckpt.getAttribute('aria-label')}`);
      await screenshot('checkpoint-in-tree');
      lap(`  clicking checkpoint "${await ckpt.getAttribute('aria-label')}" of guided`);
      await ckpt.click();
      const previewFrame = async () => {
        for (const w of await webviews(page)) {
          if (
            await w.frame
              .locator('#teacher-result')
              .count()
              .catch(() => 0)
          )
            return w.frame;
        }
        return undefined;
      };
      const readyFrame = async () => {
        const f = await previewFrame();
        return f && (await f.locator('body[data-ready="true"] #render').count()) ? f : undefined;
      };
      // A tree refresh (the run's units finish and checkpoints appear while it trains) can re-render the row between
      // mouse down and up, which swallows the click: click the checkpoint row again (found by its label) if no
      // preview has appeared after a while.
      let frame;
      for (let attempt = 0; attempt < 4 && !frame; attempt++) {
        if (attempt > 0) {
          const again = rowsLoc
            .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) })
            .first();
          lap(`  no preview yet: clicking "${label}" again (attempt ${attempt + 1})`);
          await again.click().catch(() => {});
        }
        frame = await poll('the checkpoint preview webview (ready)', readyFrame, {
          timeout: attempt < 3 ? 15_000 : 30_000,
        }).catch((e) => {
          if (attempt === 3) throw e;
          return undefined;
        });
      }
      lap(`  preview: ${(await frame.locator('header').innerText()).replace(/\s+/g, ' ')}`);
      await screenshot('preview-opened');
      await frame.locator('#render').click();
      const result = await poll(
        'teacher and student grids with NFE in the preview',
        async () => {
          const f = await previewFrame();
          return f?.evaluate(() => {
            const pane = (w) => ({
              nfe: document.querySelector(`#${w}-meta`)?.getAttribute('data-nfe'),
              meta: document.querySelector(`#${w}-meta`)?.textContent || '',
              title: document.querySelector(`#${w}-title`)?.textContent || '',
              img: [...document.querySelectorAll(`#${w}-grid img`)]
                .filter((i) => i.complete && i.naturalWidth > 0)
                .map((i) => [i.naturalWidth, i.naturalHeight]),
            });
            const r = {
              teacher: pane('teacher'),
              student: pane('student'),
              error: document.querySelector('#form-error')?.textContent || '',
            };
            if (r.error) return r;
            return r.teacher.nfe && r.student.nfe && r.teacher.img.length && r.student.img.length ? r : undefined;
          });
        },
        { timeout: 120_000 },
      ).catch(async (e) => {
        const f = await previewFrame();
        throw new Error(
          `${e.message}; preview text: ${f ? (await f.locator('body').innerText()).replace(/\s+/g, ' ').slice(0, 600) : '(no preview)'}`,
        );
      });
      if (result.error) throw new Error(`preview error: ${result.error}`);
      lap(`  teacher: ${result.teacher.title} | ${result.teacher.meta} | grid ${JSON.stringify(result.teacher.img)}`);
      lap(`  student: ${result.student.title} | ${result.student.meta} | grid ${JSON.stringify(result.student.img)}`);
      if (!/NFE \d+/.test(result.teacher.meta) || !/NFE \d+/.test(result.student.meta))
        throw new Error('NFE not shown');
      if (!(Number(result.student.nfe) < Number(result.teacher.nfe))) {
        throw new Error(
          `the student should need fewer NFE than the guided teacher: student ${result.student.nfe}, teacher ${result.teacher.nfe}`,
        );
      }
      await screenshot('checkpoint-preview');
    },
  );

  step('Distill: Stop Run at the end leaves no run training', async () => {
    await runCommand(page, 'Distill: Stop Run');
    await maybePickRun(page, lap);
    await openDistillContainer(page);
    const row = await poll(
      'the run row to say stopped (or finished)',
      async () => {
        const r = await runRow(page);
        return r && /stopped|finished/.test(r.label) ? r : undefined;
      },
      { timeout: 30_000 },
    );
    lap(`  tree row: ${row.label}`);
    await screenshot('final-stopped');
  });

  step('Distill: Start Sweep (local launcher) shows the sweep as the parent of its runs, which finish', async () => {
    await runCommand(page, 'Distill: Start Sweep');
    await pickInQuickPick(page, SWEEP_FILE, 'Start Sweep file pick');
    await pickInQuickPick(page, 'child processes on this machine', 'Start Sweep launcher pick', () =>
      screenshot('sweep-launcher-pick'),
    );
    await openDistillContainer(page);
    const sweepRows = async () => {
      const rows = await treeRows(page);
      const i = rows.findIndex((r) => r.level === 1 && /^toysweep\b/.test(r.label));
      if (i < 0) return undefined;
      const kids = [];
      for (const r of rows.slice(i + 1)) {
        if (r.level < 2) break;
        if (r.level === 2) kids.push(r.label);
      }
      return { sweep: rows[i], kids };
    };
    const shown = await poll(
      'the sweep with its two runs in the Runs view',
      async () => {
        const s = await sweepRows();
        if (s && s.sweep.expanded === 'false')
          await page
            .locator(`${SIDEBAR} .pane-body .monaco-list-row`)
            .filter({ hasText: 'toysweep' })
            .first()
            .locator('.monaco-tl-twistie')
            .click();
        return s && s.kids.length === 2 ? s : undefined;
      },
      { timeout: 60_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; tree: ${JSON.stringify(await treeRows(page))}`);
    });
    lap(`  sweep: ${shown.sweep.label}; runs ${JSON.stringify(shown.kids)}`);
    await screenshot('sweep-in-tree');
    const done = await poll(
      'both runs of the sweep to finish',
      async () => {
        const s = await sweepRows();
        return s && /2 finished/.test(s.sweep.label) ? s : undefined;
      },
      { timeout: 240_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; tree: ${JSON.stringify(await treeRows(page))}`);
    });
    lap(`  sweep: ${done.sweep.label}`);
    await screenshot('sweep-finished');
  });

  step(
    'Distill: Compare Sweep shows one row per run, sortable, with overlaid curves and the students side by side',
    async () => {
      await runCommand(page, 'Distill: Compare Sweep');
      const compare = async () => {
        for (const w of await webviews(page)) {
          const facts = await w.frame
            .evaluate(() => {
              const table = document.querySelector('#compare-table');
              if (!table) return undefined;
              return {
                rows: [...table.querySelectorAll('tbody tr')].map((tr) => tr.getAttribute('data-run')),
                headers: [...table.querySelectorAll('th')].map((th) => th.textContent),
                curves: document.querySelectorAll('#curves polyline').length,
                grids: [...document.querySelectorAll('#grids img')].filter((i) => i.complete && i.naturalWidth > 0)
                  .length,
              };
            })
            .catch(() => undefined);
          if (facts) return Object.defineProperty(facts, 'frame', { value: w.frame, enumerable: false });
        }
        return undefined;
      };
      const c = await poll(
        'the Compare view with both runs, their curves and student grids',
        async () => {
          const f = await compare();
          return f && f.rows.length === 2 && f.curves === 2 && f.grids === 2 ? f : undefined;
        },
        { timeout: 60_000 },
      ).catch(async (e) => {
        throw new Error(`${e.message}; compare: ${JSON.stringify(await compare())}`);
      });
      lap(`  compare: rows ${JSON.stringify(c.rows)}, headers ${JSON.stringify(c.headers)}`);
      await c.frame.locator('th[data-key="l:progressive-4-2"]').click();
      await c.frame.locator('th[data-key="l:progressive-4-2"]').click();
      const sorted = await c.frame.locator('th[data-key="l:progressive-4-2"]').getAttribute('aria-sort');
      if (sorted !== 'descending') throw new Error(`sorting by the stage-2 loss: aria-sort ${sorted}`);
      await screenshot('compare');
    },
  );

  step('Distill: Show Backends lists every backend, what auto picks and why webgpu is not available here', async () => {
    // A clean editor area, so the document (and its screenshot) has the room.
    await runCommand(page, 'View: Close All Editors');
    await sleep(500);
    await runCommand(page, 'Distill: Show Backends');
    // The markdown preview of the report (a webview), or its markdown source where the editor has no preview.
    const shown = async () => {
      for (const w of await webviews(page))
        if (/Distill: backends on this machine/.test(w.text)) return { where: 'preview', text: w.text };
      const src = await page
        .locator('.editor-instance .monaco-editor .view-lines')
        .first()
        .innerText({ timeout: 500 })
        .catch(() => '');
      return /Distill: backends on this machine/.test(src) ? { where: 'source', text: src } : undefined;
    };
    const doc = await poll('the Show Backends document', shown, { timeout: 60_000 });
    lap(`  shown as ${doc.where}: ${JSON.stringify(doc.text.slice(0, 400))}`);
    const t = doc.text.replace(/\u00a0/g, ' ');
    for (const label of [
      'tensorflow-gpu (tfjs-node-gpu, CUDA)',
      'webgpu (Dawn)',
      'tensorflow (tfjs-node, CPU)',
      'wasm',
      'cpu',
    ]) {
      if (!t.includes(label)) throw new Error(`the backends document does not list ${label}: ${t.slice(0, 1500)}`);
    }
    if (!/auto`? picks (\*\*)?wasm/.test(t))
      throw new Error(`the document does not say that auto picks wasm: ${t.slice(0, 600)}`);
    // The universal .vsix carries no Dawn (and the test machine may have no Vulkan driver): no adapter, and why.
    if (!/No adapter: .*(not installed|no WebGPU adapter|no Vulkan driver)/.test(t))
      throw new Error(`no reason why webgpu has no adapter: ${t.slice(0, 1500)}`);
    if (!/How to get what is missing/.test(t)) throw new Error('no install hints');
    await screenshot('show-backends');
  });

  // ─── the Getting Started walkthrough (last: its first step opens a new config, which Start Run would pick up) ───
  const walkthroughStep = (id) => page.locator(`button.getting-started-step[data-step-id$="${id}"]`).first();
  /** A walkthrough step's tick: aria-checked on the step, or the "checked" codicon inside it. */
  const stepDone = async (id) => {
    const el = walkthroughStep(id);
    if (!(await el.count())) return undefined;
    const aria = await el.getAttribute('aria-checked');
    const icon = await el.locator('.codicon-getting-started-step-checked').count();
    return aria === 'true' || icon > 0;
  };
  step('Distill: Get Started opens the walkthrough with its five steps', async () => {
    // VS Code web (code-server) shows its own "Setup VS Code Web" walkthrough the first time its Getting Started page
    // opens, whatever walkthrough was asked for, and openWalkthrough keeps an open walkthrough editor that has a
    // selected step: start from no editors, and ask again if the web's Setup walkthrough came up instead (measured:
    // the second request opens ours; the Help → "Welcome: Open Walkthrough..." picker behaves the same).
    const tab = async () =>
      (
        await page
          .locator('.tabs-container')
          .innerText()
          .catch(() => '')
      ).trim();
    for (let attempt = 1; ; attempt++) {
      await runCommand(page, 'View: Close All Editors');
      await sleep(500);
      await runCommand(page, 'Distill: Get Started');
      const shown = await poll(
        'a walkthrough editor',
        async () => (/Walkthrough: /.test(await tab()) ? tab() : undefined),
        { timeout: 20_000 },
      );
      lap(`  attempt ${attempt}: ${JSON.stringify(shown)}`);
      if (/Diffusion Distiller/.test(shown)) break;
      if (attempt === 3) throw new Error(`Distill: Get Started opened ${JSON.stringify(shown)} three times`);
    }
    await poll(
      "the walkthrough's steps on the page",
      async () =>
        (await page.locator('button.getting-started-step[data-step-id*="distill.gettingStarted."]').count()) === 5,
      { timeout: 30_000 },
    );
    const title = await page
      .locator('.gettingStartedContainer h2, .gettingStartedContainer .category-title')
      .allInnerTexts()
      .catch(() => []);
    if (!title.some((t) => /Get Started with Diffusion Distiller/.test(t)))
      lap(`  (page titles: ${JSON.stringify(title)})`);
    const ids = await page
      .locator('button.getting-started-step')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-step-id')));
    lap(`  walkthrough steps: ${JSON.stringify(ids)}`);
    const ours = ids.filter((i) => /distill\.gettingStarted\./.test(i || ''));
    if (ours.length !== 5) throw new Error(`expected 5 steps, got ${JSON.stringify(ids)}`);
    // (Commands run before the walkthrough service starts — it starts with the Getting Started page — do not count:
    // Start Run earlier in this flow leaves its step unticked. What counts is a command run while it is there.)
    const done = {};
    for (const id of ['config', 'run', 'dashboard', 'preview', 'evaluate'])
      done[id] = await stepDone(`distill.gettingStarted.${id}`);
    lap(`  ticked before: ${JSON.stringify(done)}`);
    if (done.config) throw new Error('the config step is ticked before its command ran');
    await sleep(1500); // let the step's picture load for the screenshot
    await screenshot('walkthrough');
  });

  step(
    'a walkthrough button runs its command (New Config from the toy 2-D template) and the step ticks itself off',
    async () => {
      await walkthroughStep('distill.gettingStarted.config').click();
      const button = page
        .locator('.gettingStartedContainer')
        .getByRole('button', { name: 'Toy 2-D (a few minutes)' })
        .first();
      await button.waitFor({ state: 'visible', timeout: 15_000 });
      await screenshot('walkthrough-config-step');
      await button.click();
      const file = path.join(workspace, 'toy2d.distill.json');
      await poll('toy2d.distill.json written into the workspace', () => fs.existsSync(file), { timeout: 20_000 });
      // the example's own text, without its "$schema" line (the editor validates *.distill.json by name)
      const text = fs.readFileSync(file, 'utf8');
      const expected = fs
        .readFileSync(path.join(REPO, 'examples/toy2d.distill.json'), 'utf8')
        .replace(/^\s*"\$schema":.*\n/m, '');
      if (text !== expected)
        throw new Error(`toy2d.distill.json is not the example's text without "$schema":\n${text.slice(0, 300)}`);
      await poll(
        'the editor to show toy2d.distill.json',
        async () =>
          /toy2d\.distill\.json/.test(
            await page
              .locator('.tabs-container')
              .innerText()
              .catch(() => ''),
          ),
        { timeout: 15_000 },
      );
      // back on the walkthrough: the step is ticked
      await runCommand(page, 'Distill: Get Started');
      await poll('the config step ticked', () => stepDone('distill.gettingStarted.config'), { timeout: 20_000 });
      await screenshot('walkthrough-step-done');
    },
  );

  step(
    "the preview's Edit tab: a training example, a mask painted with the mouse, teacher and student side by side with NFE and ms",
    async () => {
      // an image run, trained by the engine into the workspace's runs folder (the extension's tree picks it up)
      validateConfig(E2E_EDIT_CONFIG);
      const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-edit-'));
      const cfgFile = path.join(cfgDir, 'editdigits.distill.json');
      fs.writeFileSync(cfgFile, JSON.stringify(E2E_EDIT_CONFIG, null, 2));
      const tc = Date.now();
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(REPO, 'test/e2e/edit-run.ts'),
          cfgFile,
          path.join(workspace, 'runs'),
          'editdigits',
        ],
        { cwd: REPO, encoding: 'utf8', timeout: 300_000 },
      );
      fs.rmSync(cfgDir, { recursive: true, force: true });
      if (r.status !== 0)
        throw new Error(`training the edit run failed (${r.status ?? r.signal}): ${(r.stderr || '').slice(-800)}`);
      lap(`  editdigits trained in ${((Date.now() - tc) / 1000).toFixed(1)}s: ${r.stdout.trim()}`);
      // Preview Checkpoint → which run (editdigits) → which checkpoint (its 4-step student)
      const editFrame = async () => {
        for (const w of await webviews(page)) {
          if (
            (await w.frame
              .locator('#tab-edit')
              .count()
              .catch(() => 0)) &&
            /editdigits/.test(w.text)
          )
            return w.frame;
        }
        return undefined;
      };
      let frame;
      for (let attempt = 0; attempt < 3 && !frame; attempt++) {
        await runCommand(page, 'Distill: Preview Checkpoint');
        await pickInQuickPick(page, /editdigits/, 'Preview Checkpoint run pick');
        await pickInQuickPick(page, /progressive/, 'Preview Checkpoint checkpoint pick');
        frame = await poll('the preview of editdigits', editFrame, { timeout: attempt < 2 ? 20_000 : 40_000 }).catch(
          (e) => {
            if (attempt === 2) throw e;
            return undefined;
          },
        );
      }
      // one editor group, so the preview has the editor's width for the screenshot (moving it reloads the webview: before the edit)
      await runCommand(page, 'View: Join All Editor Groups').catch((e) =>
        lap(`  (could not join the editor groups: ${e.message})`),
      );
      frame = await poll('the preview of editdigits after joining the groups', editFrame, { timeout: 20_000 });
      await frame.locator('#tab-edit').click();
      await poll(
        'the Edit tab ready (the run is on images)',
        async () => (await editFrame())?.locator('#edit-tab[data-ready="true"]').count(),
        { timeout: 20_000 },
      );
      // "Choose image…": VS Code's file dialog (in the browser, its quick-input dialog) → the worker reads the picture at 16×16
      const sampleDir = path.join(workspace, 'runs/editdigits/samples/teacher');
      const picture = path.join(workspace, 'my-digits.png');
      fs.copyFileSync(
        path.join(
          sampleDir,
          fs
            .readdirSync(sampleDir)
            .filter((f) => f.endsWith('.png'))
            .sort()
            .pop(),
        ),
        picture,
      );
      frame = await editFrame();
      await frame.locator('#edit-pick').click();
      const dialogInput = page.locator('.quick-input-widget .quick-input-box input').first();
      await dialogInput.waitFor({ state: 'visible', timeout: 20_000 });
      await screenshot('edit-choose-image');
      await dialogInput.fill(picture);
      await sleep(500);
      await page.keyboard.press('Enter');
      await poll(
        "the chosen picture as the Edit tab's input",
        async () =>
          /my-digits\.png \(16×16\)/.test(
            (await (
              await editFrame()
            )
              ?.locator('#edit-input-label')
              .innerText()
              .catch(() => '')) ?? '',
          ),
        { timeout: 60_000 },
      ).catch(async (e) => {
        throw new Error(
          `${e.message}; label: ${await (await editFrame())
            ?.locator('#edit-input-label')
            .innerText()
            .catch(() => '?')}; error: ${await (await editFrame())
            ?.locator('#edit-error')
            .innerText()
            .catch(() => '?')}`,
        );
      });
      lap(`  input: ${await (await editFrame()).locator('#edit-input-label').innerText()}`);
      // then a training example of the run (what the edit below starts from)
      frame = await editFrame();
      await frame.locator('#edit-tab vscode-textfield[label="Training example"]').evaluate((el) => {
        el.value = '5';
      });
      await frame.locator('#edit-use-example').click();
      await poll(
        'the training example on the mask canvas',
        async () =>
          (await editFrame())?.locator('#edit-canvas[data-loaded="true"]').count() &&
          /training example 5/.test(await (await editFrame()).locator('#edit-input-label').innerText()),
        { timeout: 60_000 },
      ).catch(async (e) => {
        throw new Error(
          `${e.message}; edit tab: ${((await (await editFrame())?.locator('#edit-tab').innerText()) || '').replace(/\s+/g, ' ').slice(0, 400)}`,
        );
      });
      frame = await editFrame();
      lap(`  input: ${await frame.locator('#edit-input-label').innerText()}`);
      // paint the top half of the digit with the mouse (brush 3 px), a stroke per row pair
      const box = await frame.locator('#edit-canvas').boundingBox();
      const cell = box.width / 16;
      for (let y = 1; y < 8; y += 2) {
        await page.mouse.move(box.x + 0.5 * cell, box.y + (y + 0.5) * cell);
        await page.mouse.down();
        for (let x = 1; x < 16; x++) await page.mouse.move(box.x + (x + 0.5) * cell, box.y + (y + 0.5) * cell);
        await page.mouse.up();
      }
      const repaint = Number(await frame.locator('#edit-mask-info').getAttribute('data-repaint'));
      lap(`  mask: ${await frame.locator('#edit-mask-info').innerText()}`);
      if (!(repaint >= 100 && repaint <= 160))
        throw new Error(`the painted mask covers ${repaint} pixels; expected the top half (~128 of 256)`);
      await frame.locator('#edit-class').evaluate((el) => {
        el.value = '3';
      });
      await frame.locator('#edit-run').click();
      const result = await poll(
        'teacher and student edits with NFE and ms in the Edit tab',
        async () => {
          const f = await editFrame();
          return f?.evaluate(() => {
            const fig = (w) => ({
              nfe: document.querySelector(`#edit-result-${w}-meta`)?.getAttribute('data-nfe'),
              meta: document.querySelector(`#edit-result-${w}-meta`)?.textContent || '',
              detail: document.querySelector(`#edit-result-${w}-detail`)?.textContent || '',
              img: [...document.querySelectorAll(`#edit-result-${w}-image`)]
                .filter((i) => !i.hidden && i.complete && i.naturalWidth > 0)
                .map((i) => [i.naturalWidth, i.naturalHeight]),
            });
            const r = {
              teacher: fig('teacher'),
              student: fig('student'),
              input: document.querySelector('#edit-result-input-meta')?.textContent || '',
              error: document.querySelector('#edit-error')?.textContent || '',
            };
            if (r.error) return r;
            return r.teacher.nfe && r.student.nfe && r.teacher.img.length && r.student.img.length ? r : undefined;
          });
        },
        { timeout: 120_000 },
      );
      if (result.error) throw new Error(`edit error: ${result.error}`);
      lap(`  input: ${result.input}`);
      lap(`  teacher: ${result.teacher.meta} | ${result.teacher.detail} | ${JSON.stringify(result.teacher.img)}`);
      lap(`  student: ${result.student.meta} | ${result.student.detail} | ${JSON.stringify(result.student.img)}`);
      for (const w of ['teacher', 'student']) {
        if (!/NFE \d+ · [\d.]+ ms/.test(result[w].meta)) throw new Error(`${w}: no NFE / ms label: ${result[w].meta}`);
        if (JSON.stringify(result[w].img) !== '[[16,16]]')
          throw new Error(`${w}: expected one 16×16 image, got ${JSON.stringify(result[w].img)}`);
      }
      // S = 0.6: the teacher takes ⌈0.6·16⌉ = 10 steps of 2 NFE, the 4-step student ⌈0.6·4⌉ = 3 of 1 NFE
      if (result.teacher.nfe !== '20' || result.student.nfe !== '3')
        throw new Error(`NFE: teacher ${result.teacher.nfe} (expected 20), student ${result.student.nfe} (expected 3)`);
      if (!/progressive-8-4/.test(result.student.detail))
        throw new Error(`the student should be the 4-step one: ${result.student.detail}`);
      if (!/mask: \d+ px repainted/.test(result.input))
        throw new Error(`the input does not show its mask: ${result.input}`);
      await (await editFrame()).locator('#edit-result-student').scrollIntoViewIfNeeded();
      await screenshot('preview-edit-tab');
    },
  );

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
        const toasts = await notifications(page);
        const msg = `${e.message}${toasts.length ? `\n  notifications: ${JSON.stringify(toasts)}` : ''}`;
        failed.push({ name: s.name, error: msg });
        lap(`FAIL ${s.name}: ${msg}`);
        const png = path.join(outDir, 'failure.png');
        await page.screenshot({ path: png }).catch(() => {});
        if (serverLog && fs.existsSync(serverLog)) fs.copyFileSync(serverLog, path.join(outDir, 'server.log'));
        lap(`     screenshot ${png}${serverLog ? `, server log ${path.join(outDir, 'server.log')}` : ''}`);
        // Which processes were busy (or idle) when it failed: tells a stuck worker from a slow machine.
        try {
          const ps = execFileSync('ps', ['-eo', 'pid,ppid,stat,etime,pcpu,rss,args', '--sort=-pcpu'], {
            encoding: 'utf8',
          });
          lap(
            `     processes at failure:\n${ps
              .split('\n')
              .slice(0, 16)
              .map((l) => `       ${l.slice(0, 220)}`)
              .join('\n')}`,
          );
        } catch {
          /* no ps */
        }
      }
    }
  } finally {
    await browser.close();
  }
  lap(`requests that left the test server: ${browser.external.length}`);
  if (browser.external.length) {
    failed.push({ name: 'no request leaves the test server', error: browser.external.slice(0, 20).join('\n') });
  } else {
    passed.push('no request leaves the test server');
  }
  if (pageErrors.length) lap(`page errors (not failures): ${JSON.stringify(pageErrors.slice(0, 10))}`);
  return { passed, failed };
}

// ─────────────────────────────────── CLI ───────────────────────────────────
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { startServer } = await import('./server.mjs');
  const vsix = path.resolve(process.argv[2] || path.join(REPO, 'diffusion-distiller.vsix'));
  if (!fs.existsSync(vsix)) {
    console.error(`${vsix} not found: run npm run package first`);
    process.exit(2);
  }
  const root = path.join(REPO, 'test-artifacts/e2e');
  const workspace = makeWorkspace(path.join(root, 'workspace'));
  const server = await startServer({
    runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-server-')),
    workspace,
    vsix: [vsix],
  });
  console.log(`server ${server.baseUrl} up in ${server.startupMs} ms`);
  let r;
  try {
    r = await runUiFlow({
      baseUrl: server.baseUrl,
      workspace,
      serverLog: server.logFile,
      outDir: path.join(root, 'ui'),
    });
  } finally {
    await server.stop();
    fs.copyFileSync(server.logFile, path.join(root, 'server.log'));
    try {
      fs.cpSync(path.join(server.runDir, 'user-data/logs'), path.join(root, 'vscode-logs'), { recursive: true });
    } catch {
      /* none */
    }
    fs.rmSync(server.runDir, { recursive: true, force: true });
  }
  for (const f of r.failed) console.log(`FAIL: ${f.name}\n  ${f.error}`);
  console.log(`${r.passed.length} passed, ${r.failed.length} failed`);
  process.exit(r.failed.length ? 1 : 0);
}
