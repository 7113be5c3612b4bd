/**
 * Webview bundles in headless Chromium without VS Code: the real HTML/CSP builder with a stand-in
 * `acquireVsCodeApi`, the esbuild options of esbuild.mjs, and the long-run dashboard measurement that both the
 * webview tests (generous sanity limits) and `npm run bench:editor` (the numbers) use.
 */
import * as esbuild from 'esbuild';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { buildWebviewHtml, makeNonce } from '../../src/extension/panels/html';

export const ORIGIN = 'http://webview.test';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '../..');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

// Dark-theme variables as VS Code would inject them (a subset), so screenshots look like the editor.
export const THEME_CSS = `:root{--vscode-foreground:#cccccc;--vscode-editor-background:#1f1f1f;--vscode-sideBar-background:#181818;
--vscode-descriptionForeground:#9d9d9d;--vscode-panel-border:#2b2b2b;--vscode-focusBorder:#0078d4;--vscode-font-family:system-ui,sans-serif;
--vscode-font-size:13px;--vscode-button-background:#0078d4;--vscode-button-foreground:#fff;--vscode-progressBar-background:#0078d4;
--vscode-charts-foreground:#cccccc;--vscode-charts-lines:rgba(204,204,204,0.25);--vscode-errorForeground:#f85149;
--vscode-input-background:#313131;--vscode-input-foreground:#cccccc;--vscode-dropdown-background:#313131;}`;

/** The page VS Code would produce: the real CSP/HTML builder, plus a stand-in `acquireVsCodeApi` (same nonce). */
export function harnessHtml(bundle: 'dashboard' | 'preview', initialState: unknown): string {
  const nonce = makeNonce();
  const html = buildWebviewHtml({ cspSource: ORIGIN, nonce, scriptUri: `${ORIGIN}/dist/${bundle}.js`, title: bundle });
  const stub = `<style nonce="${nonce}">${THEME_CSS}</style><script nonce="${nonce}">
window.__posted = []; window.__csp = []; window.__state = ${JSON.stringify(initialState ?? null)};
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
let acquired = false;
window.acquireVsCodeApi = () => {
  if (acquired) throw new Error('acquireVsCodeApi called twice');
  acquired = true;
  return {
    postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
    getState: () => window.__state,
    setState: (s) => { window.__state = JSON.parse(JSON.stringify(s)); },
  };
};
</script>`;
  return html.replace('<body>', '<body class="vscode-dark">').replace('</head>', `${stub}\n</head>`);
}

/** The dashboard and preview bundles with esbuild.mjs's webview options, into `outdir` (dist/ belongs to the build). */
export async function bundleWebviews(outdir: string): Promise<void> {
  await esbuild.build({
    entryPoints: { dashboard: path.join(ROOT, 'webview/dashboard.ts'), preview: path.join(ROOT, 'webview/preview.ts') },
    outdir,
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    loader: { '.css': 'text' },
    logLevel: 'warning',
  });
}

export interface LongRunOptions {
  runDir: string;
  /** Loss lines and sample grids in the history (the grids' PNGs are served under `${ORIGIN}/run/samples/`). */
  lossLines: number;
  grids: number;
  /** Then, for this long, a batch every batchMs (the host's flush interval) of linesPerBatch loss lines; a grid every gridEveryMs. */
  liveSeconds: number;
  batchMs: number;
  linesPerBatch: number;
  gridEveryMs: number;
}

export interface LongRunResult {
  /** From posting the init message (history) to the chart holding every point and the newest grid loaded. */
  openMs: number;
  /** Long tasks (> 50 ms, PerformanceObserver "longtask") while opening, and after it while lines kept arriving. */
  loadLongTasks: number;
  loadLongestTaskMs: number;
  liveLongTasks: number;
  liveLongestTaskMs: number;
  /** Longest gap between animation frames while lines kept arriving (the user-visible stall). */
  liveMaxFrameGapMs: number;
  liveFrames: number;
  liveLinesPerS: number;
  pointsAtEnd: number;
  drawnAtEnd: number;
}

/**
 * Opens a long run's history in the dashboard (a page from harnessHtml, bundle loaded, 'ready' posted) and keeps
 * lines arriving. The history is generated inside the page (Playwright's argument serialisation of 100k objects would
 * dominate); window.postMessage structured-clones it as the webview's real message channel does.
 */
export async function measureLongRun(page: Page, o: LongRunOptions): Promise<LongRunResult> {
  // tsx (esbuild keepNames) wraps named functions in __name(); the page has no such helper.
  await page.evaluate('window.__name = window.__name || ((f) => f)');
  return page.evaluate(async (o) => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const tasks: { start: number; dur: number }[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) tasks.push({ start: e.startTime, dur: e.duration });
    });
    obs.observe({ type: 'longtask', buffered: false });
    const grid = (step: number, t: number) => ({
      type: 'samples',
      t,
      unit: 'teacher',
      step,
      file: `samples/long/step-${String(step).padStart(7, '0')}.png`,
      w: [0, 1, 2, 4],
      classes: [0, 1, 2],
      steps: 64,
      nfe: 128,
    });
    const events: unknown[] = [
      { type: 'run_start', t: 1, pid: 1, host: 'h', resumed: false, configHash: 'x' },
      { type: 'stage_start', t: 1, stage: 'teacher', unit: 'teacher', totalSteps: 10_000_000, startStep: 0 },
    ];
    const gridEvery = Math.max(1, Math.floor(o.lossLines / o.grids));
    for (let i = 1; i <= o.lossLines; i++) {
      events.push({
        type: 'loss',
        t: 1 + i,
        unit: 'teacher',
        step: i,
        loss: 0.05 + 1 / i + 0.01 * Math.sin(i / 50),
        lr: 1e-3,
        rate: 100,
      });
      if (i % gridEvery === 0) events.push(grid(i, 1 + i));
    }
    const run = {
      runDir: o.runDir,
      name: 'long',
      status: 'running',
      active: true,
      units: [{ unit: 'teacher', stage: 'teacher', totalSteps: 10_000_000, step: o.lossLines, done: false }],
    };
    const legend = () => document.querySelector<HTMLElement>('#loss-legend li[data-unit="teacher"]');
    const until = async (what: string, ok: () => boolean, ms = 60_000) => {
      const t = performance.now();
      while (!ok()) {
        if (performance.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => requestAnimationFrame(r));
      }
    };
    const t0 = performance.now();
    window.postMessage(
      { type: 'init', view: 'dashboard', run, events, configs: [], sampleBase: 'http://webview.test/run' },
      '*',
    );
    const newest = `step-${String(gridEvery * o.grids).padStart(7, '0')}.png`;
    await until(
      'the history in the chart and the newest grid',
      () =>
        legend()?.dataset.points === String(o.lossLines) &&
        !!document.querySelector<HTMLImageElement>(`#grid img[src$="${newest}"]`)?.complete &&
        document.querySelector<HTMLElement>('#grid .lgrid')?.dataset.loaded === 'true',
    );
    const openMs = performance.now() - t0;
    const loadEnd = performance.now();

    // Live: batches as the host flushes them, and a frame probe.
    let frames = 0;
    let maxGap = 0;
    let last = performance.now();
    let live = true;
    const frame = (now: number) => {
      if (!live) return;
      frames++;
      maxGap = Math.max(maxGap, now - last);
      last = now;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame((now) => {
      last = now;
      requestAnimationFrame(frame);
    });
    let step = o.lossLines;
    let t = 2 * o.lossLines;
    let nextGrid = performance.now() + o.gridEveryMs;
    const end = performance.now() + o.liveSeconds * 1000;
    let sent = 0;
    while (performance.now() < end) {
      await sleep(o.batchMs);
      const batch: unknown[] = [];
      for (let k = 0; k < o.linesPerBatch; k++) {
        step++;
        batch.push({
          type: 'loss',
          t: t++,
          unit: 'teacher',
          step,
          loss: 0.05 + 0.01 * Math.sin(step / 50),
          lr: 1e-3,
          rate: 100,
        });
      }
      sent += o.linesPerBatch;
      if (performance.now() >= nextGrid) {
        batch.push(grid(step, t++));
        nextGrid += o.gridEveryMs;
      }
      window.postMessage({ type: 'events', runDir: o.runDir, events: batch }, '*');
    }
    const liveSeconds = (performance.now() - loadEnd) / 1000;
    await until('the live lines in the chart', () => legend()?.dataset.points === String(o.lossLines + sent));
    await sleep(300);
    live = false;
    obs.disconnect();
    const load = tasks.filter((x) => x.start < loadEnd);
    const after = tasks.filter((x) => x.start >= loadEnd);
    return {
      openMs,
      loadLongTasks: load.length,
      loadLongestTaskMs: Math.max(0, ...load.map((x) => x.dur)),
      liveLongTasks: after.length,
      liveLongestTaskMs: Math.max(0, ...after.map((x) => x.dur)),
      liveMaxFrameGapMs: maxGap,
      liveFrames: frames,
      liveLinesPerS: sent / liveSeconds,
      pointsAtEnd: Number(legend()?.dataset.points),
      drawnAtEnd: Number(legend()?.dataset.drawn),
    };
  }, o);
}
