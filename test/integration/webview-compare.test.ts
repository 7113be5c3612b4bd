/**
 * The Compare view in headless Chromium: a sweep of three fixture runs on disk (loss logs, a student grid each, one
 * with a real eval/report.json) → the host's own builder (panels/compareview.ts) → the validated `compare` message →
 * the webview bundle under the real HTML/CSP. Sorting by any column, selection → overlaid curves and grids side by
 * side, openRun, no CSP violations. Screenshot: test-artifacts/webview/compare.png.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { createRunFolder } from '../../src/engine/run/create-run';
import { resolveSweep, writeSweepManifest } from '../../src/engine/run/sweep';
import { buildCompareView } from '../../src/extension/panels/compare-view';
import { buildWebviewHtml, makeNonce } from '../../src/extension/panels/html';
import { asHostToWebview, CompareView } from '../../src/protocol';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ORIGIN = 'http://webview.test';
const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'webview');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-compare-'));
let context: BrowserContext | undefined;
let bundleDir = '';
const errors: string[] = [];

function png(hue: number): Buffer {
  const p = new PNG({ width: 32, height: 24 });
  for (let i = 0; i < p.data.length; i += 4) {
    p.data[i] = (hue * 80) % 256;
    p.data[i + 1] = ((i / 4) % 32) * 8;
    p.data[i + 2] = 120;
    p.data[i + 3] = 255;
  }
  return PNG.sync.write(p);
}

/** Three variants with different final losses; the middle one evaluated. */
function fixtureSweep(): CompareView {
  const runs = path.join(tmp, 'runs');
  const sweep = resolveSweep(
    { name: 'lr', base: toyConfig(GAUSSIANS), grid: { 'progressive.lr': [1e-4, 3e-4, 1e-3] } },
    path.join(tmp, 'lr.sweep.json'),
  );
  const sweepDir = path.join(runs, 'lr');
  const finals = [0.3, 0.1, 0.2];
  for (const v of sweep.variants) {
    const dir = createRunFolder(path.join(sweepDir, v.name), v.config, sweep.file);
    const ev: object[] = [{ type: 'run_start', t: 1, pid: 1, host: 'elsewhere', resumed: false, configHash: 'h' }];
    for (const [unit, total] of [
      ['teacher', 300],
      ['guided', 40],
      ['progressive-4-2', 20],
    ] as const) {
      ev.push({
        type: 'stage_start',
        t: 2,
        stage: unit.startsWith('prog') ? 'progressive' : unit,
        unit,
        totalSteps: total,
        startStep: 0,
      });
      for (let s = 5; s <= total; s += 5)
        ev.push({
          type: 'loss',
          t: 3,
          unit,
          step: s,
          loss: finals[v.index] * (1 + 5 / s) * (unit === 'teacher' ? 1 : 2),
          lr: 1e-3,
          rate: 10,
        });
      ev.push({ type: 'stage_end', t: 4, unit, step: total, seconds: 1 });
    }
    ev.push({ type: 'run_end', t: 5, status: 'finished' });
    fs.writeFileSync(path.join(dir, 'events.jsonl'), ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
    fs.mkdirSync(path.join(dir, 'samples', 'progressive-4-2'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'samples', 'progressive-4-2', 'step-0000020.png'), png(v.index));
    if (v.index === 1) {
      fs.mkdirSync(path.join(dir, 'eval'), { recursive: true });
      fs.copyFileSync(
        path.join(__dirname, '..', 'fixtures', 'eval-report.json'),
        path.join(dir, 'eval', 'report.json'),
      );
    }
  }
  writeSweepManifest(sweepDir, {
    version: 1,
    name: 'lr',
    sweepFile: sweep.file,
    baseSource: 'inline',
    createdAt: 0,
    updatedAt: 0,
    launcher: 'slurm',
    submissions: [],
    variants: sweep.variants.map((v) => ({
      index: v.index,
      name: v.name,
      dir: v.name,
      params: v.params,
      jobId: `7_${v.index}`,
      state: 'COMPLETED',
      node: 'node0' + v.index,
    })),
  });
  return buildCompareView(sweepDir, (abs, mtime) => `${ORIGIN}/files${abs}?v=${Math.round(mtime)}`);
}

before(async () => {
  if (!fs.existsSync(CHROMIUM))
    assert.fail(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-compare-bundle-'));
  await esbuild.build({
    entryPoints: { compare: path.join(ROOT, 'webview/compare.ts') },
    outdir: bundleDir,
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    loader: { '.css': 'text' },
    logLevel: 'warning',
  });
  context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'dd-compare-profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-dev-shm-usage',
    ],
  });
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin !== ORIGIN) return route.abort();
    const p = decodeURIComponent(url.pathname);
    if (p === '/dist/compare.js')
      return route.fulfill({
        contentType: 'text/javascript',
        body: fs.readFileSync(path.join(bundleDir, 'compare.js'), 'utf8'),
      });
    if (p.startsWith('/files/') && p.startsWith(`/files${tmp}/`) && fs.existsSync(p.slice(6)))
      return route.fulfill({ contentType: 'image/png', body: fs.readFileSync(p.slice(6)) });
    if (p.endsWith('.html')) return route.fallback();
    return route.fulfill({ status: 404, body: 'not found' });
  });
});

after(async () => {
  await context?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function open(): Promise<Page> {
  const page = await context!.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.setViewportSize({ width: 1200, height: 1100 });
  const nonce = makeNonce();
  const html = buildWebviewHtml({
    cspSource: ORIGIN,
    nonce,
    scriptUri: `${ORIGIN}/dist/compare.js`,
    title: 'compare',
  }).replace(
    '</head>',
    `<style nonce="${nonce}">:root{--vscode-foreground:#ccc;--vscode-editor-background:#1f1f1f;--vscode-panel-border:#333;--vscode-focusBorder:#0078d4;--vscode-font-family:system-ui,sans-serif}</style><script nonce="${nonce}">
window.__posted=[];window.__csp=[];window.__state=null;document.addEventListener('securitypolicyviolation',(e)=>window.__csp.push(e.violatedDirective+' '+e.blockedURI));
window.acquireVsCodeApi=()=>({postMessage:(m)=>window.__posted.push(JSON.parse(JSON.stringify(m))),getState:()=>window.__state,setState:(s)=>{window.__state=JSON.parse(JSON.stringify(s));}});</script></head>`,
  );
  await page.route(`${ORIGIN}/compare.html`, (r) => r.fulfill({ contentType: 'text/html', body: html }));
  await page.goto(`${ORIGIN}/compare.html`);
  await page.waitForFunction(() =>
    (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'),
  );
  return page;
}

const column = (page: Page, i: number) =>
  page.$$eval(
    `#compare-table tbody tr`,
    (trs, k) => trs.map((tr) => (tr.children[k as number] as HTMLElement).textContent ?? ''),
    i,
  );

it('Compare: one row per run, sortable by any column, selected runs overlaid and their students side by side', async () => {
  const view = fixtureSweep();
  assert.ok(asHostToWebview({ type: 'compare', view }), "the host's view passes the protocol validator");
  assert.deepEqual(view.params, ['progressive.lr']);
  assert.deepEqual(view.units, ['teacher', 'guided', 'progressive-4-2']);
  assert.equal(view.rows[1].quality?.metric, 'FID');
  const page = await open();
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'compare', view });
  await page.waitForSelector('#compare-table tbody tr');
  assert.equal(await page.textContent('#title'), 'Compare: lr');
  const headers = await page.$$eval('#compare-table th', (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(headers.slice(0, 7), [
    'run',
    'progressive.lr',
    'state',
    'stage · step',
    'teacher loss',
    'guided loss',
    'progressive-4-2 loss',
  ]);
  assert.ok(headers.includes('4-step student FID w=2') && headers.includes('teacher 256 FID w=2'), headers.join(' | '));
  assert.deepEqual(await column(page, 2), ['COMPLETED @node00', 'COMPLETED @node01', 'COMPLETED @node02']);
  // sort by the final stage-2 loss, then reverse
  await page.click('th[data-key="l:progressive-4-2"]');
  assert.deepEqual(await column(page, 1), ['0.0003', '0.001', '0.0001']);
  await page.click('th[data-key="l:progressive-4-2"]');
  assert.deepEqual(await column(page, 1), ['0.0001', '0.001', '0.0003']);
  assert.equal(await page.getAttribute('th[data-key="l:progressive-4-2"]', 'aria-sort'), 'descending');
  // a quality column: the evaluated run first, the others (no report) last
  await page.click('th[data-key="s:2"]');
  assert.deepEqual((await column(page, 0))[0], view.rows[1].name);
  // all runs selected by default (up to 4): three curves and three grids; deselecting one removes both
  assert.equal(await page.locator('#curves polyline').count(), 3);
  assert.equal(await page.getAttribute('#curves svg', 'data-unit'), 'progressive-4-2');
  assert.equal(await page.locator('#grids img').count(), 3);
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll<HTMLImageElement>('#grids img')).every(
      (i) => i.complete && i.naturalWidth === 32,
    ),
  );
  await page.click(`#compare-table tbody tr[data-run="${view.rows[0].name}"] td:nth-child(2)`);
  assert.equal(await page.locator('#curves polyline').count(), 2);
  assert.equal(await page.locator('#grids img').count(), 2);
  await page.selectOption('#curve-unit', 'teacher');
  assert.equal(await page.getAttribute('#curves svg', 'data-unit'), 'teacher');
  const st = await page.evaluate(() => (window as unknown as { __state: Record<string, unknown> }).__state);
  assert.deepEqual(st, {
    sort: 's:2',
    desc: false,
    selected: [view.rows[1].name, view.rows[2].name],
    unit: 'teacher',
    sweepDir: view.sweepDir,
  });
  await page.click(`#compare-table tbody tr[data-run="${view.rows[2].name}"] a.open-run`);
  const posted = await page.evaluate(
    () => (window as unknown as { __posted: { type: string; runDir?: string }[] }).__posted,
  );
  assert.deepEqual(
    posted.filter((m) => m.type === 'openRun'),
    [{ type: 'openRun', runDir: view.rows[2].runDir }],
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'compare.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
  assert.deepEqual(errors, []);
  await page.close();
});

/** Two runs outside any sweep: one training both methods (evaluated), one progressive only with other phases. */
function fixtureRuns(): CompareView {
  const dir = path.join(tmp, 'picked');
  const both = { ...toyConfig(GAUSSIANS), methods: ['progressive', 'consistency'], consistency: { steps: 10 } };
  const other = { ...toyConfig(GAUSSIANS), progressive: { n0: 8, targetSteps: 2, steps: 10, batch: 32, lr: 0.001 } };
  const runDirs: string[] = [];
  for (const [i, [name, config, units]] of (
    [
      ['both', both, ['teacher', 'guided', 'progressive-4-2', 'consistency-4', 'consistency-2', 'consistency-1']],
      ['other', other, ['teacher', 'guided', 'progressive-8-4', 'progressive-4-2']],
    ] as const
  ).entries()) {
    const runDir = createRunFolder(path.join(dir, name), config as never, path.join(tmp, `${name}.distill.json`));
    runDirs.push(runDir);
    const ev: object[] = [{ type: 'run_start', t: 1, pid: 1, host: 'elsewhere', resumed: false, configHash: 'h' }];
    for (const unit of units) {
      ev.push({ type: 'stage_start', t: 2, stage: unit.split('-')[0], unit, totalSteps: 20, startStep: 0 });
      for (let s = 5; s <= 20; s += 5)
        ev.push({ type: 'loss', t: 3, unit, step: s, loss: (1 + i) * (1 + 5 / s), lr: 1e-3, rate: 10 });
      ev.push({ type: 'stage_end', t: 4, unit, step: 20, seconds: 1 });
      if (unit !== 'teacher' && unit !== 'guided') {
        fs.mkdirSync(path.join(runDir, 'samples', unit), { recursive: true });
        fs.writeFileSync(path.join(runDir, 'samples', unit, 'step-0000020.png'), png(i + unit.length));
      }
    }
    ev.push({ type: 'run_end', t: 5, status: 'finished' });
    fs.writeFileSync(path.join(runDir, 'events.jsonl'), ev.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  // the first run's report: both methods at 4, 2 and 1 steps, as the report engineer's report.json writes them
  const report = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eval-report.json'), 'utf8'));
  const extra = [];
  for (const w of report.w as number[])
    for (const [steps, fid] of [
      [4, 30],
      [2, 35],
      [1, 45],
    ])
      extra.push({
        w,
        model: 'consistency',
        unit: `consistency-${steps}`,
        sampler: 'ddim',
        steps,
        nfe: steps,
        fid: fid + w,
      });
  report.rows.push(...extra);
  fs.mkdirSync(path.join(runDirs[0], 'eval'), { recursive: true });
  fs.writeFileSync(path.join(runDirs[0], 'eval', 'report.json'), JSON.stringify(report));
  return buildCompareView({ runDirs }, (abs, mtime) => `${ORIGIN}/files${abs}?v=${Math.round(mtime)}`);
}

it('Compare of runs picked together: their differing fields, curves per unit kind, methods at each step count', async () => {
  const view = fixtureRuns();
  assert.ok(asHostToWebview({ type: 'compare', view }), "the host's view passes the protocol validator");
  assert.equal(view.sweepDir, undefined);
  assert.ok(view.params.includes('methods') && view.params.includes('progressive.n0'), view.params.join(', '));
  const page = await open();
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'compare', view });
  await page.waitForSelector('#compare-table tbody tr');
  assert.equal(await page.textContent('#title'), 'Compare: both, other');
  assert.match((await page.textContent('#summary')) ?? '', /^2 runs picked · 2 finished$/);
  // a field one run's config.json does not have reads as –, not null
  assert.deepEqual(
    await page.$$eval('#compare-table tbody tr', (trs) =>
      trs.map((tr) => (tr.querySelector('td:nth-child(6)') as HTMLElement).textContent),
    ),
    ['10', '–'],
  );
  // by default the curves show the last unit both runs have, so each run draws one
  assert.equal(await page.locator('#curves polyline').count(), 2);
  const shared = await page.getAttribute('#curves svg', 'data-unit');
  assert.ok(shared && view.rows.every((r) => (r.curves[shared] ?? []).length > 0), `default unit ${shared}`);
  // every progressive unit one after the other: both runs overlay though their phases differ
  const options = await page.$$eval('#curve-unit option', (os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.ok(options.includes('kind:progressive') && options.includes('kind:consistency'), options.join(', '));
  await page.selectOption('#curve-unit', 'kind:progressive');
  assert.equal(await page.locator('#curves polyline').count(), 2);
  const widths = await page.$$eval('#curves polyline', (ls) =>
    ls.map((l) => l.getAttribute('points')!.split(' ').length),
  );
  assert.deepEqual(widths, [4, 8], 'one phase of four points, two phases of four');
  await page.selectOption('#curve-unit', 'kind:consistency');
  assert.equal(await page.locator('#curves polyline').count(), 1);
  // methods side by side: a column per method under each step count, the best of each marked
  const heads = await page.$$eval('#methods-table thead tr', (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('th')).map((th) => th.textContent)),
  );
  assert.deepEqual(heads, [
    ['run', '1 step', '2 steps', '4 steps', '8 steps'],
    ['consistency', 'consistency', 'progressive', 'consistency', 'progressive'],
  ]);
  assert.equal(await page.inputValue('#methods-w'), '2');
  const cells = await page.$$eval('#methods-table tbody tr[data-run="both"] td', (tds) =>
    tds.map(
      (td) =>
        `${td.getAttribute('data-method') ?? ''} ${td.getAttribute('data-steps') ?? ''}:${td.textContent}:${td.className}`,
    ),
  );
  assert.deepEqual(cells, [
    ' :both:name',
    'consistency 1:47.00:',
    'consistency 2:37.00:',
    'progressive 4:158.3:',
    'consistency 4:32.00:best',
    'progressive 8:162.8:',
  ]);
  assert.equal(await page.locator('#methods-table tbody tr').count(), 1, 'only runs with a report');
  await page.selectOption('#methods-w', '0');
  assert.match(
    (await page.textContent('#methods-table tbody td[data-method="consistency"][data-steps="1"]')) ?? '',
    /^45\.00$/,
  );
  // every student's newest grid, in the same columns
  assert.equal(await page.locator('#student-grids img').count(), 6, 'four students of one run, two of the other');
  assert.deepEqual(
    await page.$$eval('#student-grids thead tr:first-child th', (ths) => ths.map((t) => t.textContent)),
    ['run', '1 step', '2 steps', '4 steps'],
  );
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll<HTMLImageElement>('#student-grids img')).every(
      (i) => i.complete && i.naturalWidth === 32,
    ),
  );
  const st = await page.evaluate(() => (window as unknown as { __state: Record<string, unknown> }).__state);
  assert.deepEqual(st.runDirs, view.runDirs, 'what the panel compares is saved for the serializer');
  assert.equal(st.sweepDir, undefined);
  await page.screenshot({ path: path.join(ARTIFACTS, 'compare-runs.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
  assert.deepEqual(errors, []);
  await page.close();
});
