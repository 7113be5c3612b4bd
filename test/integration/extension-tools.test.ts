// Export Student / Evaluate Run: cancellable progress. runTool (src/extension/tool-runner.ts) runs against a stand-in for the
// `vscode` module (a progress notification whose Cancel the test clicks, recorded messages) and a real RunManager with
// the fake worker (test/fixtures/extension-fake-worker.js); then the real dist/worker.js evaluates a tiny toy run and is
// cancelled mid-way: it stops promptly and the earlier report stays exactly as it was.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CallCancelled, RunManager } from '../../src/extension/model/manager';
import type { ToolResult } from '../../src/protocol';
import { toyConfig } from '../helpers/toy-config';
import { EventEmitter, stubVscode } from '../helpers/vscode-stub';

// ───────────────────────────── a stand-in for `vscode` ─────────────────────────────
class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    if (this.token.isCancellationRequested) return;
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
}
interface ProgressRecord {
  options: { title: string; cancellable?: boolean };
  reports: { message?: string; increment?: number }[];
  cancel: () => void;
}
const ui = {
  progress: [] as ProgressRecord[],
  infos: [] as string[],
  errors: [] as string[],
  /** Called with every progress report (the test clicks Cancel from here). */
  onReport: undefined as ((p: ProgressRecord, r: { message?: string }) => void) | undefined,
  reset(): void {
    this.progress = [];
    this.infos = [];
    this.errors = [];
    this.onReport = undefined;
  },
};
const fakeVscode = {
  EventEmitter,
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  Uri: { file: (p: string) => ({ scheme: 'file', fsPath: p, path: p }) },
  window: {
    withProgress: async <R>(
      options: ProgressRecord['options'],
      task: (p: unknown, token: unknown) => Promise<R>,
    ): Promise<R> => {
      const source = new CancellationTokenSource();
      const rec: ProgressRecord = { options, reports: [], cancel: () => source.cancel() };
      ui.progress.push(rec);
      const progress = {
        report: (r: { message?: string; increment?: number }) => {
          rec.reports.push(r);
          ui.onReport?.(rec, r);
        },
      };
      return task(progress, source.token);
    },
    showInformationMessage: async (message: string): Promise<undefined> => {
      ui.infos.push(message);
      return undefined;
    },
    showErrorMessage: async (message: string): Promise<undefined> => {
      ui.errors.push(message);
      return undefined;
    },
    showTextDocument: async (): Promise<undefined> => undefined,
  },
  commands: { executeCommand: async (): Promise<undefined> => undefined },
};
const restoreVscode = stubVscode(fakeVscode);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tools = require('../../src/extension/tool-runner') as typeof import('../../src/extension/tool-runner');

const FAKE = path.join(__dirname, '..', 'fixtures', 'extension-fake-worker.js');
const WORKER = path.resolve(__dirname, '../../dist/worker.js');
const logLines: string[] = [];
const log = {
  info: (s: string) => logLines.push(`info ${s}`),
  warn: (s: string) => logLines.push(`warn ${s}`),
  error: (s: string) => logLines.push(`error ${s}`),
} as unknown as import('vscode').LogOutputChannel;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-tools-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Clicks Cancel at the first percentage the notification shows. */
function cancelAtFirstPercent(): void {
  ui.onReport = (p, r) => {
    if (r.message && /^\d+ %$/.test(r.message)) p.cancel();
  };
}

describe('Evaluate Run / Export Student with the fake worker', { timeout: 20_000 }, () => {
  let mgr: RunManager;
  const managerLog: string[] = [];
  before(() => {
    mgr = new RunManager({ workerPath: FAKE, log: (_l, t) => managerLog.push(t) });
  });
  after(async () => {
    await mgr.dispose();
    restoreVscode();
  });

  it('Cancel in the notification cancels that call; the user sees "Evaluation cancelled", not an error', async () => {
    ui.reset();
    cancelAtFirstPercent();
    const runDir = path.join(tmp, 'slow-run');
    const changes: boolean[] = [];
    const sub = tools.onDidChangeTools(() => changes.push(tools.toolRunning('eval', runDir)));
    const t0 = Date.now();
    await tools.runTool('eval', runDir, mgr, log);
    sub.dispose();
    assert.ok(Date.now() - t0 < 5000, 'the slow fake never finishes on its own: only the cancel ended it');
    assert.equal(ui.progress.length, 1);
    assert.equal(ui.progress[0].options.cancellable, true, 'the notification has a Cancel button');
    const msgs = ui.progress[0].reports.map((r) => r.message);
    const at = msgs.indexOf('cancelling…');
    assert.ok(at > 0, `"cancelling…" shown after the progress: ${JSON.stringify(msgs)}`);
    assert.deepEqual(msgs.slice(at + 1), [], 'no progress drawn over "cancelling…"');
    assert.deepEqual(ui.errors, []);
    assert.deepEqual(ui.infos, ['Distill: Evaluation cancelled (slow-run).']);
    assert.ok(
      managerLog.some((l) => /cancel sent for request \d+/.test(l)),
      managerLog.join('\n'),
    );
    assert.ok(
      logLines.some((l) => l.includes('cancelled (evaluation cancelled; no report written)')),
      logLines.join('\n'),
    );
    assert.deepEqual(changes, [true, false], 'running while it ran, not after');
    assert.equal(tools.toolRunning('eval', runDir), false);
  });

  it('the tools worker serves the next call after a cancel; a finished evaluation shows its summary', async () => {
    ui.reset();
    await tools.runTool('eval', path.join(tmp, 'quick-run'), mgr, log);
    assert.deepEqual(ui.errors, []);
    assert.deepEqual(ui.infos, ['Distill: fake eval of quick-run done']);
    const last = ui.progress[0].reports.at(-1);
    assert.equal(last?.message, '100 %');
    const total = ui.progress[0].reports.reduce((s, r) => s + (r.increment ?? 0), 0);
    assert.ok(Math.abs(total - 100) < 1e-9, `increments add up to 100, got ${total}`);
  });

  it('Export Student is cancellable the same way', async () => {
    ui.reset();
    cancelAtFirstPercent();
    await tools.runTool('export', path.join(tmp, 'slow-export'), mgr, log);
    assert.deepEqual(ui.errors, []);
    assert.deepEqual(ui.infos, ['Distill: Export cancelled (slow-export).']);
  });

  it('a second evaluation of a run that is being evaluated is refused, not started twice', async () => {
    ui.reset();
    const runDir = path.join(tmp, 'slow-twice');
    const first = tools.runTool('eval', runDir, mgr, log);
    assert.equal(tools.toolRunning('eval', runDir), true);
    assert.equal(tools.toolRunning('export', runDir), false);
    await tools.runTool('eval', `${runDir}${path.sep}`, mgr, log); // the same folder, spelled differently
    assert.deepEqual(ui.infos, ['Distill: slow-twice is already being evaluated in this window.']);
    assert.equal(ui.progress.length, 1, 'no second notification');
    ui.progress[0].cancel();
    await first;
    assert.equal(ui.infos.at(-1), 'Distill: Evaluation cancelled (slow-twice).');
    assert.equal(tools.toolRunning('eval', runDir), false);
  });

  it('RunManager.call: an already aborted signal never reaches the worker; no signal behaves as before', async () => {
    const ac = new AbortController();
    ac.abort();
    let built = 0;
    await assert.rejects(
      mgr.call<ToolResult>(
        (id) => (built++, { type: 'tool', id, tool: 'eval', runDir: path.join(tmp, 'x') }),
        undefined,
        ac.signal,
      ),
      (e: unknown) => e instanceof CallCancelled,
    );
    assert.equal(built, 0);
    const r = await mgr.call<ToolResult>((id) => ({ type: 'tool', id, tool: 'export', runDir: path.join(tmp, 'y') }));
    assert.equal(r.summary, 'fake export of y done');
  });
});

// ───────────────────────────── the real worker ─────────────────────────────
const TOY = toyConfig({
  name: 'toy-eval',
  seed: 5,
  teacher: { steps: 30 },
  guided: { steps: 4 },
  progressive: { steps: 2 },
  sampling: { perClass: 1 },
  checkpoint: { interval: 1000, keep: 1 },
  log: { interval: 10 },
  eval: { w: [0, 2], teacherSteps: [64], studentSteps: [2], samples: 200 },
});

describe('Evaluate Run with the real worker', () => {
  it('cancelling mid-way stops promptly and leaves the earlier report untouched; Export Student writes its folder', {
    timeout: 180_000,
  }, async () => {
    assert.ok(fs.existsSync(WORKER), `${WORKER} is missing: run \`node esbuild.mjs\` first`);
    const configPath = path.join(tmp, 'toy-eval.distill.json');
    fs.writeFileSync(configPath, JSON.stringify(TOY));
    const logs: string[] = [];
    const m = new RunManager({ workerPath: WORKER, log: (_l, t) => logs.push(t) });
    try {
      const { runDir, done } = await m.start(configPath, path.join(tmp, 'runs'));
      const trained = await done;
      assert.equal(trained.status, 'finished', `${trained.message ?? ''}\n${logs.slice(-10).join('\n')}`);
      const evalCall = (signal?: AbortSignal, onProgress?: (d: number, t: number) => void) =>
        m.call<ToolResult>((id, s) => ({ type: 'tool', id, tool: 'eval', runDir, ...s }), onProgress, signal);

      // A complete evaluation first: report.md, report.json and the plots.
      const full = await evalCall();
      const evalDir = path.join(runDir, 'eval');
      const names = ['report.md', 'report.json', 'quality-vs-nfe.png', 'quality-vs-w.png'];
      for (const f of names) assert.ok(full.files.includes(path.join(evalDir, f)), `${f} in ${full.files.join(', ')}`);
      const before = new Map(names.map((f) => [f, fs.readFileSync(path.join(evalDir, f))]));
      const listing = fs.readdirSync(evalDir).sort();

      // Then a re-evaluation, cancelled once sampling is under way.
      const ac = new AbortController();
      let abortedAt = 0;
      let seen: [number, number] | undefined;
      const t0 = Date.now();
      await assert.rejects(
        evalCall(ac.signal, (d, t) => {
          if (!abortedAt && d > 0 && d < t) {
            seen = [d, t];
            abortedAt = Date.now();
            ac.abort();
          }
        }),
        (e: unknown) => e instanceof CallCancelled && /evaluation cancelled; no report written/.test(e.detail),
      );
      assert.ok(seen, 'the evaluation reported progress before it was cancelled');
      const stopMs = Date.now() - abortedAt;
      assert.ok(stopMs < 5000, `stopped ${stopMs} ms after the cancel`);
      console.log(
        `# cancelled at ${seen![0]}/${seen![1]} after ${abortedAt - t0} ms; the worker stopped ${stopMs} ms later`,
      );
      for (const [f, bytes] of before)
        assert.ok(fs.readFileSync(path.join(evalDir, f)).equals(bytes), `${f} unchanged`);
      assert.deepEqual(fs.readdirSync(evalDir).sort(), listing, 'no new or temporary files in eval/');
      assert.ok(
        !logs.some((l) => /^\[tools\] .*EvaluationCancelled|^\[tools\] Error/.test(l)),
        'a cancel is not logged as an error',
      );
      assert.ok(
        logs.some((l) => /request \d+ ended after cancel: evaluation cancelled/.test(l)),
        logs.slice(-10).join('\n'),
      );

      // Export Student through the same worker: the files written, then the export folder, and the engine's summary.
      const exported = await m.call<ToolResult>((id) => ({ type: 'tool', id, tool: 'export', runDir }));
      const outDir = exported.files.at(-1)!;
      assert.equal(path.dirname(outDir), path.join(runDir, 'export'));
      assert.deepEqual(
        exported.files.slice(0, 4),
        ['weights.bin', 'student.mjs', 'demo.mjs', 'index.html'].map((f) => path.join(outDir, f)),
      );
      assert.ok(
        exported.files.includes(path.join(outDir, 'manifest.json')) &&
          fs.existsSync(path.join(outDir, 'manifest.json')),
      );
      assert.match(exported.summary, /^exported \S+ \(2 steps, [\d,]+ parameters\) to /);
    } finally {
      await m.dispose();
    }
  });
});
