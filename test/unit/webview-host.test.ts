/**
 * The parts of the webview panels that need neither VS Code nor a browser: the CSP/HTML builder, the events.jsonl
 * tail (torn lines, replaced files, de-duplication with worker events), the RunView / preview defaults, the
 * dashboard's data model (rewinds, EMA, decimation, the shared step axis) and its Report view (report.json → headline,
 * from a real report of runs/qs2 kept as test/fixtures/eval-report.json).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { LossEvent, RunEvent } from '../../src/engine/run/events';
import { buildWebviewHtml, contentSecurityPolicy, makeNonce } from '../../src/extension/panels/html';
import { buildReportView, PLOT_TITLES, readReport, reportSignature } from '../../src/extension/panels/report';
import { buildRunView, previewDefaults, unitOfCheckpoint } from '../../src/extension/panels/run-view';
import { EventTail } from '../../src/extension/model/event-tail';
import { RunEventFeed } from '../../src/extension/panels/run-event-feed';
import { asHostToWebview, asWebviewToHost, ReportView } from '../../src/protocol';
import {
  alignedData,
  decimateIndices,
  ema,
  formatMetric,
  formatPercent,
  formatSpeedup,
  LossStore,
  parseNumberList,
} from '../../webview/model';

const temps: string[] = [];
function tempRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-panels-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const loss = (unit: string, step: number, value = 1, t = step): LossEvent => ({
  type: 'loss',
  t,
  unit,
  step,
  loss: value,
  lr: 1e-3,
  rate: 10,
});
const line = (e: RunEvent): string => JSON.stringify(e) + '\n';

describe('webview HTML and CSP', () => {
  it('has a nonce-only script policy, no remote sources and nothing inline', () => {
    const nonce = makeNonce();
    const html = buildWebviewHtml({
      cspSource: 'vscode-webview://abc123',
      nonce,
      scriptUri: 'vscode-webview://abc123/dist/webview/dashboard.js',
      title: 'Dashboard <run>',
    });
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
    assert.ok(csp, 'a CSP meta tag');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'`));
    assert.match(csp, new RegExp(`style-src vscode-webview://abc123 'nonce-${nonce}'`));
    assert.match(csp, /img-src vscode-webview:\/\/abc123 data:/);
    assert.match(csp, /font-src vscode-webview:\/\/abc123/);
    assert.doesNotMatch(html, /https?:/, 'no http(s) source anywhere');
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(html.match(/<script /g)?.length, 1);
    assert.match(
      html,
      new RegExp(`<script nonce="${nonce}" src="vscode-webview://abc123/dist/webview/dashboard.js"></script>`),
    );
    assert.match(html, /<title>Dashboard &lt;run&gt;<\/title>/);
    assert.doesNotMatch(html, /style=/, 'no inline style attributes');
  });

  it('allows only the webview resource origin besides the nonce (as VS Code gives it)', () => {
    const csp = contentSecurityPolicy('https://*.vscode-cdn.net', 'n'.repeat(22));
    const origins = csp.match(/https?:\/\/[^\s;]+/g) ?? [];
    assert.deepEqual([...new Set(origins)], ['https://*.vscode-cdn.net']);
  });

  it('makes fresh, long nonces and refuses weak ones', () => {
    const a = makeNonce();
    const b = makeNonce();
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
    assert.throws(() => buildWebviewHtml({ cspSource: 'x', nonce: 'abc', scriptUri: 's', title: 't' }), /nonce/);
    assert.throws(
      () => buildWebviewHtml({ cspSource: 'x', nonce: `${'a'.repeat(20)}"><`, scriptUri: 's', title: 't' }),
      /nonce/,
    );
  });
});

describe('events.jsonl tail', () => {
  it('reads by byte offset and waits for a torn last line to be completed', () => {
    const dir = tempRun();
    const file = path.join(dir, 'events.jsonl');
    const tail = new EventTail(file);
    assert.deepEqual(tail.read().events, [], 'a missing file is empty');
    const a = line(loss('teacher', 10, 0.5));
    const b = line({ ...loss('teacher', 20, 0.25), loss: 0.25 } as LossEvent);
    fs.writeFileSync(file, a + b.slice(0, 17));
    const r1 = tail.read();
    assert.equal(r1.events.length, 1);
    assert.equal(r1.skipped, 0);
    assert.equal(tail.position, Buffer.byteLength(a));
    assert.equal(tail.read().events.length, 0, 'the torn line is not consumed');
    fs.appendFileSync(file, b.slice(17) + line(loss('guided', 5)));
    const r2 = tail.read();
    assert.deepEqual(
      r2.events.map((e) => (e as LossEvent).step),
      [20, 5],
    );
    // A multi-byte character split across reads survives (offsets are bytes, not characters).
    fs.appendFileSync(file, line({ type: 'error', t: 1, message: 'σ → ∞' }));
    assert.equal((tail.read().events[0] as { message: string }).message, 'σ → ∞');
    // The file replaced by a shorter one: start over.
    fs.writeFileSync(file, line(loss('teacher', 1)));
    const r3 = tail.read();
    assert.equal(r3.reset, true);
    assert.equal(r3.events.length, 1);
  });

  it('skips malformed lines and counts them', () => {
    const dir = tempRun();
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, 'not json\n' + JSON.stringify({ type: 'loss', t: 1 }) + '\n' + line(loss('teacher', 1)));
    const r = new EventTail(file).read();
    assert.equal(r.events.length, 1);
    assert.equal(r.skipped, 2);
  });

  it('feeds history, appended lines and worker events, each event once', () => {
    const dir = tempRun();
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, line(loss('teacher', 10)) + line(loss('teacher', 20)));
    const batches: RunEvent[][] = [];
    const feed = new RunEventFeed(dir, (events) => batches.push(events), { watch: false, pollMs: 60_000 });
    try {
      assert.equal(feed.events.length, 2, 'history read at once');
      assert.equal(batches.length, 0, 'history is not a batch');
      // The worker reports step 30 before it reaches the file, then the file catches up: delivered once.
      const e30 = loss('teacher', 30);
      feed.push(e30);
      fs.appendFileSync(file, line(e30) + line(loss('teacher', 40)));
      feed.poll();
      // The file first, then the worker's copy: dropped.
      feed.push(JSON.parse(JSON.stringify(loss('teacher', 40))));
      assert.deepEqual(
        feed.events.map((e) => (e as LossEvent).step),
        [10, 20, 30, 40],
      );
      assert.deepEqual(
        batches.map((b) => b.map((e) => (e as LossEvent).step)),
        [[30], [40]],
      );
    } finally {
      feed.dispose();
    }
  });

  it('notices growth through fs.watch or polling without being asked', async () => {
    const dir = tempRun();
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, '');
    const got = new Promise<RunEvent[]>((resolve) => {
      const feed = new RunEventFeed(
        dir,
        (events) => {
          feed.dispose();
          resolve(events);
        },
        { pollMs: 50 },
      );
    });
    fs.appendFileSync(file, line(loss('teacher', 7)));
    const events = await got;
    assert.equal((events[0] as LossEvent).step, 7);
  });
});

describe('run view and preview defaults', () => {
  function runFolder(): string {
    const dir = tempRun();
    fs.writeFileSync(
      path.join(dir, 'run.json'),
      JSON.stringify({ name: 'demo', createdAt: 1, configHash: 'h', version: '0.1.0' }),
    );
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ guidance: { sampleW: [0, 2, 8] }, sampling: { classes: [0, 4] } }),
    );
    fs.mkdirSync(path.join(dir, 'checkpoints', 'guided'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoints', 'guided', 'step-0000100.ckpt'), '');
    fs.writeFileSync(path.join(dir, 'checkpoints', 'guided', 'step-0000200.ckpt'), '');
    return dir;
  }
  const events: RunEvent[] = [
    { type: 'run_start', t: 1, pid: 1, host: 'h', resumed: false, configHash: 'h' },
    { type: 'backend', t: 2, name: 'cpu', version: '4', threads: 1, simd: false },
    { type: 'stage_start', t: 3, stage: 'teacher', unit: 'teacher', totalSteps: 100, startStep: 0 },
    loss('teacher', 100),
    { type: 'stage_end', t: 5, unit: 'teacher', step: 100, seconds: 1 },
    { type: 'stage_start', t: 6, stage: 'guided', unit: 'guided', totalSteps: 300, startStep: 0 },
    { ...loss('guided', 200), rate: 20 },
    {
      type: 'samples',
      t: 8,
      unit: 'guided',
      step: 200,
      file: 'samples/guided/step-0000200.png',
      w: [0, 1],
      classes: [0, 1, 2, 3, 4, 5],
      steps: 8,
      nfe: 8,
    },
  ];

  it('builds a valid RunView: status, units, rate and ETA while active', () => {
    const dir = runFolder();
    const v = buildRunView(dir, events, true);
    assert.ok(asHostToWebview({ type: 'run', run: v }), 'passes the protocol validator');
    assert.equal(v.name, 'demo');
    assert.equal(v.status, 'running');
    assert.deepEqual(
      v.units.map((u) => [u.unit, u.step, u.totalSteps, u.done]),
      [
        ['teacher', 100, 100, true],
        ['guided', 200, 300, false],
      ],
    );
    assert.equal(v.rate, 20);
    assert.equal(v.etaSeconds, 5);
    const idle = buildRunView(dir, events, false);
    assert.equal(idle.status, 'failed', 'no run_end and no live writer');
    assert.equal(idle.etaSeconds, undefined);
  });

  it('picks the student checkpoint, w defaults from the config and the class count', () => {
    const dir = runFolder();
    const d = previewDefaults(dir, events, undefined);
    assert.equal(d.stage, 'guided');
    assert.equal(d.studentCheckpoint, path.join('checkpoints', 'guided', 'step-0000200.ckpt'));
    assert.deepEqual(d.wDefaults, [0, 2, 8]);
    assert.equal(d.classes, 6);
    const chosen = previewDefaults(dir, events, 'checkpoints/guided/step-0000100.ckpt');
    assert.equal(chosen.studentCheckpoint, 'checkpoints/guided/step-0000100.ckpt');
    const teacher = previewDefaults(dir, events, 'checkpoints/teacher/step-0000100.ckpt');
    assert.equal(teacher.teacherCheckpoint, 'checkpoints/teacher/step-0000100.ckpt');
    assert.equal(teacher.studentCheckpoint, path.join('checkpoints', 'guided', 'step-0000200.ckpt'));
    assert.equal(unitOfCheckpoint('checkpoints\\progressive-64-32\\step-0000001.ckpt'), 'progressive-64-32');
  });
});

describe('dashboard data model', () => {
  it('keeps one series per unit and replaces the tail after a resume from an older step', () => {
    const s = new LossStore();
    for (const step of [10, 20, 30, 40]) s.loss(loss('teacher', step, step));
    s.loss(loss('teacher', 30, -1));
    assert.deepEqual(s.get('teacher')?.steps, [10, 20, 30]);
    assert.deepEqual(s.get('teacher')?.losses, [10, 20, -1]);
    s.stageStart({ type: 'stage_start', t: 0, stage: 'teacher', unit: 'teacher', totalSteps: 100, startStep: 0 });
    s.loss(loss('guided', 5));
    assert.deepEqual(Object.fromEntries(s.offsets()), { teacher: 0, guided: 100 });
    const d = alignedData(s, 0, 1000);
    assert.deepEqual(d.x, [10, 20, 30, 105]);
    assert.deepEqual(d.raw[1], [null, null, null, 1]);
    assert.deepEqual(d.boundaries, [
      { unit: 'teacher', x: 0 },
      { unit: 'guided', x: 100 },
    ]);
    assert.deepEqual(alignedData(s, 0, 1000, 'guided').x, [5], 'one unit on its own axis');
  });

  it('smooths with a debiased EMA and decimates keeping extremes', () => {
    assert.deepEqual(
      ema([1, 1, 1], 0.9).map((v) => Number(v.toFixed(12))),
      [1, 1, 1],
    );
    assert.deepEqual(ema([1, 3], 0), [1, 3]);
    const values = Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 1000) + (i === 54_321 ? 10 : 0));
    const idx = decimateIndices(values, 3000);
    assert.ok(idx && idx.length <= 3001 && idx.length > 1000);
    assert.ok(idx.includes(54_321), 'the spike survives');
    assert.equal(idx[idx.length - 1], 99_999);
    assert.ok(
      idx.every((v, i) => i === 0 || v > idx[i - 1]),
      'ascending',
    );
    assert.equal(decimateIndices([1, 2, 3], 10), undefined);
    const s = new LossStore();
    for (let i = 1; i <= 100_000; i++) s.loss(loss('teacher', i, values[i - 1]));
    const t0 = performance.now();
    const d = alignedData(s, 0.9, 6000);
    assert.ok(d.x.length <= 6001);
    assert.equal(d.recorded[0], 100_000);
    assert.ok(performance.now() - t0 < 500, '100k points are laid out quickly');
  });

  it('parses number lists and class ranges', () => {
    assert.deepEqual(parseNumberList('0, 1.5 ,4'), [0, 1.5, 4]);
    assert.deepEqual(parseNumberList('0-3, 7', { integer: true }), [0, 1, 2, 3, 7]);
    assert.equal(parseNumberList('1.5', { integer: true }), undefined);
    assert.equal(parseNumberList('-1'), undefined);
    assert.equal(parseNumberList(''), undefined);
    assert.equal(parseNumberList('1,2,3', { max: 2 }), undefined);
  });
});

describe('evaluation report (Report view, host side)', () => {
  const FIXTURE = path.join(__dirname, '..', 'fixtures', 'eval-report.json');
  const uri = (abs: string, mtimeMs: number): string => `vscode-resource:${abs}?v=${Math.round(mtimeMs)}`;
  function evaluatedRun(plots = Object.keys(PLOT_TITLES)): { dir: string; evalDir: string } {
    const dir = tempRun();
    const evalDir = path.join(dir, 'eval');
    fs.mkdirSync(evalDir);
    fs.copyFileSync(FIXTURE, path.join(evalDir, 'report.json'));
    for (const f of plots) fs.writeFileSync(path.join(evalDir, f), `png ${f}`);
    return { dir, evalDir };
  }
  const close = (a: number | null, b: number, what: string) =>
    assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

  it("builds the headline of a real report: per w the 256-step teacher, the 4-step student, the teacher's 4-step DDIM, accuracy, speed-up", () => {
    const { dir, evalDir } = evaluatedRun();
    const r = readReport(dir, uri);
    assert.ok(r, 'a report');
    assert.equal(r.kind, 'image');
    assert.equal(r.metric, 'FID');
    assert.equal(r.referenceSteps, 256);
    assert.equal(r.referenceNfe, 512);
    assert.equal(r.studentSteps, 4, 'the 4-step student, though an 8-step one was evaluated too');
    assert.equal(r.studentNfe, 4);
    assert.equal(r.samples, 100);
    assert.equal(r.backend, 'wasm (2 threads)');
    assert.deepEqual(
      r.rows.map((x) => x.w),
      [0, 1, 2, 4],
    );
    const [w0, , , w4] = r.rows;
    close(w0.teacher, 117.02443562762755, 'teacher FID at w=0');
    close(w0.student, 95.778256384418, 'student FID at w=0');
    close(w0.teacherFew, 112.90288268650465, 'teacher 4-step FID at w=0');
    close(w0.teacherAccuracy, 0.67, 'teacher accuracy');
    close(w0.studentAccuracy, 0.91, 'student accuracy');
    close(w0.nfeRatio, 128, 'NFE ratio');
    assert.ok(w0.speedup !== null && Math.abs(w0.speedup - 153.789) < 1e-3, `speed-up ${w0.speedup}`);
    close(w4.student, 238.33053647833322, 'student FID at w=4');
    close(r.realQuality, 16.57512324382469, 'real half vs half');
    close(r.realAccuracy, 0.971, 'judge accuracy');
    assert.deepEqual(r.notes, ['the guided student is sampled at ≤ 64 steps only (8, 4)']);
    // The same numbers as report.md's summary table prints (runs/qs2/eval/report.md).
    assert.deepEqual(
      [
        formatMetric(w0.teacher),
        formatMetric(w0.student),
        formatMetric(w0.teacherFew),
        formatPercent(w0.teacherAccuracy),
        formatPercent(w0.studentAccuracy),
        formatSpeedup(w0.speedup, w0.nfeRatio),
      ],
      ['117.0', '95.78', '112.9', '67.0 %', '91.0 %', '154× (128× fewer NFE)'],
    );
    // The plots in report.json's order, as webview URIs that change with the file.
    assert.deepEqual(
      r.plots.map((p) => p.file),
      ['quality-vs-nfe.png', 'quality-vs-w.png', 'accuracy-vs-w.png'],
    );
    assert.match(r.plots[0].title, /NFE.*log x/);
    const st = fs.statSync(path.join(evalDir, 'quality-vs-nfe.png'));
    assert.equal(
      r.plots[0].src,
      `vscode-resource:${path.join(evalDir, 'quality-vs-nfe.png')}?v=${Math.round(st.mtimeMs)}`,
    );
    // What the dashboard posts passes the validator both sides apply.
    assert.ok(asHostToWebview({ type: 'report', runDir: dir, evaluating: false, report: r }));
    assert.ok(asHostToWebview({ type: 'report', runDir: dir, evaluating: true }));
  });

  it('no report.json: no report; missing plots are left out; the signature follows the files', () => {
    const dir = tempRun();
    assert.equal(readReport(dir, uri), undefined);
    const none = reportSignature(dir);
    const { dir: run2, evalDir } = evaluatedRun(['quality-vs-w.png']);
    assert.deepEqual(
      readReport(run2, uri)?.plots.map((p) => p.file),
      ['quality-vs-w.png'],
    );
    const sig = reportSignature(run2);
    assert.notEqual(sig, none);
    assert.equal(reportSignature(run2), sig, 'stable while nothing changes');
    fs.writeFileSync(path.join(evalDir, 'quality-vs-nfe.png'), 'a new plot');
    const sig2 = reportSignature(run2);
    assert.notEqual(sig2, sig, 'a new plot');
    fs.appendFileSync(path.join(evalDir, 'report.json'), ' ');
    assert.notEqual(reportSignature(run2), sig2, 'report.json rewritten');
  });

  it('refuses a report.json it cannot show, with the reason; never follows paths out of eval/', () => {
    const { dir, evalDir } = evaluatedRun();
    const file = path.join(evalDir, 'report.json');
    const good = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> & {
      rows: Record<string, unknown>[];
    };
    fs.writeFileSync(file, '{"format": "diffusion-distiller-eval/1", "rows": [');
    assert.throws(() => readReport(dir, uri), /report\.json is not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ ...good, format: 'something-else/9' }));
    assert.throws(() => readReport(dir, uri), /format "something-else\/9"/);
    const rows = good.rows.map((r) => ({ ...r }));
    rows[2].model = '<script>';
    fs.writeFileSync(file, JSON.stringify({ ...good, rows }));
    assert.throws(() => readReport(dir, uri), /row 3 has an unknown model/);
    fs.writeFileSync(path.join(dir, 'outside.png'), 'x');
    fs.writeFileSync(
      file,
      JSON.stringify({ ...good, files: ['../outside.png', '/etc/passwd.png', 'quality-vs-w.png', 'report.md'] }),
    );
    assert.deepEqual(
      readReport(dir, uri)?.plots.map((p) => p.file),
      ['quality-vs-w.png'],
    );
  });

  it('toy data: SWD instead of FID, no accuracy; runs without a distilled student still have a table', () => {
    const row = (w: number, model: string, steps: number, sampler: string, swdReal: number, ms: number) => ({
      w,
      model,
      unit: model,
      sampler,
      steps,
      nfe: model === 'teacher' ? 2 * steps : steps,
      msPerSample: ms,
      fid: null,
      accuracy: null,
      diversity: 1,
      swdReal,
      swdTeacher: 0.01,
    });
    const toy = {
      format: 'diffusion-distiller-eval/1',
      createdAt: '2026-01-02T03:04:05.000Z',
      backend: 'cpu',
      dataset: { kind: 'toy' },
      samples: 400,
      w: [0, 2],
      reference: { unit: 'teacher', steps: 32, nfe: 64 },
      real: { fidHalves: null, accuracy: null, diversity: 1, swdHalves: 0.02 },
      rows: [
        row(0, 'teacher', 32, 'ddim', 0.05, 3),
        row(0, 'teacher', 2, 'ddim', 0.3, 0.2),
        row(0, 'progressive', 2, 'ddim', 0.07, 0.1),
        row(0, 'progressive', 2, 'stochastic', 0.09, 0.1),
        row(2, 'teacher', 32, 'ddim', 0.06, 3),
      ],
      files: ['quality-vs-nfe.png'],
    };
    const r = buildReportView(toy, (names) => names.map((file) => ({ file, title: file, src: `x/${file}` })));
    assert.equal(r.metric, 'SWD');
    assert.equal(r.studentSteps, 2, 'no 4-step student: the fewest steps');
    const noRecall = { teacherRecall: null, studentRecall: null };
    assert.deepEqual(r.rows[0], {
      w: 0,
      teacher: 0.05,
      student: 0.07,
      teacherFew: 0.3,
      teacherAccuracy: null,
      studentAccuracy: null,
      speedup: 30,
      nfeRatio: 32,
      ...noRecall,
      teacherDiversity: 1,
      studentDiversity: 1,
    });
    assert.deepEqual(r.rows[1], {
      w: 2,
      teacher: 0.06,
      student: null,
      teacherFew: null,
      teacherAccuracy: null,
      studentAccuracy: null,
      speedup: null,
      nfeRatio: null,
      ...noRecall,
      teacherDiversity: 1,
      studentDiversity: null,
    });
    assert.equal(r.realQuality, 0.02);
    assert.equal(formatSpeedup(r.rows[0].speedup, r.rows[0].nfeRatio), '30× (32× fewer NFE)');
    assert.equal(formatSpeedup(null, null), '—');
    const teacherOnly = buildReportView({ ...toy, rows: toy.rows.filter((x) => x.model === 'teacher') }, () => []);
    assert.equal(teacherOnly.studentSteps, null);
    assert.equal(teacherOnly.rows[0].teacher, 0.05);
    assert.ok(asHostToWebview({ type: 'report', runDir: '/r', evaluating: false, report: teacherOnly }));
  });

  it('an old report (no recall, no k-NN measures) shows nulls for them; a new one shows recall and diversity ÷ real beside accuracy', () => {
    const { dir, evalDir } = evaluatedRun();
    const old = readReport(dir, uri)!;
    for (const row of old.rows) {
      assert.equal(row.teacherRecall, null);
      assert.equal(row.studentRecall, null);
      assert.ok(row.teacherDiversity !== null && row.studentDiversity !== null, 'diversity was always in the report');
    }
    assert.equal(old.realRecall, null);
    close(old.rows[0].teacherDiversity, 505.77028731968056 / 401.9626570514821, 'teacher diversity ÷ real at w=0');
    // the same report with the fields `distill eval` writes now
    const file = path.join(evalDir, 'report.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      rows: Record<string, unknown>[];
      real: Record<string, unknown>;
      files: string[];
    };
    json.rows.forEach((row, i) =>
      Object.assign(row, { precision: 0.9, recall: 0.5 + i / 1000, density: 1, coverage: 0.8, pixelDiversity: 30 }),
    );
    Object.assign(json.real, { precision: 0.91, recall: 0.87, density: 1.01, coverage: 0.92, pixelDiversity: 31 });
    json.files.push('recall-vs-w.png');
    fs.writeFileSync(file, JSON.stringify(json));
    fs.writeFileSync(path.join(evalDir, 'recall-vs-w.png'), 'png');
    const r = readReport(dir, uri)!;
    const idx = (w: number, model: string, steps: number) =>
      json.rows.findIndex((x) => x.w === w && x.model === model && x.steps === steps && x.sampler === 'ddim');
    close(r.rows[0].teacherRecall, 0.5 + idx(0, 'teacher', 256) / 1000, 'teacher recall at w=0');
    close(r.rows[0].studentRecall, 0.5 + idx(0, 'progressive', 4) / 1000, '4-step student recall at w=0');
    close(r.realRecall, 0.87, 'real recall');
    assert.deepEqual(
      r.plots.map((p) => p.file),
      ['quality-vs-nfe.png', 'quality-vs-w.png', 'accuracy-vs-w.png', 'recall-vs-w.png'],
    );
    assert.match(r.plots[3].title, /Recall.*precision/);
    assert.ok(asHostToWebview({ type: 'report', runDir: dir, evaluating: false, report: r }));
    // recall is not optional in the message: a report view without it is refused
    const copy = JSON.parse(JSON.stringify(r)) as ReportView;
    delete (copy.rows[0] as Partial<ReportView['rows'][0]>).studentRecall;
    assert.equal(asHostToWebview({ type: 'report', runDir: dir, evaluating: false, report: copy }), undefined);
  });

  it('the report and evaluate messages are validated', () => {
    const { dir } = evaluatedRun();
    const r = readReport(dir, uri) as ReportView;
    const bad = (mutate: (x: ReportView) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(r)) as ReportView;
      mutate(copy);
      return { type: 'report', runDir: dir, evaluating: false, report: copy };
    };
    assert.equal(
      asHostToWebview(bad((x) => ((x.rows[0] as unknown as Record<string, unknown>).student = '95.8'))),
      undefined,
    );
    assert.equal(asHostToWebview(bad((x) => ((x as unknown as Record<string, unknown>).metric = 'IS'))), undefined);
    assert.equal(asHostToWebview(bad((x) => ((x.plots[0] as unknown as Record<string, unknown>).src = 42))), undefined);
    assert.equal(asHostToWebview({ type: 'report', runDir: dir }), undefined, 'evaluating is required');
    assert.equal(asHostToWebview({ type: 'report', runDir: dir, evaluating: false, error: 7 }), undefined);
    assert.deepEqual(asWebviewToHost({ type: 'evaluate', runDir: dir }), { type: 'evaluate', runDir: dir });
    assert.ok(asWebviewToHost({ type: 'openReport', runDir: dir }));
    assert.equal(asWebviewToHost({ type: 'evaluate' }), undefined);
    assert.equal(asWebviewToHost({ type: 'openReport', runDir: 3 }), undefined);
  });

  it('the run folder feed ticks on every look, so the report is followed with the same watcher and timer', () => {
    const dir = tempRun();
    let ticks = 0;
    const feed = new RunEventFeed(dir, () => undefined, { watch: false, pollMs: 60_000, onTick: () => ticks++ });
    try {
      feed.poll();
      feed.poll();
      assert.equal(ticks, 2);
      feed.dispose();
      feed.poll();
      assert.equal(ticks, 2, 'not after dispose');
    } finally {
      feed.dispose();
    }
  });
});
