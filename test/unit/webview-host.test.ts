/**
 * The parts of the webview panels that need neither VS Code nor a browser: the CSP/HTML builder, the events.jsonl
 * tail (torn lines, replaced files, de-duplication with worker events), the RunView / preview defaults, and the
 * dashboard's data model (rewinds, EMA, decimation, the shared step axis).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { LossEvent, RunEvent } from '../../src/engine/events';
import { buildWebviewHtml, contentSecurityPolicy, makeNonce } from '../../src/extension/panels/html';
import { buildRunView, previewDefaults, unitOfCheckpoint } from '../../src/extension/panels/runview';
import { EventTail, RunEventFeed } from '../../src/extension/panels/tail';
import { asHostToWebview } from '../../src/protocol';
import { alignedData, decimateIndices, ema, LossStore, parseNumberList } from '../../webview/model';

const temps: string[] = [];
function tempRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-panels-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const loss = (unit: string, step: number, value = 1, t = step): LossEvent => ({ type: 'loss', t, unit, step, loss: value, lr: 1e-3, rate: 10 });
const line = (e: RunEvent): string => JSON.stringify(e) + '\n';

describe('webview HTML and CSP', () => {
  it('has a nonce-only script policy, no remote sources and nothing inline', () => {
    const nonce = makeNonce();
    const html = buildWebviewHtml({ cspSource: 'vscode-webview://abc123', nonce, scriptUri: 'vscode-webview://abc123/dist/webview/dashboard.js', title: 'Dashboard <run>' });
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
    assert.match(html, new RegExp(`<script nonce="${nonce}" src="vscode-webview://abc123/dist/webview/dashboard.js"></script>`));
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
    assert.throws(() => buildWebviewHtml({ cspSource: 'x', nonce: `${'a'.repeat(20)}"><`, scriptUri: 's', title: 't' }), /nonce/);
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
    assert.deepEqual(r2.events.map((e) => (e as LossEvent).step), [20, 5]);
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
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ name: 'demo', createdAt: 1, configHash: 'h', version: '0.1.0' }));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ guidance: { sampleW: [0, 2, 8] }, sampling: { classes: [0, 4] } }));
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
    { type: 'samples', t: 8, unit: 'guided', step: 200, file: 'samples/guided/step-0000200.png', w: [0, 1], classes: [0, 1, 2, 3, 4, 5], steps: 8, nfe: 8 },
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
    assert.deepEqual(ema([1, 1, 1], 0.9).map((v) => Number(v.toFixed(12))), [1, 1, 1]);
    assert.deepEqual(ema([1, 3], 0), [1, 3]);
    const values = Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 1000) + (i === 54_321 ? 10 : 0));
    const idx = decimateIndices(values, 3000);
    assert.ok(idx && idx.length <= 3001 && idx.length > 1000);
    assert.ok(idx.includes(54_321), 'the spike survives');
    assert.equal(idx[idx.length - 1], 99_999);
    assert.ok(idx.every((v, i) => i === 0 || v > idx[i - 1]), 'ascending');
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
