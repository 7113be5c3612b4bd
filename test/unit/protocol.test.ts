/**
 * The protocol's checkers, one per direction (host → worker, worker → host, host → webview, webview → host) and the
 * backends report: a valid message comes back as it is; a malformed one is rejected with an error that names the
 * direction, the message type and the field (its path inside the message), what was expected and what came.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  asHostToWebview,
  asHostToWorker,
  asWebviewToHost,
  asWorkerToHost,
  checkBackendsReport,
  checkHostToWebview,
  checkHostToWorker,
  checkWebviewToHost,
  checkWorkerToHost,
  type BackendsReport,
  type Checked,
  type HostToWebview,
  type HostToWorker,
  type RunView,
  type SampleSpec,
  type WebviewToHost,
  type WorkerToHost,
} from '../../src/protocol';

/** Specifiers of a module's run-time imports and re-exports (not `import type` / `export type`). */
function runtimeImports(code: string): string[] {
  const re = /^(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  return [...code.matchAll(re)].filter((m) => !m[1]).map((m) => m[2]);
}

const error = <T>(c: Checked<T>): string => {
  assert.equal(c.ok, false, 'expected a rejection');
  return (c as { error: string }).error;
};

const spec: SampleSpec = {
  runDir: '/r',
  stage: 'progressive',
  steps: 4,
  sampler: 'ddim',
  w: [0, 1.5],
  classes: [0, 3],
  perClass: 2,
  seed: 7,
};
const PNG = 'iVBORw0KGgo=';

describe('host → worker', () => {
  const good: HostToWorker[] = [
    { type: 'start', id: 1, configPath: '/c.distill.json', runsDir: '/runs', name: 'a', backend: 'wasm', threads: 2 },
    { type: 'resume', id: 2, runDir: '/r' },
    { type: 'stop' },
    { type: 'sample', id: 3, spec, backend: 'auto' },
    { type: 'tool', id: 4, tool: 'eval', runDir: '/r', threads: 0 },
    { type: 'backends', id: 5 },
    { type: 'cancel', id: 3 },
    { type: 'editInput', id: 6, runDir: '/r', source: { example: 0 } },
    {
      type: 'edit',
      id: 7,
      spec: { runDir: '/r', model: 'teacher', steps: 8, imagePngBase64: PNG, classId: 2, strength: 0.5, w: 3, seed: 0 },
    },
  ];

  it('accepts every request type as it is', () => {
    for (const m of good) assert.deepEqual(checkHostToWorker(m), { ok: true, value: m }, m.type);
    // an optional field sent as undefined is the same as absent
    assert.ok(asHostToWorker({ type: 'resume', id: 2, runDir: '/r', backend: undefined }));
  });

  it('rejects a malformed request, naming the field', () => {
    assert.equal(
      error(checkHostToWorker({ type: 'sample', id: 3, spec: { ...spec, steps: 0 } })),
      'host → worker sample message: spec.steps: expected an integer from 1 to 4096, got 0',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'sample', id: 3, spec: { ...spec, w: [1, -1] } })),
      'host → worker sample message: spec.w[1]: expected a finite number ≥ 0, got -1',
    );
    assert.equal(
      error(
        checkHostToWorker({ type: 'sample', id: 3, spec: { ...spec, classes: Array.from({ length: 101 }, () => 0) } }),
      ),
      'host → worker sample message: spec.classes: expected a list of at most 100 items, got 101 items',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'start', id: 1, configPath: '/c', runsDir: '/runs', backend: 'gpu' })),
      'host → worker start message: backend: expected one of "auto", "webgpu", "wasm", "cpu", "tensorflow", got "gpu"',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'resume', id: 1.5, runDir: '/r' })),
      'host → worker resume message: id: expected an integer, got 1.5',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'resume', id: 1, runDir: '/r', threads: -1 })),
      'host → worker resume message: threads: expected an integer ≥ 0, got -1',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'resume', id: 1 })),
      'host → worker resume message: runDir: expected a string, got nothing',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'tool', id: 1, tool: 'train', runDir: '/r' })),
      'host → worker tool message: tool: expected one of "export", "eval", got "train"',
    );
    assert.equal(
      error(checkHostToWorker({ type: 'launch', id: 1 })).startsWith(
        'host → worker message: type: expected one of "start", "resume", "stop"',
      ),
      true,
    );
    assert.equal(
      error(checkHostToWorker('stop')),
      'host → worker message: expected an object with a "type", got "stop"',
    );
    assert.equal(error(checkHostToWorker(null)), 'host → worker message: expected an object with a "type", got null');
    assert.equal(
      asHostToWorker({ type: 'sample', id: 3, spec: { ...spec, seed: Number.NaN } }),
      undefined,
      'NaN is not a number here',
    );
  });

  it('an edit input source has exactly one of file and example', () => {
    const source = (s: unknown) => checkHostToWorker({ type: 'editInput', id: 1, runDir: '/r', source: s });
    assert.ok(source({ file: '/img.png' }).ok);
    assert.ok(source({ example: 12 }).ok);
    for (const s of [{}, { file: '' }, { example: -1 }, { file: '/a.png', example: 1 }, ['/a.png']]) {
      assert.equal(
        error(source(s)),
        `host → worker editInput message: source: expected either {"file": a non-empty path} or {"example": an integer ≥ 0}, got ${JSON.stringify(s)}`,
      );
    }
  });

  it('edit images are padded base64 of whole 4-character groups, at most 4 MiB', () => {
    const edit = (imagePngBase64: unknown) =>
      checkHostToWorker({
        type: 'edit',
        id: 7,
        spec: { runDir: '/r', model: 'student', steps: 2, imagePngBase64, classId: 0, strength: 1, w: 0, seed: 1 },
      });
    for (const ok of ['AAAA', 'AAA=', 'AA==', 'ab+/AB==']) assert.ok(edit(ok).ok, ok);
    for (const bad of ['', 'AAAAA', 'A===', 'AA=A', 'AA AA==', 'A'.repeat((4 << 20) + 4)]) {
      assert.match(
        error(edit(bad)),
        /^host → worker edit message: spec\.imagePngBase64: expected base64 of at most 4194304 characters, got /,
        bad.slice(0, 10),
      );
    }
  });
});

describe('worker → host', () => {
  const good: WorkerToHost[] = [
    { type: 'ready', pid: 42 },
    {
      type: 'event',
      runDir: '/r',
      event: { type: 'loss', t: 1, unit: 'teacher', step: 10, loss: 0.5, lr: 1e-3, rate: 12 },
    },
    { type: 'log', level: 'warn', text: 'hi' },
    { type: 'progress', id: 1, done: 3, total: 10 },
    { type: 'runCreated', id: 1, runDir: '/r' },
    { type: 'reply', id: 1, ok: true, result: { files: [] } },
    { type: 'reply', id: 1, ok: false, error: 'no' },
  ];

  it('accepts every message type as it is', () => {
    for (const m of good) assert.deepEqual(checkWorkerToHost(m), { ok: true, value: m }, m.type);
    assert.ok(
      asWorkerToHost({ type: 'reply', id: 2, ok: false }),
      'a failed reply without an error text is the host\'s "request failed"',
    );
  });

  it('rejects a malformed message, naming the field', () => {
    assert.equal(
      error(checkWorkerToHost({ type: 'progress', id: 1, done: 'x', total: 10 })),
      'worker → host progress message: done: expected a finite number, got "x"',
    );
    assert.equal(
      error(checkWorkerToHost({ type: 'log', level: 'debug', text: '' })),
      'worker → host log message: level: expected one of "info", "warn", "error", got "debug"',
    );
    assert.equal(
      error(checkWorkerToHost({ type: 'reply', id: 1, ok: 'yes' })),
      'worker → host reply message: ok: expected true or false, got "yes"',
    );
    assert.equal(
      error(checkWorkerToHost({ type: 'reply', id: 1, ok: false, error: 5 })),
      'worker → host reply message: error: expected a string, got 5',
    );
    assert.equal(
      error(checkWorkerToHost({ type: 'event', runDir: '/r', event: { type: 'loss', step: 'ten' } })),
      'worker → host event message: event: expected a run event, got {"type":"loss","step":"ten"}',
    );
  });
});

describe('host → webview', () => {
  const run: RunView = {
    runDir: '/r',
    name: 'r',
    status: 'running',
    active: true,
    units: [{ unit: 'teacher', stage: 'teacher', totalSteps: 100, step: 10, done: false }],
  };
  const good: HostToWebview[] = [
    {
      type: 'init',
      view: 'dashboard',
      run,
      events: [],
      configs: [{ path: '/c.distill.json', label: 'c', stages: ['teacher'] }],
      sampleBase: 'vscode-resource:/r',
    },
    { type: 'init', view: 'preview', runDir: '/r', stage: 'guided', classes: 10, wDefaults: [0, 1] },
    { type: 'run', run },
    { type: 'previewBusy', requestId: 1, done: 1, total: 2, phase: 'student' },
    { type: 'editInfo', size: 28, channels: 1, classNames: ['0', '1'], teacherSteps: 64, studentSteps: [1, 2, 4] },
    {
      type: 'compare',
      view: {
        name: 's',
        sweepDir: '/s',
        launcher: 'local',
        params: ['lr'],
        units: ['teacher'],
        rows: [
          {
            name: 'a',
            runDir: '/s/a',
            params: { lr: 0.1, arch: 'unet', ema: true, x: null },
            status: 'finished',
            losses: { teacher: 0.2 },
            curves: {
              teacher: [
                [0, 1],
                [10, 0.5],
              ],
            },
          },
        ],
      },
    },
  ];

  it('accepts messages as they are, and picks the init message by its view', () => {
    for (const m of good) assert.deepEqual(checkHostToWebview(m), { ok: true, value: m }, m.type);
  });

  it('rejects a malformed message, naming the field', () => {
    assert.equal(
      error(checkHostToWebview({ type: 'run', run: { ...run, units: [{ ...run.units[0], step: 1.5 }] } })),
      'host → webview run message: run.units[0].step: expected an integer, got 1.5',
    );
    assert.equal(
      error(checkHostToWebview({ type: 'run', run: { ...run, status: 'paused' } })),
      'host → webview run message: run.status: expected one of "running", "stopped", "finished", "failed", "new", got "paused"',
    );
    assert.equal(
      error(checkHostToWebview({ type: 'init', view: 'editor', runDir: '/r' })),
      'host → webview init message: view: expected one of "dashboard", "preview", got "editor"',
    );
    assert.equal(
      error(
        checkHostToWebview({
          type: 'init',
          view: 'preview',
          runDir: '/r',
          stage: 'teacher',
          classes: 10,
          wDefaults: [0, 'x'],
        }),
      ),
      'host → webview init message: wDefaults[1]: expected a finite number, got "x"',
    );
    assert.equal(
      error(checkHostToWebview({ ...good[0], events: [{ type: 'nope' }] })),
      'host → webview init message: events[0]: expected a run event, got {"type":"nope"}',
    );
    assert.equal(
      error(
        checkHostToWebview({
          type: 'editInfo',
          size: 28,
          channels: 2,
          classNames: [],
          teacherSteps: 64,
          studentSteps: [],
        }),
      ),
      'host → webview editInfo message: channels: expected one of 1, 3, got 2',
    );
    const compare = good[5] as Extract<HostToWebview, { type: 'compare' }>;
    const row = compare.view.rows[0];
    assert.equal(
      error(
        checkHostToWebview({ type: 'compare', view: { ...compare.view, rows: [{ ...row, params: { lr: [1] } }] } }),
      ),
      'host → webview compare message: view.rows[0].params.lr: expected a finite number or a string or true or false or null, got [1]',
    );
    assert.equal(
      error(
        checkHostToWebview({
          type: 'compare',
          view: { ...compare.view, rows: [{ ...row, curves: { teacher: [[0, 1], [10]] } }] },
        }),
      ),
      'host → webview compare message: view.rows[0].curves.teacher[1]: expected a list of 2 items, got [10]',
    );
    assert.equal(
      asHostToWebview({
        type: 'previewResult',
        requestId: 1,
        teacher: { pngBase64: PNG, rows: 1, cols: 1, steps: 4, nfe: 4, msPerSample: Infinity, label: 't' },
      }),
      undefined,
    );
  });
});

describe('webview → host', () => {
  const good: WebviewToHost[] = [
    { type: 'ready' },
    { type: 'launch', configPath: '/c.distill.json' },
    {
      type: 'preview',
      requestId: 1,
      studentSteps: 4,
      teacherSteps: 64,
      sampler: 'stochastic',
      w: [0, 2],
      classes: [1],
      seed: 3,
    },
    { type: 'savePng', which: 'teacher', pngBase64: PNG },
    { type: 'editPickExample', index: 5 },
    {
      type: 'edit',
      requestId: 2,
      imagePngBase64: PNG,
      classId: 1,
      strength: 0.3,
      w: 2,
      studentSteps: 8,
      teacherSteps: 32,
      seed: 0,
    },
  ];

  it('accepts messages as they are', () => {
    for (const m of good) assert.deepEqual(checkWebviewToHost(m), { ok: true, value: m }, m.type);
  });

  it('rejects a malformed message, naming the field', () => {
    assert.equal(
      error(checkWebviewToHost({ ...good[2], sampler: 'euler' })),
      'webview → host preview message: sampler: expected one of "ddim", "stochastic", got "euler"',
    );
    assert.equal(
      error(checkWebviewToHost({ ...good[5], strength: 2 })),
      'webview → host edit message: strength: expected a finite number from 0 to 1, got 2',
    );
    assert.equal(
      error(checkWebviewToHost({ ...good[5], studentSteps: 9 })),
      'webview → host edit message: studentSteps: expected an integer from 1 to 8, got 9',
    );
    assert.equal(
      error(checkWebviewToHost({ ...good[5], classId: 100_000 })),
      'webview → host edit message: classId: expected an integer from 0 to 99999, got 100000',
    );
    assert.equal(
      error(checkWebviewToHost({ type: 'savePng', which: 'both', pngBase64: PNG })),
      'webview → host savePng message: which: expected one of "teacher", "student", got "both"',
    );
    assert.equal(
      error(checkWebviewToHost({ type: 'launch' })),
      'webview → host launch message: configPath: expected a string, got nothing',
    );
    assert.equal(asWebviewToHost({ type: 'editPickExample', index: 100_000_000 }), undefined);
  });
});

describe('backends report', () => {
  const report: BackendsReport = {
    platform: 'linux-x64',
    node: '20.0.0',
    backends: [
      { name: 'wasm', choice: 'wasm', available: true, device: 'cpu', detail: 'SIMD, 2 threads' },
      { name: 'cpu', choice: 'cpu', available: true, device: 'cpu', detail: 'plain JavaScript' },
    ],
    auto: 'wasm',
  };

  it('accepts a report whose auto is listed, each backend once', () => {
    assert.deepEqual(checkBackendsReport(report), { ok: true, value: report });
  });

  it('rejects a malformed report, naming the field', () => {
    assert.equal(
      error(checkBackendsReport({ ...report, auto: 'webgpu' })),
      'backends report: auto: expected one of the listed backends (wasm, cpu), got "webgpu"',
    );
    assert.equal(
      error(checkBackendsReport({ ...report, backends: [report.backends[0], report.backends[0]] })),
      'backends report: backends: wasm is listed twice',
    );
    assert.equal(
      error(checkBackendsReport({ ...report, backends: [{ ...report.backends[0], device: 'tpu' }] })),
      'backends report: backends[0].device: expected one of "gpu", "cpu", got "tpu"',
    );
  });
});

describe('where the protocol sits', () => {
  const SRC = path.resolve(__dirname, '..', '..', 'src');
  const tsFiles = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
      );

  it('the engine never imports the protocol', () => {
    for (const f of tsFiles(path.join(SRC, 'engine'))) {
      const code = fs.readFileSync(f, 'utf8');
      assert.doesNotMatch(code, /from\s+['"][./]*\/protocol(\/[^'"]*)?['"]/, path.relative(SRC, f));
    }
  });

  it('at run time it loads only TypeBox, the backend list and the run-event check (so the webviews bundle no tfjs)', () => {
    const allowed = new Set([
      '@sinclair/typebox',
      '@sinclair/typebox/value',
      '../engine/backend/choices',
      '../engine/run/events',
      './check',
      './messages',
      './view-models',
      './request-tracker',
    ]);
    for (const f of tsFiles(path.join(SRC, 'protocol'))) {
      for (const spec of runtimeImports(fs.readFileSync(f, 'utf8')))
        assert.ok(allowed.has(spec), `${path.relative(SRC, f)} imports ${spec}`);
    }
    assert.deepEqual(
      runtimeImports(fs.readFileSync(path.join(SRC, 'engine', 'run', 'events.ts'), 'utf8')),
      [],
      'events.ts imports nothing at run time',
    );
  });
});
