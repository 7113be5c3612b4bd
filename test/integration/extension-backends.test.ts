// The editor's side of the WebGPU backend: "Distill: Show Backends" (the protocol's `backends` request,
// its validation, the document the editor shows — through a stand-in for `vscode` and the real dist/worker.js, with
// no Vulkan driver and with SwiftShader), the status bar's device and tooltip, the dashboard's RunView, and a run
// started the way Start Run does with the distill.backend setting `webgpu` (real worker, Dawn on SwiftShader).
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeBackends } from '../../src/engine/backend/report';
import { summarizeEvents, type BackendEvent, type RunEvent } from '../../src/engine/run/events';
import { backendsMarkdown, mentionsBackend, settingSentence } from '../../src/extension/model/backends';
import { statusBarText, statusBarTooltip } from '../../src/extension/model/format';
import { RunManager } from '../../src/extension/model/manager';
import { buildRunView } from '../../src/extension/panels/run-view';
import { asBackendsReport, asHostToWebview, asHostToWorker, type BackendsReport } from '../../src/protocol';
import { SWIFTSHADER_ICD, useSwiftShader } from '../helpers/gpu';
import { toyConfig } from '../helpers/toy-config';
import { EventEmitter, stubVscode } from '../helpers/vscode-stub';

useSwiftShader();
const WORKER = path.resolve(__dirname, '../../dist/worker.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-backends-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ───────────────────────────── a stand-in for `vscode` ─────────────────────────────
const ui = {
  commands: [] as { id: string; args: unknown[] }[],
  shown: [] as string[],
  progress: [] as string[],
  /** Makes markdown.showPreview fail (an editor without the markdown extension). */
  noMarkdown: false,
  reset(): void {
    this.commands = [];
    this.shown = [];
    this.progress = [];
    this.noMarkdown = false;
  },
};
const fakeVscode = {
  EventEmitter,
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  Uri: { from: (c: { scheme: string; path: string }) => ({ ...c, toString: () => `${c.scheme}:${c.path}` }) },
  window: {
    withProgress: async <R>(o: { title: string }, task: () => Promise<R>): Promise<R> => {
      ui.progress.push(o.title);
      return task();
    },
    showTextDocument: async (uri: { toString(): string }) => {
      ui.shown.push(uri.toString());
    },
  },
  commands: {
    executeCommand: async (id: string, ...args: unknown[]) => {
      ui.commands.push({ id, args });
      if (id === 'markdown.showPreview' && ui.noMarkdown) throw new Error(`command '${id}' not found`);
    },
  },
  workspace: { registerTextDocumentContentProvider: () => ({ dispose: () => undefined }) },
};
const restoreVscode = stubVscode(fakeVscode);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require('../../src/extension/backends') as typeof import('../../src/extension/backends');
after(restoreVscode);
const logLines: string[] = [];
const log = { info: (s: string) => void logLines.push(s) };

// ───────────────────────────── fixtures ─────────────────────────────
const HW_ADAPTER = {
  vendor: 'nvidia',
  architecture: 'ada',
  device: '',
  description: 'NVIDIA GeForce RTX 4070',
  software: false,
  limits: { maxBufferSize: 4 * 2 ** 30, maxStorageBufferBindingSize: 2 ** 31, maxComputeWorkgroupStorageSize: 32768 },
  features: ['shader-f16', 'timestamp-query'],
};
function gpuBox(): BackendsReport {
  return {
    platform: 'linux-x64',
    node: 'v20.20.2',
    auto: 'tensorflow-gpu',
    backends: [
      {
        name: 'tensorflow-gpu',
        choice: 'tensorflow',
        device: 'gpu',
        available: true,
        detail: '@tensorflow/tfjs-node-gpu 4.22.0 installed; CUDA driver present',
        cudaDevices: ['NVIDIA GeForce RTX 4070 (0000:01:00.0)', 'NVIDIA A100 (0000:02:00.0)'],
      },
      {
        name: 'webgpu',
        choice: 'webgpu',
        device: 'gpu',
        available: true,
        detail: 'NVIDIA GeForce RTX 4070 (ada); max buffer 4096 MiB | x',
        adapter: HW_ADAPTER,
      },
      {
        name: 'tensorflow',
        choice: 'tensorflow',
        device: 'cpu',
        available: false,
        detail: '@tensorflow/tfjs-node not installed',
        fix: 'npm install @tensorflow/tfjs-node@4.22.0',
      },
      { name: 'wasm', choice: 'wasm', device: 'cpu', available: true, detail: 'SIMD build' },
      { name: 'cpu', choice: 'cpu', device: 'cpu', available: true, detail: 'plain JavaScript (slow; always there)' },
    ],
  };
}

describe('the protocol: a `backends` request and its reply', () => {
  it('accepts {type:"backends", id} and nothing less', () => {
    assert.deepEqual(asHostToWorker({ type: 'backends', id: 7 }), { type: 'backends', id: 7 });
    assert.equal(asHostToWorker({ type: 'backends' }), undefined);
    assert.equal(asHostToWorker({ type: 'backends', id: '7' }), undefined);
    assert.equal(asHostToWorker({ type: 'backends', id: 1.5 }), undefined);
  });

  it('a real report of this machine validates; broken ones are refused', async () => {
    const real = await describeBackends();
    assert.equal(asBackendsReport(real), real);
    assert.equal(
      asBackendsReport(JSON.parse(JSON.stringify(real))) !== undefined,
      true,
      'survives the IPC round trip (JSON)',
    );
    assert.ok(asBackendsReport(gpuBox()));
    const broken: Array<[string, (r: BackendsReport) => unknown]> = [
      ['auto not listed', (r) => ({ ...r, backends: r.backends.filter((b) => b.name !== 'tensorflow-gpu') })],
      ['auto unknown', (r) => ({ ...r, auto: 'metal' })],
      ['a backend twice', (r) => ({ ...r, backends: [...r.backends, r.backends[3]] })],
      ['detail not text', (r) => ({ ...r, backends: r.backends.map((b) => ({ ...b, detail: 3 })) })],
      [
        'adapter without limits',
        (r) => ({
          ...r,
          backends: r.backends.map((b) => (b.adapter ? { ...b, adapter: { ...b.adapter, limits: {} } } : b)),
        }),
      ],
      [
        'adapter limit not a number',
        (r) => ({
          ...r,
          backends: r.backends.map((b) =>
            b.adapter ? { ...b, adapter: { ...b.adapter, limits: { ...b.adapter.limits, maxBufferSize: '4G' } } } : b,
          ),
        }),
      ],
      ['unknown device', (r) => ({ ...r, backends: r.backends.map((b) => ({ ...b, device: 'tpu' })) })],
      [
        'cuda devices not text',
        (r) => ({ ...r, backends: r.backends.map((b) => (b.cudaDevices ? { ...b, cudaDevices: [1] } : b)) }),
      ],
      ['no backends', (r) => ({ ...r, backends: 'all' })],
    ];
    for (const [why, mutate] of broken) assert.equal(asBackendsReport(mutate(gpuBox())), undefined, why);
    assert.equal(asBackendsReport(null), undefined);
  });
});

describe('the Show Backends document', () => {
  it('lists every backend with its status, the adapter and its limits, CUDA devices and the fixes', () => {
    const md = backendsMarkdown(gpuBox(), { setting: 'webgpu', probedAt: new Date(Date.UTC(2026, 10, 30, 11, 0, 0)) });
    assert.match(md, /linux-x64`, Node v20\.20\.2 · probed 2026-11-30 11:00:00 UTC/);
    assert.match(md, /`auto` picks \*\*tensorflow-gpu\*\*/);
    const rows = md.split('\n').filter((l) => /^\| [✔✘] \|/.test(l));
    assert.equal(rows.length, 5);
    assert.match(rows[0], /^\| ✔ \| tensorflow-gpu \(tfjs-node-gpu, CUDA\) — \*\*auto\*\* \| GPU \| `tensorflow` \|/);
    assert.match(
      rows[1],
      /^\| ✔ \| webgpu \(Dawn\) \| GPU \| `webgpu` \| .*4096 MiB \\\| x \|$/,
      'a pipe in a detail is escaped',
    );
    assert.match(rows[2], /^\| ✘ \| tensorflow \(tfjs-node, CPU\) \| CPU \|/);
    assert.match(md, /\| max buffer size \| 4096 MiB \(4,294,967,296 bytes\) \|/);
    assert.match(md, /\| max storage buffer binding size \| 2048 MiB \(2,147,483,648 bytes\) \|/);
    assert.match(md, /\| max compute workgroup storage \| 32,768 bytes \|/);
    assert.match(md, /\| kind \| hardware GPU \|/);
    assert.match(md, /\| features \| shader-f16, timestamp-query \|/);
    assert.match(
      md,
      /## CUDA devices\n\n- NVIDIA GeForce RTX 4070 \(0000:01:00\.0\)\n- NVIDIA A100 \(0000:02:00\.0\)\n/,
    );
    assert.match(
      md,
      /## How to get what is missing\n\n- \*\*tensorflow\*\*: npm install @tensorflow\/tfjs-node@4\.22\.0\n/,
    );
    assert.match(md, /setting is `webgpu`: runs started from this editor use \*\*webgpu\*\*\./);
  });

  it('says what the distill.backend setting means here, including a backend that is missing', () => {
    const r = gpuBox();
    assert.match(
      settingSentence(r, undefined),
      /not set: each run uses its config's `backend` \(default `auto`, which picks \*\*tensorflow-gpu\*\* here\)/,
    );
    assert.match(settingSentence(r, 'auto'), /use \*\*tensorflow-gpu\*\*/);
    assert.match(
      settingSentence(r, 'tensorflow'),
      /use \*\*tensorflow-gpu\*\*/,
      'tensorflow = tfjs-node-gpu when it is the one installed',
    );
    const noGpu: BackendsReport = {
      ...r,
      auto: 'wasm',
      backends: r.backends.filter((b) => b.name !== 'tensorflow-gpu' && b.name !== 'webgpu'),
    };
    assert.match(
      settingSentence(noGpu, 'webgpu'),
      /⚠ .*`webgpu`, which is \*\*not available\*\* here: runs started from this editor will fail/,
    );
    const sw = {
      ...r,
      backends: r.backends.map((b) =>
        b.adapter ? { ...b, adapter: { ...b.adapter, software: true, description: 'SwiftShader' } } : b,
      ),
    };
    assert.match(settingSentence(sw, 'webgpu'), /use \*\*webgpu\*\* — on a software adapter, emulated on the CPU/);
    const md = backendsMarkdown(sw);
    assert.match(md, /\| ✔ \| webgpu \(Dawn\) \| emulated GPU \|/);
    assert.match(
      md,
      /\| kind \| software adapter, emulated on the CPU: `auto` skips it, `webgpu` uses it with a warning \|/,
    );
  });
});

describe('a failed run offers Show Backends when the backend is the trouble', () => {
  it('backend, GPU and Dawn errors do; others do not', () => {
    for (const m of [
      "backend 'tensorflow' unavailable (@tensorflow/tfjs-node: not installed)",
      'the GPU device was lost (unknown); nothing after the last checkpoint was saved',
      'the GPU ran out of memory (Out of memory); lower the batch size',
      "the npm package `webgpu` (Dawn's Node binding) is not installed",
      'Dawn found no WebGPU adapter: the Vulkan loader is not installed',
      'no Vulkan driver is installed: no driver manifest (ICD .json) in /etc/vulkan/icd.d',
    ])
      assert.equal(mentionsBackend(m), true, m);
    for (const m of ['loss is NaN at step 120 (last good checkpoint step-100)', 'data: /x/train is missing', undefined])
      assert.equal(mentionsBackend(m), false, String(m));
  });
});

describe('Distill: Show Backends through the real worker', { timeout: 120_000 }, () => {
  const managers: RunManager[] = [];
  after(async () => {
    await Promise.all(managers.map((m) => m.dispose()));
  });
  const manager = (env: NodeJS.ProcessEnv) => {
    const m = new RunManager({ workerPath: WORKER, env, log: () => undefined });
    managers.push(m);
    return m;
  };

  it('without a Vulkan driver (as in the e2e editor): webgpu is not available and the document says why', async () => {
    assert.ok(fs.existsSync(WORKER), `${WORKER} is missing: run \`npm run build\` first`);
    ui.reset();
    const doc = new ext.BackendsDocument();
    const changed: string[] = [];
    doc.onDidChange((u) => changed.push(u.toString()));
    const env = { ...process.env, VK_ICD_FILENAMES: path.join(tmp, 'no-such-icd.json') };
    const report = await ext.showBackends(manager(env), doc, log, undefined);
    const wg = report.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, false);
    assert.equal(wg.adapter, undefined);
    assert.deepEqual(
      report.backends.map((b) => b.name),
      ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'],
    );
    assert.equal(report.auto, 'wasm');
    const text = doc.provideTextDocumentContent();
    assert.match(
      text,
      /## WebGPU adapter\n\nNo adapter: VK_ICD_FILENAMES names no Vulkan driver manifest that exists \(.*no-such-icd\.json\)/,
    );
    assert.match(text, /\| ✘ \| webgpu \(Dawn\) \| GPU \| `webgpu` \|/);
    assert.match(text, /\| ✔ \| wasm — \*\*auto\*\* \| CPU \|/);
    assert.match(text, /- \*\*webgpu\*\*: /, 'how to get webgpu');
    assert.match(text, /- \*\*tensorflow-gpu\*\*: npm install @tensorflow\/tfjs-node-gpu/);
    assert.deepEqual(changed, [ext.BACKENDS_URI.toString()]);
    assert.deepEqual(
      ui.commands.map((c) => c.id),
      ['markdown.showPreview'],
    );
    assert.equal(ui.commands[0].args[0], ext.BACKENDS_URI);
    assert.deepEqual(ui.progress, ['Distill: probing backends (WebGPU adapter, CUDA, wasm)…']);
    assert.match(
      logLines.at(-1)!,
      /^backends on linux-\w+: auto → wasm; available: wasm \(CPU\), cpu \(CPU\); not available: tensorflow-gpu, webgpu, tensorflow$/,
    );
  });

  it('with SwiftShader: the adapter, its limits and that it is emulated; without a markdown preview the source opens', async () => {
    ui.reset();
    ui.noMarkdown = true;
    const doc = new ext.BackendsDocument();
    const env = { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD };
    const report = await ext.showBackends(manager(env), doc, log, 'webgpu');
    const wg = report.backends.find((b) => b.name === 'webgpu')!;
    assert.equal(wg.available, true, wg.detail);
    assert.equal(wg.adapter?.software, true);
    assert.notEqual(report.auto, 'webgpu', 'auto never picks an emulated GPU');
    const text = doc.provideTextDocumentContent();
    assert.match(text, /\| ✔ \| webgpu \(Dawn\) \| emulated GPU \| `webgpu` \| SwiftShader/);
    assert.match(text, /\| description \| SwiftShader/);
    assert.match(text, /\| max buffer size \| \d+ MiB \([\d,]+ bytes\) \|/);
    assert.match(text, /\| max storage buffer binding size \| \d+ MiB/);
    assert.match(text, /setting is `webgpu`: runs started from this editor use \*\*webgpu\*\* — on a software adapter/);
    assert.deepEqual(ui.shown, [ext.BACKENDS_URI.toString()], 'the markdown source is shown instead of a preview');
  });

  it('a malformed reply is an error naming it, and nothing is shown', async () => {
    ui.reset();
    const doc = new ext.BackendsDocument();
    const before = doc.provideTextDocumentContent();
    const stub = { call: async <R>() => ({ platform: 'linux-x64', backends: 'none' }) as R };
    await assert.rejects(
      ext.showBackends(stub, doc, log, undefined),
      /the worker's backends report is malformed: \{"platform":"linux-x64"/,
    );
    assert.equal(doc.provideTextDocumentContent(), before);
    assert.deepEqual(ui.commands, []);
  });
});

// ───────────────────────────── status bar and dashboard ─────────────────────────────
const t = 1_700_000_000_000;
const backendEvent = (over: Partial<BackendEvent>): BackendEvent => ({
  type: 'backend',
  t,
  name: 'wasm',
  version: '4.22.0',
  threads: 2,
  simd: true,
  ...over,
});
const runEvents = (b: BackendEvent): RunEvent[] => [
  { type: 'run_start', t, pid: 1, host: 'h', resumed: false, configHash: 'x' } as RunEvent,
  b,
  { type: 'stage_start', t, stage: 'teacher', unit: 'teacher', totalSteps: 1000, startStep: 0 } as RunEvent,
  { type: 'loss', t, unit: 'teacher', step: 340, loss: 0.1, lr: 1e-3, rate: 5.5 } as RunEvent,
];

describe('status bar and dashboard: where the run computes', () => {
  const sw = backendEvent({
    name: 'webgpu',
    threads: 1,
    simd: false,
    adapter: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0', software: true },
    warning: 'the WebGPU adapter SwiftShader driver 5.0.0 is a software rasteriser: the GPU is emulated on the CPU',
  });
  const hw = backendEvent({
    name: 'webgpu',
    threads: 1,
    simd: false,
    adapter: { vendor: 'nvidia', architecture: 'ada', description: 'NVIDIA GeForce RTX 4070', software: false },
  });

  it('the status bar names the device; its tooltip carries the backend label', () => {
    const s = summarizeEvents(runEvents(hw), true);
    assert.equal(statusBarText(s), '$(sync~spin) Distill: teacher 340/1000 · ETA 2m · GPU');
    assert.equal(
      statusBarTooltip('toy-1', s, false),
      'toy-1\nBackend: webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)\nClick to open the dashboard.',
    );
    const e = summarizeEvents(runEvents(sw), true);
    assert.equal(statusBarText(e, 1), '$(sync~spin) Distill: teacher 340/1000 · ETA 2m · $(warning) emulated GPU (+1)');
    assert.match(
      statusBarTooltip('toy-2', e, true),
      /^toy-2 \(another process\)\nBackend: webgpu 4\.22\.0 · SwiftShader driver 5\.0\.0 \(software adapter, emulated on the CPU\)\nThe GPU is emulated on the CPU/,
    );
    const c = summarizeEvents(runEvents(backendEvent({})), true);
    assert.equal(statusBarText(c), '$(sync~spin) Distill: teacher 340/1000 · ETA 2m · CPU');
    assert.equal(
      statusBarText(summarizeEvents([runEvents(hw)[0]], true)),
      '$(sync~spin) Distill: starting…',
      'no device before the backend is known',
    );
  });

  it('the dashboard RunView carries backend, device and the backend warning, and passes validation', () => {
    const dir = path.join(tmp, 'run-view');
    fs.mkdirSync(dir, { recursive: true });
    // A resume onto another backend: the latest backend event counts.
    const view = buildRunView(dir, [...runEvents(sw), hw], false);
    assert.equal(view.backend, 'webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)');
    assert.equal(view.device, 'GPU');
    assert.equal(view.backendWarning, undefined);
    const swView = buildRunView(dir, runEvents(sw), false);
    assert.equal(swView.device, 'emulated GPU');
    assert.match(swView.backendWarning!, /emulated on the CPU/);
    assert.ok(asHostToWebview({ type: 'run', run: swView }), 'the webview accepts it');
    assert.equal(asHostToWebview({ type: 'run', run: { ...swView, device: 'TPU' } }), undefined);
    assert.equal(asHostToWebview({ type: 'run', run: { ...swView, backendWarning: 3 } }), undefined);
    const odd = buildRunView(dir, runEvents(backendEvent({ warning: 42 as unknown as string })), false);
    assert.equal(odd.backendWarning, undefined, 'a malformed warning in events.jsonl is not passed on');
  });
});

// ───────────────────────────── Start Run with distill.backend = webgpu ─────────────────────────────
describe('a run started from the editor with the distill.backend setting `webgpu`', { timeout: 240_000 }, () => {
  it('trains on the WebGPU adapter (SwiftShader here), says it is emulated, and stops with a checkpoint', async () => {
    const configPath = path.join(tmp, 'toy.distill.json');
    // The config asks for wasm: the setting (set by the user) overrides it, as in the editor.
    const config = toyConfig({
      threads: undefined,
      guided: { steps: 10 },
      progressive: { steps: 5 },
      sampling: { perClass: 1 },
      checkpoint: { interval: 1000 },
      log: { interval: 2 },
    });
    fs.writeFileSync(configPath, JSON.stringify(config));
    const logs: string[] = [];
    const m = new RunManager({
      workerPath: WORKER,
      env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD },
      settings: () => ({ backend: 'webgpu' }),
      log: (_l, text) => logs.push(text),
    });
    try {
      const firstLoss = new Promise<void>((resolve) => {
        const sub = m.onRunEvent((_d, e) => {
          if (e.type === 'loss') {
            sub.dispose();
            resolve();
          }
        });
      });
      const { runDir, done } = await m.start(configPath, path.join(tmp, 'runs'));
      await Promise.race([
        firstLoss,
        done.then((o) =>
          assert.fail(`the run ended before a loss: ${o.status} ${o.message ?? ''}\n${logs.slice(-10).join('\n')}`),
        ),
      ]);
      const s = m.summary(runDir)!;
      assert.equal(s.device, 'emulated GPU');
      assert.match(s.backend!, /^webgpu [\d.]+ · SwiftShader.* \(software adapter, emulated on the CPU\)$/);
      assert.match(statusBarText(s), /· \$\(warning\) emulated GPU$/);
      assert.equal(await m.stop(runDir), 'worker');
      const outcome = await done;
      assert.equal(outcome.status, 'stopped', outcome.message);
      const { events } = (await import('../../src/engine/run/run-folder')).readEvents(runDir);
      const b = events.find((e): e is BackendEvent => e.type === 'backend')!;
      assert.equal(b.name, 'webgpu');
      assert.equal(b.adapter?.software, true);
      assert.match(b.warning ?? '', /emulated on the CPU/);
      const view = buildRunView(runDir, events, false);
      assert.equal(view.status, 'stopped');
      assert.equal(view.device, 'emulated GPU');
      assert.ok(
        events.some((e) => e.type === 'checkpoint'),
        'the stop saved a checkpoint',
      );
    } finally {
      await m.dispose();
    }
  });
});
