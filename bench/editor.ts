/**
 * The editor's budget, measured — `npm run bench:editor [-- --json FILE] [--vscode] [--repeat N]`:
 *
 *  host (Node, the extension's own modules): the Runs view over 50 CLI-written runs (first listing and a refresh,
 *    incremental vs the whole-log re-read it replaced); a long run's events.jsonl (100,000 loss lines + 200 grids):
 *    the dashboard's history read, and then, while lines keep arriving, the bytes each poll reads and its time;
 *  webview (headless Chromium, the real dashboard bundle): open time of that history, long tasks and frame gaps
 *    while lines keep arriving (test/helpers/webview-page.ts);
 *  VS Code (the real extension host, test/suite/budget.test.ts): activate(), time to the Runs view's content over 50
 *    CLI runs, event-loop delay p50/p99 during a run with its dashboard open — from the last e2e run's log
 *    (test-artifacts/e2e/ext-tests.log), or `--vscode` runs the e2e extension suite first.
 *
 * Prints a table and writes JSON with --json. Numbers, not assertions (CI tests keep generous sanity limits only).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { CompactLog, RunListingCache } from '../src/extension/model/run-log';
import { buildRunTree } from '../src/extension/model/build-run-tree';
import { buildRunView } from '../src/extension/panels/run-view';
import { RunEventFeed } from '../src/extension/panels/run-event-feed';
import {
  bundleWebviews,
  CHROMIUM,
  CHROMIUM_ARGS,
  harnessHtml,
  measureLongRun,
  ORIGIN,
} from '../test/helpers/webview-page';

const ROOT = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const flag = (f: string) => argv.includes(f);
const opt = (f: string, d: string) => (argv.indexOf(f) >= 0 ? argv[argv.indexOf(f) + 1] : d);
const repeat = Number(opt('--repeat', '3'));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsModule: typeof fs = require('fs');
/** Bytes handed out by fs.readSync / fs.readFileSync (of event logs) while `fn` runs, and its time. */
function metered<T>(fn: () => T): { value: T; bytes: number; ms: number } {
  const readSync = fsModule.readSync;
  const readFileSync = fsModule.readFileSync;
  let bytes = 0;
  (fsModule as { readSync: unknown }).readSync = (...a: unknown[]) => {
    const n = (readSync as (...x: unknown[]) => number)(...a);
    bytes += n;
    return n;
  };
  (fsModule as { readFileSync: unknown }).readFileSync = (...a: unknown[]) => {
    const r = (readFileSync as (...x: unknown[]) => string | Buffer)(...a);
    if (String(a[0]).endsWith('events.jsonl')) bytes += typeof r === 'string' ? Buffer.byteLength(r) : r.length;
    return r;
  };
  const t0 = performance.now();
  try {
    return { value: fn(), bytes, ms: performance.now() - t0 };
  } finally {
    (fsModule as { readSync: unknown }).readSync = readSync;
    (fsModule as { readFileSync: unknown }).readFileSync = readFileSync;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const spread = (xs: number[], d = 0) =>
  `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;

/** A run folder whose events.jsonl holds `loss` loss lines and `grids` samples events (as the engine writes them). */
function longRun(dir: string, loss: number, grids: number): number {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ teacher: { steps: 10_000_000 }, guided: { steps: 0 }, progressive: { steps: 0 } }),
  );
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ name: 'long', createdAt: Date.now(), configHash: 'x', version: '0.1.0' }),
  );
  const lines = [
    JSON.stringify({ type: 'run_start', t: 1, pid: 999999, host: os.hostname(), resumed: false, configHash: 'x' }),
    JSON.stringify({
      type: 'stage_start',
      t: 1,
      stage: 'teacher',
      unit: 'teacher',
      totalSteps: 10_000_000,
      startStep: 0,
    }),
  ];
  const every = Math.floor(loss / grids);
  for (let i = 1; i <= loss; i++) {
    lines.push(
      JSON.stringify({
        type: 'loss',
        t: 1_700_000_000_000 + i,
        unit: 'teacher',
        step: i,
        loss: 0.05 + 1 / i,
        lr: 0.001,
        rate: 9.87,
      }),
    );
    if (i % every === 0) {
      lines.push(
        JSON.stringify({
          type: 'samples',
          t: 1_700_000_000_000 + i,
          unit: 'teacher',
          step: i,
          file: `samples/teacher/step-${String(i).padStart(7, '0')}.png`,
          w: [0, 1, 2, 4],
          classes: [0, 1, 2],
          steps: 64,
          nfe: 128,
        }),
      );
    }
  }
  fs.writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
  return fs.statSync(path.join(dir, 'events.jsonl')).size;
}

async function hostPart(tmp: string): Promise<Record<string, unknown>> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js')))
    spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const { makeBudgetRuns } = await import('../test/e2e/budget-runs.mjs' as string);
  const runsDir = path.join(tmp, 'runs');
  const made = makeBudgetRuns(runsDir) as { cliMs: number; bytes: number };
  const firstMs: number[] = [];
  const refreshMs: number[] = [];
  const fullMs: number[] = [];
  let refreshBytes = 0;
  for (let r = 0; r < repeat; r++) {
    const cache = new RunListingCache();
    const first = metered(() => buildRunTree(runsDir, { describe: (d) => cache.describe(d) }));
    if (first.value.length !== 50) throw new Error(`listed ${first.value.length} runs`);
    firstMs.push(first.ms);
    const again = metered(() => buildRunTree(runsDir, { describe: (d) => cache.describe(d) }));
    refreshMs.push(again.ms);
    refreshBytes = again.bytes;
    fullMs.push(metered(() => buildRunTree(runsDir)).ms);
  }

  const long = path.join(tmp, 'long');
  const size = longRun(long, 100_000, 200);
  const openMs: number[] = [];
  let feed: RunEventFeed | undefined;
  for (let r = 0; r < repeat; r++) {
    feed?.dispose();
    const t0 = performance.now();
    feed = new RunEventFeed(long, () => {}, { watch: false, pollMs: 3_600_000 });
    const log = new CompactLog();
    log.add(feed.events);
    buildRunView(long, log.events(), false);
    openMs.push(performance.now() - t0);
  }
  const listing = new RunListingCache();
  const listFirst = metered(() => listing.describe(long));
  // Live: 100 lines/s (a poll every 100 ms gets 10), for 5 s; each poll's bytes and time, dashboard feed + Runs view.
  const pollBytes: number[] = [];
  const pollMs: number[] = [];
  const file = path.join(long, 'events.jsonl');
  let step = 100_000;
  let appended = 0;
  const summary = new CompactLog();
  summary.add(feed!.events);
  for (let b = 0; b < 50; b++) {
    let chunk = '';
    for (let k = 0; k < 10; k++)
      chunk +=
        JSON.stringify({
          type: 'loss',
          t: 1_800_000_000_000 + ++step,
          unit: 'teacher',
          step,
          loss: 0.05,
          lr: 0.001,
          rate: 9.87,
        }) + '\n';
    fs.appendFileSync(file, chunk);
    appended += chunk.length;
    const before = feed!.events.length;
    const m = metered(() => {
      feed!.poll();
      summary.add(feed!.events.slice(before));
      buildRunView(long, summary.events(), false);
      listing.describe(long);
    });
    pollBytes.push(m.bytes);
    pollMs.push(m.ms);
    await new Promise((r) => setTimeout(r, 100));
  }
  feed!.dispose();
  return {
    runs: {
      count: 50,
      eventsBytesEach: made.bytes,
      cliRunMs: made.cliMs,
      firstListingMs: firstMs,
      refreshMs,
      refreshBytes,
      wholeLogListingMs: fullMs,
    },
    longLog: {
      bytes: size,
      lossLines: 100_000,
      grids: 200,
      dashboardHistoryMs: openMs,
      runsViewFirstMs: listFirst.ms,
      livePolls: pollBytes.length,
      liveAppendedBytes: appended,
      liveReadBytes: pollBytes.reduce((a, b) => a + b, 0),
      maxPollBytes: Math.max(...pollBytes),
      medianPollMs: median(pollMs),
      maxPollMs: Math.max(...pollMs),
    },
  };
}

async function webviewPart(tmp: string): Promise<Record<string, unknown>[]> {
  const bundleDir = path.join(tmp, 'bundle');
  await bundleWebviews(bundleDir);
  const img = new PNG({ width: 4 * 16, height: 3 * 16 });
  for (let i = 0; i < img.data.length; i += 4) img.data.set([(i * 7) % 256, (i * 3) % 256, 128, 255], i);
  const png = PNG.sync.write(img);
  const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const out: Record<string, unknown>[] = [];
  try {
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== ORIGIN) return route.abort();
      if (url.pathname.startsWith('/dist/'))
        return route.fulfill({
          contentType: 'text/javascript',
          body: fs.readFileSync(path.join(bundleDir, path.basename(url.pathname)), 'utf8'),
        });
      if (url.pathname === '/dashboard.html')
        return route.fulfill({ contentType: 'text/html', body: harnessHtml('dashboard', null) });
      if (url.pathname.startsWith('/run/samples/long/')) return route.fulfill({ contentType: 'image/png', body: png });
      return route.fulfill({ status: 404, body: 'not found' });
    });
    for (let r = 0; r < repeat; r++) {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1100, height: 1400 });
      await page.goto(`${ORIGIN}/dashboard.html`);
      await page.waitForFunction(() =>
        (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'),
      );
      out.push({
        ...(await measureLongRun(page, {
          runDir: '/runs/long',
          lossLines: 100_000,
          grids: 200,
          liveSeconds: 10,
          batchMs: 100,
          linesPerBatch: 10,
          gridEveryMs: 2000,
        })),
      });
      await page.close();
    }
  } finally {
    await context.close();
  }
  return out;
}

function vscodePart():
  | { source: string; activation?: Record<string, number>; eventLoop?: Record<string, number> }
  | undefined {
  const logFile = path.join(ROOT, 'test-artifacts', 'e2e', 'ext-tests.log');
  if (flag('--vscode')) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'e2e', 'run.mjs')], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, E2E_ONLY: 'ext' },
    });
    if (r.status !== 0) console.error(`e2e extension suite exited ${r.status}: its BUDGET lines may be missing`);
  }
  if (!fs.existsSync(logFile)) return undefined;
  const lines = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('BUDGET '));
  const parsed = lines.map((l) => JSON.parse(l.slice(7)) as { what: string } & Record<string, number>);
  return {
    source: `${path.relative(ROOT, logFile)} of ${fs.statSync(logFile).mtime.toISOString()}`,
    activation: parsed.find((p) => p.what === 'activation'),
    eventLoop: parsed.find((p) => p.what === 'event loop'),
  };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-bench-editor-'));
  try {
    const host = await hostPart(tmp);
    const web = await webviewPart(tmp);
    const vs = vscodePart();
    const h = host as { runs: Record<string, number[] & number>; longLog: Record<string, number[] & number> };
    const col = (k: string, d = 0) =>
      spread(
        web.map((w) => w[k] as number),
        d,
      );
    const rows: [string, string, string][] = [
      [
        'Runs view, 50 CLI runs: first listing (host)',
        `${spread(h.runs.firstListingMs, 1)} ms`,
        '< 1 s to the filled tree',
      ],
      [
        'Runs view: a refresh (incremental; bytes read)',
        `${spread(h.runs.refreshMs, 1)} ms; ${h.runs.refreshBytes} B`,
        '(was a whole-log re-read: ' + spread(h.runs.wholeLogListingMs, 1) + ' ms)',
      ],
      [
        'long log (100k loss + 200 grids): dashboard history read (host)',
        `${spread(h.longLog.dashboardHistoryMs)} ms`,
        `${(h.longLog.bytes / 1e6).toFixed(1)} MB`,
      ],
      [
        'long log: per poll while 100 lines/s arrive (host)',
        `median ${h.longLog.medianPollMs.toFixed(2)} ms, max ${h.longLog.maxPollMs.toFixed(1)} ms; max ${h.longLog.maxPollBytes} B`,
        `read ${h.longLog.liveReadBytes} B for ${h.longLog.liveAppendedBytes} B appended`,
      ],
      ['dashboard open, 100k points + 200 grids (Chromium)', `${col('openMs')} ms`, '< 2 s'],
      ['long tasks while opening (count; longest)', `${col('loadLongTasks')}; ${col('loadLongestTaskMs')} ms`, ''],
      [
        'after load, 100 lines/s for 10 s: tasks > 50 ms; longest',
        `${col('liveLongTasks')}; ${col('liveLongestTaskMs')} ms`,
        'none over 50 ms',
      ],
      ['after load: longest gap between frames', `${col('liveMaxFrameGapMs')} ms`, ''],
    ];
    if (vs?.activation) {
      rows.push(['VS Code: activate()', `${vs.activation.activateMs} ms`, '< 100 ms']);
      rows.push([
        'VS Code: activation → Runs view content (50 runs)',
        `${vs.activation.treeReadyMs} ms (refresh ${vs.activation.refreshMs} ms)`,
        '< 1 s',
      ]);
    }
    if (vs?.eventLoop) {
      rows.push([
        'VS Code: host event-loop delay during a run (p50 / p99 / max)',
        `${vs.eventLoop.p50Ms} / ${vs.eventLoop.p99Ms} / ${vs.eventLoop.maxMs} ms`,
        'p99 < 50 ms',
      ]);
    }
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(`${'measurement'.padEnd(w0)}  ${'median (min–max) over runs'.padEnd(w1)}  target / note`);
    for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
    console.log(
      `repeats: ${repeat}; ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${os
        .loadavg()
        .map((v) => v.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      vs ? `VS Code numbers from ${vs.source}` : 'VS Code numbers: none (run the e2e suite, or pass --vscode)',
    );
    const json = opt('--json', '');
    if (json)
      fs.writeFileSync(
        json,
        JSON.stringify({ host, webview: web, vscode: vs, loadavg: os.loadavg(), cores: os.cpus().length }, null, 2) +
          '\n',
      );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
