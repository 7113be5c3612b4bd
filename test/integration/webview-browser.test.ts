/**
 * The dashboard and preview webview bundles in headless Chromium: a generated page stands in for VS Code (an
 * `acquireVsCodeApi` that records posted messages and keeps state), served from a fake origin through request
 * interception with the real HTML/CSP builder, fed a generated event log and small PNG grids.
 * Screenshots go to test-artifacts/webview/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import type { RunEvent, SamplesEvent } from '../../src/engine/run/events';
import { buildReportView } from '../../src/extension/panels/report';
import type { ConfigEntry, HostToWebview, ReportView, RunView, SampleResult } from '../../src/protocol';
import { bundleWebviews, CHROMIUM, CHROMIUM_ARGS, harnessHtml, measureLongRun, ORIGIN } from '../helpers/webview-page';

const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'webview');
const RUN_DIR = '/runs/demo-run';
const UNITS = [
  { unit: 'teacher', stage: 'teacher' as const, totalSteps: 1000, n: 100 },
  { unit: 'guided', stage: 'guided' as const, totalSteps: 600, n: 120 },
  { unit: 'progressive-64-32', stage: 'progressive' as const, totalSteps: 400, n: 80 },
];
const W = [0, 0.5, 1, 4];
const CLASSES = [1, 3, 7];
const TILE = 8;

// ───────────────────────────── fixtures ─────────────────────────────
function gridPng(rows: number, cols: number, hue: number): Buffer {
  const png = new PNG({ width: cols * TILE, height: rows * TILE });
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      const r = Math.floor(y / TILE);
      const c = Math.floor(x / TILE);
      png.data[i] = (hue * 60 + r * 50) % 256;
      png.data[i + 1] = (c * 60 + 40) % 256;
      png.data[i + 2] = (hue * 70) % 256;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** A recorded log: run_start, backend, and per unit stage_start, loss every 5 steps, stage_end; 4 sample grids. */
function recordedLog(): { events: RunEvent[]; grids: SamplesEvent[]; files: Map<string, Buffer> } {
  const events: RunEvent[] = [];
  const grids: SamplesEvent[] = [];
  const files = new Map<string, Buffer>();
  let t = 1_700_000_000_000;
  events.push({ type: 'run_start', t: t++, pid: 42, host: 'test', resumed: false, configHash: 'abc' });
  events.push({ type: 'backend', t: t++, name: 'wasm', version: '4.22.0', threads: 4, simd: true });
  const grid = (unit: string, step: number): void => {
    const file = `samples/${unit}/step-${String(step).padStart(7, '0')}.png`;
    files.set(file, gridPng(CLASSES.length, W.length, grids.length));
    const e: SamplesEvent = {
      type: 'samples',
      t: t++,
      unit,
      step,
      file,
      w: W,
      classes: CLASSES,
      steps: unit === 'teacher' ? 64 : 32,
      nfe: unit === 'teacher' ? 128 : 32,
    };
    grids.push(e);
    events.push(e);
  };
  for (const u of UNITS) {
    events.push({ type: 'stage_start', t: t++, stage: u.stage, unit: u.unit, totalSteps: u.totalSteps, startStep: 0 });
    if (u.unit === 'teacher') grid(u.unit, 0);
    for (let i = 1; i <= u.n; i++) {
      const step = i * 5;
      events.push({
        type: 'loss',
        t: t++,
        unit: u.unit,
        step,
        loss: 0.05 + 1 / (1 + i) + 0.01 * Math.sin(i),
        lr: 1e-3,
        rate: 25,
      });
    }
    grid(u.unit, u.n * 5);
    if (u.unit !== 'progressive-64-32')
      events.push({ type: 'stage_end', t: t++, unit: u.unit, step: u.n * 5, seconds: 12 });
  }
  return { events, grids, files };
}

function runView(active: boolean, status: RunView['status']): RunView {
  return {
    runDir: RUN_DIR,
    name: 'demo-run',
    status,
    active,
    units: UNITS.map((u, i) => ({
      unit: u.unit,
      stage: u.stage,
      totalSteps: u.totalSteps,
      step: u.n * 5,
      done: i < 2,
    })),
    backend: 'wasm 4.22.0 (4 threads, SIMD)',
    rate: status === 'running' ? 25 : undefined,
    etaSeconds: status === 'running' ? 8 : undefined,
  };
}

const CONFIGS: ConfigEntry[] = [
  { path: '/ws/quickstart.distill.json', label: 'quickstart', stages: ['teacher', 'guided', 'progressive'] },
  { path: '/ws/mnist.distill.json', label: 'mnist', stages: ['teacher', 'guided'] },
  { path: '/ws/broken.distill.json', label: 'broken', stages: [], error: 'data: must have required property "kind"' },
];

// ───────────────────────────── harness ─────────────────────────────
let context: BrowserContext | undefined;
let bundleDir = '';
let profileDir = '';
const log = recordedLog();
const LONG_GRID_PNG = gridPng(3, 4, 5);
const pageErrors: string[] = [];
/** The plots of the evaluation report, served under /run/eval/ (sizes differ so each one is recognisable). */
const EVAL_PNGS = new Map<string, Buffer>([
  ['quality-vs-nfe.png', gridPng(4, 16, 1)],
  ['quality-vs-w.png', gridPng(5, 12, 2)],
  ['accuracy-vs-w.png', gridPng(4, 10, 3)],
]);
/** The Report view of a real report (runs/qs2, kept as test/fixtures/eval-report.json), built by the host's own code. */
function fixtureReport(edit?: (json: Record<string, unknown>) => void): ReportView {
  const json = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eval-report.json'), 'utf8'),
  ) as Record<string, unknown>;
  edit?.(json);
  const notes = [...(json.notes as string[]), 'a note with <b>markup</b> & <img src=x> stays text'];
  return buildReportView({ ...json, notes }, (names) =>
    names
      .filter((f) => EVAL_PNGS.has(f))
      .map((file) => ({ file, title: `plot ${file}`, src: `${ORIGIN}/run/eval/${file}?v=1` })),
  );
}

async function openPage(bundle: 'dashboard' | 'preview', initialState?: unknown): Promise<Page> {
  assert.ok(context, 'browser not started');
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${bundle}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${bundle} console: ${m.text()}`);
  });
  await page.setViewportSize({ width: 1100, height: 1400 });
  await page.route(`${ORIGIN}/${bundle}.html`, (route) =>
    route.fulfill({ contentType: 'text/html', body: harnessHtml(bundle, initialState) }),
  );
  await page.goto(`${ORIGIN}/${bundle}.html`);
  await page.waitForFunction(() =>
    (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'),
  );
  return page;
}

const send = (page: Page, m: unknown): Promise<void> => page.evaluate((msg) => window.postMessage(msg, '*'), m);
const posted = (page: Page): Promise<{ type: string; [k: string]: unknown }[]> =>
  page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted);
const state = (page: Page): Promise<Record<string, unknown>> =>
  page.evaluate(() => (window as unknown as { __state: Record<string, unknown> }).__state);
const cspViolations = (page: Page): Promise<string[]> =>
  page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
const text = async (page: Page, sel: string): Promise<string> => ((await page.textContent(sel)) ?? '').trim();
/** A round trip through the page's message queue: messages posted before it have been handled. */
const settle = (page: Page): Promise<void> =>
  page.evaluate(
    () =>
      new Promise<void>((r) => {
        window.addEventListener('message', () => requestAnimationFrame(() => r()), { once: true });
        window.postMessage('settle', '*');
      }),
  );

function initMessage(active: boolean, status: RunView['status']): HostToWebview {
  return {
    type: 'init',
    view: 'dashboard',
    run: runView(active, status),
    events: log.events,
    configs: CONFIGS,
    sampleBase: `${ORIGIN}/run`,
  };
}

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    assert.fail(
      `Chromium not found at ${CHROMIUM}. The webview tests need Debian's chromium: run ` +
        '`apt-get update && apt-get install -y chromium` (or set CHROMIUM_PATH). Do not use `npx playwright install`.',
    );
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-webview-bundle-'));
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-webview-profile-'));
  await bundleWebviews(bundleDir);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  // Nothing leaves the machine: the fake origin is served from memory, everything else is refused.
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== ORIGIN) return route.abort();
    const p = decodeURIComponent(url.pathname);
    if (p.startsWith('/dist/')) {
      const file = path.join(bundleDir, path.basename(p));
      if (fs.existsSync(file))
        return route.fulfill({ contentType: 'text/javascript', body: fs.readFileSync(file, 'utf8') });
    }
    if (p.startsWith('/run/eval/')) {
      const png = EVAL_PNGS.get(p.slice('/run/eval/'.length));
      if (png) return route.fulfill({ contentType: 'image/png', body: png });
    }
    if (p.startsWith('/run/')) {
      // the long-run test's 200 generated grids all show the same picture
      const png =
        log.files.get(p.slice('/run/'.length)) ?? (p.startsWith('/run/samples/long/') ? LONG_GRID_PNG : undefined);
      if (png) return route.fulfill({ contentType: 'image/png', body: png });
    }
    if (p.endsWith('.html')) return route.fallback();
    return route.fulfill({ status: 404, body: 'not found' });
  });
});

after(async () => {
  await context?.close();
  for (const d of [bundleDir, profileDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

// ───────────────────────────── dashboard ─────────────────────────────
describe('dashboard webview', () => {
  it('replays the history: loss points per unit, stage boundaries, newest grid with labels', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(true, 'running'));
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#loss-legend li[data-unit="progressive-64-32"]');
    for (const u of UNITS) {
      const li = page.locator(`#loss-legend li[data-unit="${u.unit}"]`);
      assert.equal(await li.getAttribute('data-points'), String(u.n), `${u.unit}: recorded points`);
      assert.equal(await li.getAttribute('data-drawn'), String(u.n), `${u.unit}: points in the chart`);
    }
    assert.equal(await page.locator('#loss-chart canvas').count(), 1, 'one uPlot canvas');
    assert.equal(await page.getAttribute('#loss-chart .uplot', 'data-boundaries'), '3');

    // Newest grid: 4 of 4, progressive unit, labelled 3 rows × 4 columns.
    await page.waitForSelector('#grid .lgrid[data-loaded="true"]');
    assert.equal(await text(page, '#grid-position'), '4 / 4 (newest)');
    assert.equal(await page.getAttribute('#grid-caption', 'data-unit'), 'progressive-64-32');
    assert.deepEqual(await page.locator('#grid .colhead').allTextContents(), ['w = 0', 'w = 0.5', 'w = 1', 'w = 4']);
    assert.deepEqual(await page.locator('#grid .rowhead').allTextContents(), ['1', '3', '7']);
    assert.equal(
      await page.getAttribute('#grid img', 'src'),
      `${ORIGIN}/run/samples/progressive-64-32/step-0000400.png`,
    );
    const box = await page.locator('#grid img').boundingBox();
    assert.ok(box && box.width / box.height > 1.2 && box.width / box.height < 1.45, 'image keeps its 4:3 aspect');

    // Header facts from the RunView.
    assert.match(await text(page, '#fact-backend'), /wasm 4\.22\.0/);
    assert.match(await text(page, '#fact-rate'), /25\.0 steps\/s/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true });

    // Theme switches as VS Code does them (body class + variables): the chart is rebuilt in the new colours.
    for (const [theme, vars] of [
      [
        'vscode-light',
        {
          '--vscode-foreground': '#3b3b3b',
          '--vscode-editor-background': '#ffffff',
          '--vscode-sideBar-background': '#f8f8f8',
          '--vscode-charts-foreground': '#3b3b3b',
          '--vscode-panel-border': '#e5e5e5',
          '--vscode-descriptionForeground': '#717171',
        },
      ],
      [
        'vscode-high-contrast',
        {
          '--vscode-foreground': '#ffffff',
          '--vscode-editor-background': '#000000',
          '--vscode-sideBar-background': '#000000',
          '--vscode-charts-foreground': '#ffffff',
          '--vscode-contrastBorder': '#6fc3df',
          '--vscode-focusBorder': '#f38518',
        },
      ],
    ] as const) {
      await page.evaluate(
        ([cls, v]) => {
          for (const [k, val] of Object.entries(v)) document.documentElement.style.setProperty(k, val);
          document.body.className = cls;
        },
        [theme, vars] as const,
      );
      await settle(page);
      await page.waitForTimeout(50);
      assert.equal(await page.locator('#loss-chart canvas').count(), 1);
      await page.screenshot({
        path: path.join(ARTIFACTS, `dashboard-${theme.replace('vscode-', '')}.png`),
        fullPage: true,
      });
    }
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it("shows a latent run's autoencoder grid (originals over reconstructions) as one plain image, without w columns", async () => {
    const page = await openPage('dashboard');
    const file = 'samples/autoencoder/step-0000060.png';
    log.files.set(file, gridPng(2, 8, 4));
    const events: RunEvent[] = [
      { type: 'run_start', t: 1, pid: 1, host: 'test', resumed: false, configHash: 'lat' },
      { type: 'stage_start', t: 2, stage: 'autoencoder', unit: 'autoencoder', totalSteps: 60, startStep: 0 },
      { type: 'loss', t: 3, unit: 'autoencoder', step: 10, loss: 0.3, lr: 1e-3, rate: 2 },
      {
        type: 'samples',
        t: 4,
        unit: 'autoencoder',
        step: 60,
        file,
        w: [],
        classes: [0, 1, 0, 1, 0, 1, 0, 1],
        steps: 0,
        nfe: 0,
      },
    ];
    const run: RunView = {
      runDir: RUN_DIR,
      name: 'latent-run',
      status: 'running',
      active: true,
      units: [{ unit: 'autoencoder', stage: 'autoencoder', totalSteps: 60, step: 10, done: false }],
    };
    await send(page, { type: 'init', view: 'dashboard', run, events, configs: CONFIGS, sampleBase: `${ORIGIN}/run` });
    await page.waitForSelector('#grid img.recon');
    assert.equal(await page.locator('#grid .colhead').count(), 0);
    assert.equal(await page.getAttribute('#grid img.recon', 'src'), `${ORIGIN}/run/${file}`);
    assert.match(
      await text(page, '#grid-caption'),
      /^autoencoder · step 60 · originals \(top\) over reconstructions \(bottom\)$/,
    );
    assert.equal(await page.locator('#loss-legend li[data-unit="autoencoder"]').getAttribute('data-points'), '1');
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it('scrubs through every grid with the slider (mouse and keyboard) and restores the choice after a reload', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(true, 'running'));
    await page.waitForSelector('#grid .lgrid');
    const seen: string[] = [];
    for (let i = 0; i < log.grids.length; i++) {
      await page.locator('#grid-slider').fill(String(i));
      const label = `${await page.getAttribute('#grid-caption', 'data-unit')}@${await page.getAttribute('#grid-caption', 'data-step')}`;
      seen.push(label);
      assert.match(await text(page, '#grid-caption'), new RegExp(`step ${log.grids[i].step.toLocaleString('en-US')}`));
    }
    assert.deepEqual(
      seen,
      log.grids.map((g) => `${g.unit}@${g.step}`),
      'every grid, step 0 first',
    );
    await page.locator('#grid-slider').fill('0');
    await page.locator('#grid-slider').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#grid-caption', 'data-step'), String(log.grids[1].step));
    assert.equal(await text(page, '#grid-position'), '2 / 4');
    assert.equal((await state(page)).gridIndex, 1);

    // A new grid while scrubbed back keeps the chosen one; following the newest resumes at the end.
    const extra: SamplesEvent = { ...log.grids[3], t: log.grids[3].t + 1, step: 405 };
    await send(page, { type: 'events', runDir: RUN_DIR, events: [extra] });
    await settle(page);
    assert.equal(await text(page, '#grid-position'), '2 / 5');

    // Webview reload: state (grid, smoothing, log scale) comes back.
    await page.locator('#smoothing').fill('0.3');
    await page.locator('#log-scale').focus();
    await page.keyboard.press(' ');
    const saved = await state(page);
    assert.equal(saved.smoothing, 0.3);
    assert.equal(saved.logScale, true);
    await page.close();
    const again = await openPage('dashboard', saved);
    await send(again, initMessage(true, 'running'));
    await again.waitForSelector('#grid .lgrid');
    assert.equal(await again.getAttribute('#grid-caption', 'data-step'), String(log.grids[1].step));
    assert.equal(await again.inputValue('#smoothing'), '0.3');
    assert.equal(
      await again.locator('#log-scale').evaluate((el) => (el as HTMLElement & { checked: boolean }).checked),
      true,
    );
    assert.equal(await again.getAttribute('#loss-legend li[data-unit="teacher"]', 'data-drawn'), String(UNITS[0].n));
    await again.close();
  });

  it('appends live loss events and ignores malformed messages (DOM unchanged)', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(true, 'running'));
    await page.waitForSelector('#grid .lgrid[data-loaded="true"]');
    await page.waitForSelector('#loss-legend li[data-unit="teacher"]');
    const before = await page.evaluate(() => document.body.innerHTML);
    const bad: unknown[] = [
      {
        type: 'events',
        runDir: RUN_DIR,
        events: [{ type: 'loss', t: 'soon', unit: 'teacher', step: 1, loss: 1, lr: 1, rate: 1 }],
      },
      { type: 'events', runDir: RUN_DIR },
      { type: 'run', run: { runDir: RUN_DIR, name: 'x', status: 'exploded', active: false, units: [] } },
      { type: 'configs', configs: [{ path: 1 }] },
      { type: 'init', view: 'dashboard', events: 'all of them', configs: [], sampleBase: '' },
      { type: 'launch', configPath: '/ws/x.json' },
      { kind: 'nothing' },
      'just a string',
      null,
    ];
    for (const m of bad) await send(page, m);
    // Valid, but for another run: ignored as well.
    await send(page, {
      type: 'events',
      runDir: '/runs/other',
      events: [{ type: 'loss', t: 1, unit: 'teacher', step: 9999, loss: 1, lr: 1, rate: 1 }],
    });
    await settle(page);
    await page.waitForTimeout(50);
    assert.equal(await page.evaluate(() => document.body.innerHTML), before, 'malformed messages change nothing');

    const live: RunEvent[] = [];
    for (let i = 1; i <= 10; i++)
      live.push({
        type: 'loss',
        t: 1_800_000_000_000 + i,
        unit: 'progressive-64-32',
        step: 400 + i * 5,
        loss: 0.1,
        lr: 1e-3,
        rate: 30,
      });
    await send(page, { type: 'events', runDir: RUN_DIR, events: live });
    await page.waitForSelector('#loss-legend li[data-unit="progressive-64-32"][data-drawn="90"]');
    assert.equal(await page.getAttribute('#loss-legend li[data-unit="progressive-64-32"]', 'data-points'), '90');
    await page.close();
  });

  it('shows where the run computes: the WebGPU adapter, the device and the backend warning', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(true, 'running'));
    await page.waitForSelector('#fact-backend');
    assert.equal(await page.locator('#fact-device').count(), 0, 'no device fact before the host names one');
    assert.equal(await page.locator('#backend-warning').isVisible(), false, 'an empty warning takes no space');
    const gpu: RunView = {
      ...runView(true, 'running'),
      backend: 'webgpu 4.22.0 · SwiftShader driver 5.0.0 (software adapter, emulated on the CPU)',
      device: 'emulated GPU',
      backendWarning:
        'the WebGPU adapter SwiftShader driver 5.0.0 is a software rasteriser: the GPU is emulated on the CPU',
    };
    await send(page, { type: 'run', run: gpu });
    await page.waitForSelector('#fact-device');
    assert.equal(await text(page, '#fact-backend'), gpu.backend);
    assert.equal(await text(page, '#fact-device'), 'emulated GPU');
    assert.equal(await text(page, '#backend-warning'), `⚠ ${gpu.backendWarning}`);
    assert.equal(await page.locator('#backend-warning').isVisible(), true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-webgpu-emulated.png') });
    await send(page, {
      type: 'run',
      run: {
        ...gpu,
        backend: 'webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)',
        device: 'GPU',
        backendWarning: undefined,
      },
    });
    await page.waitForFunction(() => document.querySelector('#fact-device')?.textContent === 'GPU');
    assert.equal(
      await page.locator('#backend-warning').isVisible(),
      false,
      'the warning goes with the software adapter',
    );
    await page.close();
  });

  it('launch / resume / stop post the right messages and are disabled while the run is active', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(true, 'running'));
    await page.waitForSelector('#configs vscode-button[data-config]');
    const launch = page.locator('#configs vscode-button[data-config]');
    assert.equal(await launch.count(), 2, 'no Launch for the config with an error');
    assert.match(await text(page, '#configs'), /data: must have required property/);
    for (let i = 0; i < 2; i++)
      assert.equal(await launch.nth(i).getAttribute('disabled'), '', 'launch disabled while active');
    assert.equal(await page.getAttribute('#resume', 'disabled'), '', 'resume disabled while active');
    assert.equal(await page.getAttribute('#stop', 'disabled'), null, 'stop enabled while active');

    await page.click('#stop');
    assert.deepEqual((await posted(page)).at(-1), { type: 'stop', runDir: RUN_DIR });
    assert.equal(await page.getAttribute('#stop', 'disabled'), '', 'no second stop until the host answers');

    await send(page, { type: 'run', run: runView(false, 'stopped') });
    await settle(page);
    assert.equal(await page.getAttribute('#stop', 'disabled'), '');
    assert.equal(await page.getAttribute('#resume', 'disabled'), null);
    assert.equal(await launch.nth(0).getAttribute('disabled'), null);
    assert.equal(await text(page, '#status'), 'stopped');

    // Keyboard: Tab reaches Resume, Enter/Space activates it.
    await page.locator('#resume').focus();
    await page.keyboard.press('Enter');
    assert.deepEqual((await posted(page)).at(-1), { type: 'resume', runDir: RUN_DIR });
    await send(page, { type: 'run', run: runView(false, 'stopped') });
    await settle(page);

    await launch.nth(1).click();
    assert.deepEqual((await posted(page)).at(-1), { type: 'launch', configPath: '/ws/mnist.distill.json' });
    assert.equal(await launch.nth(0).getAttribute('disabled'), '', 'launch disabled while the command runs');
    await send(page, { type: 'configs', configs: CONFIGS });
    await settle(page);
    assert.equal(await launch.nth(0).getAttribute('disabled'), null);

    // Progress per unit from the RunView.
    assert.equal(await page.locator('#units [role="progressbar"]').count(), 3);
    assert.equal(await page.getAttribute('#units [role="progressbar"] >> nth=2', 'aria-valuenow'), '400');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-stopped.png'), fullPage: true });
    await page.close();
  });
});

describe('dashboard webview: Report view', () => {
  it('offers Run evaluation without a report, then shows the headline table and the plots; Re-evaluate', async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(false, 'finished'));
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#report'), true, 'a Report section for a run');
    assert.equal(
      await page.getAttribute('#evaluate', 'disabled'),
      '',
      'disabled until the host said whether a report exists',
    );

    // No report yet.
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false });
    await settle(page);
    assert.equal(await text(page, '#evaluate'), 'Run evaluation');
    assert.equal(await page.getAttribute('#evaluate', 'disabled'), null);
    assert.match(await text(page, '#report-status'), /Not evaluated yet/);
    assert.equal(await page.isVisible('#open-report'), false);
    assert.equal(await page.locator('#report-table tr').count(), 0);
    assert.equal(await page.locator('#report-plots img').count(), 0);

    // Run evaluation posts the command for this run; the button waits for the host.
    await page.click('#evaluate');
    assert.deepEqual((await posted(page)).at(-1), { type: 'evaluate', runDir: RUN_DIR });
    assert.equal(await page.getAttribute('#evaluate', 'disabled'), '');
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: true });
    await settle(page);
    assert.equal(await text(page, '#evaluate'), 'Evaluating…');
    assert.equal(await page.getAttribute('#evaluate', 'disabled'), '');
    assert.match(await text(page, '#report-status'), /Cancel/);

    // The report arrives: the headline table (DOM nodes from report.json) and the three plots.
    const report = fixtureReport();
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report });
    await page.waitForSelector('#report-table tbody tr');
    assert.equal(await text(page, '#evaluate'), 'Re-evaluate');
    assert.equal(await page.getAttribute('#evaluate', 'disabled'), null);
    assert.match(await text(page, '#report-status'), /100 samples per configuration · wasm \(2 threads\)/);
    assert.deepEqual(await page.locator('#report-table thead th').allTextContents(), [
      'w',
      'teacher 256 steps FID',
      'student 4 steps FID',
      'teacher 4 steps DDIM FID',
      'accuracy teacher 256',
      'accuracy student 4',
      'diversity ÷ real, teacher 256',
      'diversity ÷ real, student 4',
      'speed-up of the student',
    ]);
    // An old report (written before recall was measured): no recall columns, the within-class diversity ÷ real's.
    const rows = await page
      .locator('#report-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
    assert.deepEqual(rows, [
      ['0', '117.0', '95.78', '112.9', '67.0 %', '91.0 %', '1.258', '0.885', '154× (128× fewer NFE)'],
      ['1', '82.83', '96.73', '102.9', '95.0 %', '92.0 %', '0.880', '0.861', '80× (128× fewer NFE)'],
      ['2', '148.5', '158.3', '188.7', '98.0 %', '97.0 %', '0.772', '0.714', '118× (128× fewer NFE)'],
      ['4', '301.2', '238.3', '356.3', '98.0 %', '97.0 %', '0.637', '0.647', '222× (128× fewer NFE)'],
    ]);
    assert.equal(await text(page, '#report-table tfoot [data-col="teacher"]'), '16.58');
    assert.equal(await text(page, '#report-table tfoot [data-col="teacher-accuracy"]'), '97.1 %');
    assert.equal(await text(page, '#report-table tfoot [data-col="teacher-diversity"]'), '1.000');
    assert.match(
      await text(page, '#report-table caption'),
      /256 steps \(512 NFE\) vs the 4-step distilled student \(4 NFE\)/,
    );
    // Data is text, never markup.
    assert.equal(await page.locator('#report-notes li').count(), 2);
    assert.equal(await text(page, '#report-notes li >> nth=1'), 'a note with <b>markup</b> & <img src=x> stays text');
    assert.equal(await page.locator('#report-notes b, #report-notes img').count(), 0);

    for (const f of EVAL_PNGS.keys())
      await page.waitForSelector(`#report-plots figure[data-file="${f}"][data-loaded="true"]`);
    const imgs = await page
      .locator('#report-plots img')
      .evaluateAll((els) => (els as HTMLImageElement[]).map((i) => [i.getAttribute('src'), i.naturalWidth, i.alt]));
    assert.deepEqual(imgs, [
      [`${ORIGIN}/run/eval/quality-vs-nfe.png?v=1`, 16 * TILE, 'plot quality-vs-nfe.png'],
      [`${ORIGIN}/run/eval/quality-vs-w.png?v=1`, 12 * TILE, 'plot quality-vs-w.png'],
      [`${ORIGIN}/run/eval/accuracy-vs-w.png?v=1`, 10 * TILE, 'plot accuracy-vs-w.png'],
    ]);
    assert.deepEqual(
      await page.locator('#report-plots figure.wide').evaluateAll((els) => els.map((e) => e.getAttribute('data-file'))),
      ['quality-vs-nfe.png'],
      'the plot with a panel per w gets the whole row',
    );
    assert.equal(await page.isVisible('#open-report'), true);
    await page.locator('#report').screenshot({ path: path.join(ARTIFACTS, 'dashboard-report.png') });

    await page.click('#open-report');
    assert.deepEqual((await posted(page)).at(-1), { type: 'openReport', runDir: RUN_DIR });

    // Malformed or foreign report messages change nothing.
    const before = await page.evaluate(() => document.getElementById('report')!.innerHTML);
    const broken = JSON.parse(JSON.stringify(report)) as ReportView;
    (broken.rows[0] as unknown as Record<string, unknown>).student = '<b>1</b>';
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report: broken });
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: 'no' });
    await send(page, { type: 'report', runDir: '/runs/other', evaluating: false });
    await settle(page);
    assert.equal(await page.evaluate(() => document.getElementById('report')!.innerHTML), before);

    // A rewritten report: the plots are reloaded from their new URIs.
    const again = { ...report, plots: report.plots.map((p) => ({ ...p, src: p.src.replace('?v=1', '?v=2') })) };
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report: again });
    await page.waitForSelector(`#report-plots img[src$="quality-vs-w.png?v=2"]`);
    // A report with the diversity measures (recall beside accuracy; real data's recall in the last row).
    const withRecall = fixtureReport((json) => {
      const rows = json.rows as Record<string, unknown>[];
      rows.forEach(
        (r) => (r.recall = r.model === 'teacher' ? 0.8 + (r.w as number) / 100 : 0.55 + (r.w as number) / 100),
      );
      (json.real as Record<string, unknown>).recall = 0.874;
    });
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report: withRecall });
    await page.waitForSelector('#report-table th[data-col="student-recall"]');
    const heads = await page.locator('#report-table thead th').allTextContents();
    assert.deepEqual(heads.slice(4, 10), [
      'accuracy teacher 256',
      'accuracy student 4',
      'recall teacher 256',
      'recall student 4',
      'diversity ÷ real, teacher 256',
      'diversity ÷ real, student 4',
    ]);
    const w0 = await page
      .locator('#report-table tbody tr >> nth=0')
      .evaluate((tr) => Array.from(tr.children, (c) => c.textContent));
    assert.deepEqual(w0.slice(4, 8), ['67.0 %', '91.0 %', '0.800', '0.550']);
    assert.equal(await text(page, '#report-table tfoot [data-col="teacher-recall"]'), '0.874');
    assert.match(await text(page, '#report-table caption'), /recall and diversity ÷ real: higher is more varied/);
    await page.locator('#report').screenshot({ path: path.join(ARTIFACTS, 'dashboard-report-recall.png') });

    // A report.json the host cannot show: the reason, and Run evaluation again.
    await send(page, {
      type: 'report',
      runDir: RUN_DIR,
      evaluating: false,
      error: 'report.json is not valid JSON: Unexpected end of JSON input',
    });
    await settle(page);
    assert.match(await text(page, '#report-error'), /cannot be shown: report\.json is not valid JSON/);
    assert.equal(await text(page, '#evaluate'), 'Run evaluation');
    assert.equal(await page.locator('#report-plots img').count(), 0);
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it("shows each method's students at each step count, quality vs NFE with its front and the training cost", async () => {
    const page = await openPage('dashboard');
    await send(page, initMessage(false, 'finished'));
    await page.waitForSelector('body[data-ready="true"]');
    // The real report as it is (progressive students only, no pareto, no trainingCost): a methods table, nothing more.
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report: fixtureReport() });
    await page.waitForSelector('#report-methods tbody tr');
    assert.equal(await page.locator('#report-pareto').count(), 0);
    assert.equal(await page.locator('#report-cost').count(), 0);
    // With a consistency student at 4 and 1 steps, pareto and trainingCost as report.json carries them.
    const report = fixtureReport((json) => {
      const rows = json.rows as Record<string, unknown>[];
      for (const w of json.w as number[])
        for (const [steps, fid] of [
          [4, 100],
          [1, 130],
        ])
          rows.push({ w, model: 'consistency', sampler: 'ddim', steps, nfe: steps, msPerSample: 1, fid: fid + w });
      const teacher = { model: 'teacher', steps: 256, nfe: 512, value: 12 };
      const c4 = { model: 'consistency', steps: 4, nfe: 4, value: 102 };
      const c1 = { model: 'consistency', steps: 1, nfe: 1, value: 132 };
      json.pareto = {
        w: 2,
        measure: 'fid',
        points: [teacher, { model: 'progressive', steps: 4, nfe: 4, value: 158 }, c4, c1],
        front: [c1, c4, teacher],
      };
      json.trainingCost = [
        { method: 'progressive', steps: 4, unit: 'progressive-8-4', flops: 3.2e12, seconds: 300 },
        { method: 'consistency', steps: 4, unit: 'consistency-4', flops: 1.1e12, seconds: 90 },
      ];
    });
    await send(page, { type: 'report', runDir: RUN_DIR, evaluating: false, report });
    await page.waitForSelector('#report-pareto svg');
    const heads = await page
      .locator('#report-methods thead tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
    assert.deepEqual(heads, [
      ['w', '1 step', '4 steps', '8 steps'],
      ['consistency', 'progressive', 'consistency', 'progressive'],
    ]);
    const w2 = await page
      .locator('#report-methods tbody tr[data-w="2"] td')
      .evaluateAll((tds) => tds.map((td) => `${td.getAttribute('data-method')} ${td.textContent} ${td.className}`));
    assert.deepEqual(w2, [
      'consistency 132.0 num',
      'progressive 158.3 num',
      'consistency 102.0 num best',
      'progressive 162.8 num',
    ]);
    assert.equal(await page.locator('#report-pareto circle').count(), 4);
    assert.equal(await page.locator('#report-pareto circle[data-front="true"]').count(), 3);
    assert.equal(await page.locator('#report-pareto polyline[data-front="line"]').count(), 1);
    // 12 … 158 spans more than a decade: a log y axis, on which the 4-step consistency point (102) sits at
    // 216 − 172 · log(102/12) / log(158/12) = 73.2 (a linear axis would put it at 110.0).
    assert.match((await page.locator('#report-pareto svg text').allTextContents()).join('\n'), /fid \(log scale\)/i);
    const cy = await page.locator('#report-pareto circle').evaluateAll((cs) => cs.map((c) => c.getAttribute('cy')));
    assert.deepEqual(cy, ['216.0', '44.0', '73.2', '56.0']);
    assert.deepEqual(await page.locator('#report-pareto .legend span[data-method]').allTextContents(), [
      '● teacher',
      '● progressive',
      '● consistency',
    ]);
    assert.deepEqual(
      await page
        .locator('#report-cost tbody tr')
        .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent).join(' | '))),
      ['progressive | 4 | 3.20 TFLOP | 5 min 00 s', 'consistency | 4 | 1.10 TFLOP | 1 min 30 s'],
    );
    await page.locator('#report').screenshot({ path: path.join(ARTIFACTS, 'dashboard-report-methods.png') });
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it('has no Report section without a run', async () => {
    const page = await openPage('dashboard');
    await send(page, { type: 'init', view: 'dashboard', events: [], configs: CONFIGS, sampleBase: '' });
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#report'), false);
    await page.close();
  });
});

describe('dashboard webview with a long run', () => {
  it('opens 100k loss points and 200 grids, decimates the drawing, counts exactly, and stays responsive while lines arrive', async () => {
    const page = await openPage('dashboard');
    const m = await measureLongRun(page, {
      runDir: '/runs/long',
      lossLines: 100_000,
      grids: 200,
      liveSeconds: 4,
      batchMs: 100,
      linesPerBatch: 10,
      gridEveryMs: 1000,
    });
    console.log(`# long run: ${JSON.stringify(m)}`);
    assert.ok(m.drawnAtEnd > 1000 && m.drawnAtEnd <= 6001, `decimated to ${m.drawnAtEnd} points`);
    assert.ok(m.pointsAtEnd > 100_000 && m.pointsAtEnd % 10 === 0, `every live line counted: ${m.pointsAtEnd}`);
    // Sanity limits only (targets: open < 2 s, no task over 50 ms after load — measured by npm run bench:editor).
    assert.ok(m.openMs < 10_000, `opened in ${m.openMs} ms`);
    assert.ok(m.liveLongestTaskMs < 500, `longest task after load ${m.liveLongestTaskMs} ms`);
    assert.ok(m.liveFrames > 20, `${m.liveFrames} frames drawn while lines arrived`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-100k.png') });
    await page.close();
  });
});

// ───────────────────────────── preview ─────────────────────────────
function sampleResult(label: string, steps: number, nfe: number, hue: number): SampleResult {
  return {
    pngBase64: gridPng(3, 4, hue).toString('base64'),
    rows: 3,
    cols: 4,
    steps,
    nfe,
    msPerSample: 12.5 * nfe,
    label,
  };
}

describe('preview webview', () => {
  it('renders: posts preview, shows progress, then teacher and student grids with NFE; save and cancel', async () => {
    const page = await openPage('preview');
    assert.equal(await page.getAttribute('#render', 'disabled'), '', 'render waits for init');
    await send(page, {
      type: 'init',
      view: 'preview',
      runDir: RUN_DIR,
      stage: 'progressive',
      classes: 3,
      wDefaults: [0, 1, 2, 4],
    });
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.getAttribute('#render', 'disabled'), null);
    await page.click('#render');
    const req = (await posted(page)).at(-1);
    assert.deepEqual(req, {
      type: 'preview',
      requestId: 1,
      studentSteps: 4,
      teacherSteps: 64,
      sampler: 'ddim',
      w: [0, 1, 2, 4],
      classes: [0, 1, 2],
      seed: 0,
    });
    assert.equal(await page.isVisible('#busy'), true);
    assert.equal(await page.getAttribute('#render', 'disabled'), '');

    await send(page, { type: 'previewBusy', requestId: 1, done: 16, total: 64, phase: 'teacher' });
    await settle(page);
    assert.equal(await text(page, '#busy-text'), 'Sampling teacher: 16 / 64');
    assert.equal(await page.getAttribute('#busy [role="progressbar"]', 'aria-valuenow'), '25');

    // A malformed result is dropped: still busy.
    await send(page, { type: 'previewResult', requestId: 1, teacher: { pngBase64: 'x' } });
    await settle(page);
    assert.equal(await page.isVisible('#busy'), true);

    await send(page, {
      type: 'previewResult',
      requestId: 1,
      teacher: sampleResult('teacher, 64 steps', 64, 128, 0),
      student: sampleResult('progressive-8-4, 4 steps', 4, 4, 3),
    });
    await page.waitForSelector('#teacher-grid .lgrid[data-loaded="true"]');
    await page.waitForSelector('#student-grid .lgrid[data-loaded="true"]');
    assert.equal(await page.isVisible('#busy'), false);
    assert.equal(await page.locator('.results img').count(), 2);
    assert.match((await page.getAttribute('#teacher-grid img', 'src')) ?? '', /^data:image\/png;base64,/);
    assert.match(await text(page, '#teacher-meta'), /NFE 128/);
    assert.match(await text(page, '#student-meta'), /NFE 4 · 50\.0 ms\/sample/);
    assert.deepEqual(await page.locator('#student-grid .colhead').allTextContents(), [
      'w = 0',
      'w = 1',
      'w = 2',
      'w = 4',
    ]);
    assert.deepEqual(await page.locator('#student-grid .rowhead').allTextContents(), ['0', '1', '2']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'preview.png'), fullPage: true });

    await page.click('#student-save');
    const save = (await posted(page)).at(-1) as { type: string; which: string; pngBase64: string };
    assert.equal(save.type, 'savePng');
    assert.equal(save.which, 'student');
    assert.equal(Buffer.from(save.pngBase64, 'base64').subarray(1, 4).toString('latin1'), 'PNG');

    // Settings are persisted; a second render can be cancelled.
    await page.locator('#w').evaluate((el) => {
      (el as HTMLElement & { value: string }).value = '1, 3';
      el.dispatchEvent(new Event('change'));
    });
    assert.equal(((await state(page)).settings as { w: string }).w, '1, 3');
    await page.click('#render');
    assert.deepEqual((await posted(page)).at(-1)?.w, [1, 3]);
    await page.click('#cancel');
    assert.deepEqual((await posted(page)).at(-1), { type: 'cancelPreview', requestId: 2 });
    await send(page, { type: 'previewError', requestId: 2, message: 'Cancelled.' });
    await settle(page);
    assert.equal(await text(page, '#form-error'), 'Cancelled.');
    assert.equal(await page.isVisible('#busy'), false);
    assert.equal(await page.locator('.results img').count(), 2, 'the previous grids stay');
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it('offers every student of every method; the picked one travels with the request at its own steps', async () => {
    const page = await openPage('preview');
    await send(page, {
      type: 'init',
      view: 'preview',
      runDir: RUN_DIR,
      stage: 'consistency',
      classes: 3,
      wDefaults: [0, 2],
      students: [
        { unit: 'consistency-1', method: 'consistency', steps: 1, trained: false },
        { unit: 'progressive-4-2', method: 'progressive', steps: 2, trained: true },
        { unit: 'consistency-2', method: 'consistency', steps: 2, trained: true },
        { unit: 'progressive-8-4', method: 'progressive', steps: 4, trained: true },
      ],
      student: 'consistency-2',
    });
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#student-field'), true);
    assert.deepEqual(await page.locator('#student vscode-option').allTextContents(), [
      'consistency · 1 step (not trained yet)',
      'progressive · 2 steps',
      'consistency · 2 steps',
      'progressive · 4 steps',
    ]);
    assert.match(await text(page, '#subtitle'), /3 of 4 students trained/);
    await page.click('#render');
    const first = (await posted(page)).at(-1) as Record<string, unknown>;
    assert.equal(first.student, 'consistency-2');
    assert.equal(first.studentSteps, 2, "the picked student's own steps");
    await send(page, { type: 'previewError', requestId: first.requestId as number, message: 'x' });
    await page.locator('#student').evaluate((el) => {
      (el as HTMLElement & { value: string }).value = 'progressive-8-4';
      el.dispatchEvent(new Event('change'));
    });
    await page.click('#render');
    const second = (await posted(page)).at(-1) as Record<string, unknown>;
    assert.deepEqual([second.student, second.studentSteps], ['progressive-8-4', 4]);
    assert.equal(((await state(page)).settings as { student: string }).student, 'progressive-8-4');
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it('a guided checkpoint previews itself: no listed student is sent, before or after the few-step students train', async () => {
    const guided = 'checkpoints/guided/step-0000100.ckpt';
    const init = (students: { unit: string; method: string; steps: number; trained: boolean }[]) => ({
      type: 'init',
      view: 'preview',
      runDir: RUN_DIR,
      checkpoint: guided,
      stage: 'guided',
      classes: 2,
      wDefaults: [0, 2],
      students,
    });
    const untrained = [
      { unit: 'progressive-4-2', method: 'progressive', steps: 2, trained: false },
      { unit: 'progressive-8-4', method: 'progressive', steps: 4, trained: false },
    ];
    // While the run is still in its guided stage: none of its few-step students has weights yet.
    const page = await openPage('preview');
    await send(page, init(untrained));
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(await page.locator('#student vscode-option').allTextContents(), [
      'guided · this checkpoint',
      'progressive · 2 steps (not trained yet)',
      'progressive · 4 steps (not trained yet)',
    ]);
    await page.click('#render');
    const req = (await posted(page)).at(-1) as Record<string, unknown>;
    assert.equal(req.type, 'preview');
    assert.equal('student' in req, false, `the guided checkpoint is the student: ${JSON.stringify(req)}`);
    await send(page, { type: 'previewError', requestId: req.requestId as number, message: 'x' });
    await page.close();

    // Later, with a trained 4-step student: the clicked guided checkpoint is still what the preview samples first,
    // and the trained student is one pick away.
    const later = await openPage('preview');
    await send(later, init(untrained.map((s) => ({ ...s, trained: s.steps === 4 }))));
    await later.waitForSelector('body[data-ready="true"]');
    await later.click('#render');
    const first = (await posted(later)).at(-1) as Record<string, unknown>;
    assert.equal('student' in first, false, JSON.stringify(first));
    await send(later, { type: 'previewError', requestId: first.requestId as number, message: 'x' });
    await later.locator('#student').evaluate((el) => {
      (el as HTMLElement & { value: string }).value = 'progressive-8-4';
      el.dispatchEvent(new Event('change'));
    });
    await later.click('#render');
    const second = (await posted(later)).at(-1) as Record<string, unknown>;
    assert.deepEqual([second.student, second.studentSteps], ['progressive-8-4', 4]);
    assert.deepEqual(await cspViolations(later), []);
    await later.close();
  });

  it('ran without page errors or CSP violations', () => {
    assert.deepEqual(pageErrors, []);
  });
});

describe('preview webview: Edit tab', () => {
  it('picks an input, paints a mask with the mouse, posts the edit and shows input, teacher and student with NFE and ms', async () => {
    const page = await openPage('preview');
    await send(page, {
      type: 'init',
      view: 'preview',
      runDir: RUN_DIR,
      stage: 'progressive',
      classes: 10,
      wDefaults: [0, 1, 2, 4],
    });
    await send(page, {
      type: 'editInfo',
      size: 8,
      channels: 1,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      teacherSteps: 6,
      studentSteps: [2, 4],
    });
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#panel-edit'), false, 'the Sample tab comes first');
    await page.click('#tab-edit');
    assert.equal(await page.isVisible('#panel-edit'), true);
    assert.equal(await page.isVisible('#panel-sample'), false);
    assert.equal(await page.getAttribute('#tab-edit', 'aria-selected'), 'true');
    assert.equal((await state(page)).tab, 'edit');
    await page.waitForSelector('#edit-tab[data-ready="true"]');
    assert.equal(await page.getAttribute('#edit-run', 'disabled'), '', 'Edit waits for an input');

    await page.click('#edit-pick');
    assert.deepEqual((await posted(page)).at(-1), { type: 'editPickFile' });
    await page
      .locator('#edit-tab vscode-textfield[label="Training example"]')
      .evaluate((el) => ((el as HTMLElement & { value: string }).value = '17'));
    await page.click('#edit-use-example');
    assert.deepEqual((await posted(page)).at(-1), { type: 'editPickExample', index: 17 });

    // an 8×8 grey ramp as the input, as the host sends it
    const ramp = new PNG({ width: 8, height: 8 });
    for (let p = 0; p < 64; p++) ramp.data.set([p * 4, p * 4, p * 4, 255], 4 * p);
    const inputB64 = PNG.sync.write(ramp).toString('base64');
    await send(page, {
      type: 'editInput',
      input: {
        pngBase64: inputB64,
        size: 8,
        channels: 1,
        label: 'training example 17 · class 4',
        classId: 4,
        examples: 200,
      },
    });
    await page.waitForSelector('#edit-canvas[data-loaded="true"]');
    assert.equal(await page.getAttribute('#edit-run', 'disabled'), null);
    assert.match(await text(page, '#edit-input-label'), /training example 17 · class 4 \(8×8\)/);
    assert.equal(await page.getAttribute('#edit-mask-info', 'data-repaint'), '0');

    // paint a stroke across the top rows (brush 1 px: one row), then check what the host would receive
    await page.locator('#edit-brush').evaluate((el) => {
      (el as HTMLElement & { value: string }).value = '1';
      el.dispatchEvent(new Event('change'));
    });
    const box = (await page.locator('#edit-canvas').boundingBox())!;
    const cell = box.width / 8;
    await page.mouse.move(box.x + 0.5 * cell, box.y + 1.5 * cell);
    await page.mouse.down();
    for (let x = 1; x <= 7; x++) await page.mouse.move(box.x + (x + 0.5) * cell, box.y + 1.5 * cell);
    await page.mouse.up();
    assert.equal(await page.getAttribute('#edit-mask-info', 'data-repaint'), '8');
    assert.match(await text(page, '#edit-mask-info'), /Mask: 8 of 64 pixels repainted/);
    assert.equal(
      ((await state(page)).edit as { mask: string }).mask,
      '0'.repeat(8) + '1'.repeat(8) + '0'.repeat(48),
      'the mask persists',
    );

    await page.locator('#edit-class').evaluate((el) => ((el as HTMLElement & { value: string }).value = '7'));
    await page.click('#edit-run');
    const req = (await posted(page)).at(-1) as Record<string, unknown>;
    const { maskPngBase64, ...rest } = req;
    assert.deepEqual(rest, {
      type: 'edit',
      requestId: 1,
      imagePngBase64: inputB64,
      classId: 7,
      strength: 0.6,
      w: 2,
      studentSteps: 4,
      teacherSteps: 6,
      seed: 0,
    });
    const maskPng = PNG.sync.read(Buffer.from(maskPngBase64 as string, 'base64'));
    assert.deepEqual([maskPng.width, maskPng.height], [8, 8]);
    const white = Array.from({ length: 64 }, (_, p) => maskPng.data[4 * p]);
    assert.deepEqual(
      white,
      Array.from({ length: 64 }, (_, p) => (p >= 8 && p < 16 ? 255 : 0)),
      'white = repaint, exactly the painted row',
    );
    assert.equal(await page.isVisible('#edit-busy'), true);

    await send(page, { type: 'editBusy', requestId: 1, done: 2, total: 5, phase: 'teacher' });
    await settle(page);
    assert.equal(await text(page, '#edit-busy-text'), 'Editing with the teacher: step 2 / 5');
    const result = (
      model: 'teacher' | 'student',
      unit: string,
      steps: number,
      nfe: number,
      ms: number,
      hue: number,
    ) => ({
      pngBase64: gridPng(1, 1, hue).toString('base64'),
      model,
      unit,
      checkpoint: `checkpoints/${unit}/step-0000006.ckpt`,
      steps,
      stepsTaken: steps,
      nfe,
      ms,
      label: unit,
    });
    await send(page, {
      type: 'editResult',
      requestId: 1,
      teacher: result('teacher', 'teacher', 6, 12, 48.2, 1),
      student: result('student', 'progressive-8-4', 4, 4, 7.25, 3),
    });
    await page.waitForSelector('#edit-result-student-image:not([hidden])');
    assert.equal(await page.isVisible('#edit-busy'), false);
    assert.equal(
      await page.isVisible('#edit-result-input-image'),
      true,
      'the input with its mask is shown beside the results',
    );
    assert.match(await text(page, '#edit-result-input-meta'), /mask: 8 px repainted/);
    assert.equal(await text(page, '#edit-result-teacher-meta'), '6 steps · NFE 12 · 48 ms');
    assert.equal(await text(page, '#edit-result-student-meta'), '4 steps · NFE 4 · 7.25 ms');
    assert.equal(await text(page, '#edit-result-student-detail'), 'progressive-8-4');
    assert.match((await page.getAttribute('#edit-result-teacher-image', 'src')) ?? '', /^data:image\/png;base64,/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'preview-edit.png'), fullPage: true });

    // a reloaded webview (VS Code drops hidden webviews) shows the same input, mask and results from its state
    const again = await openPage('preview', await state(page));
    await send(again, {
      type: 'init',
      view: 'preview',
      runDir: RUN_DIR,
      stage: 'progressive',
      classes: 10,
      wDefaults: [0, 1, 2, 4],
    });
    await send(again, {
      type: 'editInfo',
      size: 8,
      channels: 1,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      teacherSteps: 6,
      studentSteps: [2, 4],
    });
    await again.waitForSelector('#edit-result-input-image:not([hidden])');
    assert.equal(await again.isVisible('#panel-edit'), true, 'the Edit tab stays chosen');
    assert.equal(await text(again, '#edit-result-teacher-meta'), '6 steps · NFE 12 · 48 ms');
    assert.equal(await text(again, '#edit-result-student-meta'), '4 steps · NFE 4 · 7.25 ms');
    assert.equal(await again.getAttribute('#edit-mask-info', 'data-repaint'), '8');
    // the host re-sends the same input to a reloaded webview: the mask stays; another picture starts without one
    await send(again, {
      type: 'editInput',
      input: {
        pngBase64: inputB64,
        size: 8,
        channels: 1,
        label: 'training example 17 · class 4',
        classId: 4,
        examples: 200,
      },
    });
    await settle(again);
    assert.equal(await again.getAttribute('#edit-mask-info', 'data-repaint'), '8');
    const other = new PNG({ width: 8, height: 8 });
    other.data.fill(200);
    await send(again, {
      type: 'editInput',
      input: { pngBase64: PNG.sync.write(other).toString('base64'), size: 8, channels: 1, label: 'flat.png' },
    });
    await settle(again);
    await again.waitForSelector('#edit-canvas[data-loaded="true"]');
    assert.match(await text(again, '#edit-input-label'), /^flat\.png/);
    assert.equal(await again.getAttribute('#edit-mask-info', 'data-repaint'), '0');
    assert.equal(await again.getAttribute('#edit-run', 'disabled'), null);
    await again.close();

    // clear the mask: the next edit is plain SDEdit (no mask); it can be cancelled; a malformed result is dropped
    await page.click('#edit-clear-mask');
    assert.equal(await page.getAttribute('#edit-mask-info', 'data-repaint'), '0');
    await page.click('#edit-run');
    const second = (await posted(page)).at(-1) as Record<string, unknown>;
    assert.equal(second.requestId, 2);
    assert.equal('maskPngBase64' in second && second.maskPngBase64 !== undefined, false);
    await send(page, { type: 'editResult', requestId: 2, teacher: { pngBase64: 'x' } });
    await settle(page);
    assert.equal(await page.isVisible('#edit-busy'), true, 'a malformed result is dropped');
    await page.click('#edit-cancel');
    assert.deepEqual((await posted(page)).at(-1), { type: 'cancelEdit', requestId: 2 });
    await send(page, { type: 'editError', requestId: 2, message: 'Cancelled.' });
    await settle(page);
    assert.equal(await text(page, '#edit-error'), 'Cancelled.');
    assert.equal(await page.isVisible('#edit-result-teacher-image'), true, 'the previous results stay');
    assert.deepEqual(await cspViolations(page), []);
    await page.close();
  });

  it('a run not on images says so instead of offering the editor', async () => {
    const page = await openPage('preview', { tab: 'edit' });
    await send(page, {
      type: 'init',
      view: 'preview',
      runDir: '/runs/toy',
      stage: 'guided',
      classes: 2,
      wDefaults: [0, 1],
    });
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#edit-unavailable'), true);
    assert.equal(await page.isVisible('#edit-content'), false);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
});
