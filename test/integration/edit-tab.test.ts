/**
 * The checkpoint preview's Edit tab, host and worker: the protocol's checks of its messages (every direction), what
 * the host reads of a run for it, and the real worker (dist/worker.js, through the extension's RunManager) editing
 * an image of a tiny trained digits run with the teacher and the student — two images with NFE and ms, the known
 * pixels kept under a mask, training examples as inputs, cancel, and bad requests refused with a clear error.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodePng, encodePng } from '../../src/engine/io/png';
import {
  editInfoOf,
  isPngBase64,
  runEdit,
  type EditJob,
  type EditRequestMessage,
} from '../../src/extension/panels/edit-tab';
import type { PanelServices } from '../../src/extension/panels/panel-services';
import { RunManager } from '../../src/extension/model/manager';
import {
  asHostToWebview,
  asHostToWorker,
  asWebviewToHost,
  type EditInput,
  type EditSource,
  type EditTabResult,
  type EditTabSpec,
  type HostToWebview,
} from '../../src/protocol';
import { tinyDigitsRun } from '../helpers/runs';

const REPO = path.resolve(__dirname, '..', '..');
const WORKER = path.join(REPO, 'dist', 'worker.js');
const png8 = (bytes: Uint8Array) => encodePng(bytes, 8, 8, 1).toString('base64');
/** An 8×8 grey input (a bright bar on a dark ramp) and a mask repainting its top half. */
const INPUT = Uint8Array.from({ length: 64 }, (_, p) => (p % 8 === 3 || p % 8 === 4 ? 240 : 4 * p));
const MASK_TOP = Uint8Array.from({ length: 64 }, (_, p) => (p < 32 ? 255 : 0));

const goodEdit: EditRequestMessage = {
  type: 'edit',
  requestId: 1,
  imagePngBase64: png8(INPUT),
  maskPngBase64: png8(MASK_TOP),
  classId: 3,
  strength: 0.75,
  w: 2,
  studentSteps: 2,
  teacherSteps: 6,
  seed: 5,
};

describe('edit tab: message validation', () => {
  it("accepts the webview's edit messages and refuses malformed ones", () => {
    assert.deepEqual(asWebviewToHost(goodEdit), goodEdit);
    const { maskPngBase64: _mask, ...noMask } = goodEdit;
    assert.ok(asWebviewToHost(noMask), 'the mask is optional');
    assert.ok(asWebviewToHost({ type: 'editPickFile' }));
    assert.ok(asWebviewToHost({ type: 'editPickExample', index: 12 }));
    assert.ok(asWebviewToHost({ type: 'cancelEdit', requestId: 4 }));
    const bad: [string, Record<string, unknown>][] = [
      ['strength above 1', { strength: 1.5 }],
      ['strength not a number', { strength: '0.5' }],
      ['negative w', { w: -1 }],
      ['student steps beyond 8', { studentSteps: 9 }],
      ['student steps 0', { studentSteps: 0 }],
      ['fractional teacher steps', { teacherSteps: 2.5 }],
      ['negative class', { classId: -1 }],
      ['no request id', { requestId: undefined }],
      ['image not base64', { imagePngBase64: 'not base64!' }],
      ['empty image', { imagePngBase64: '' }],
      ['mask not a string', { maskPngBase64: 42 }],
      ['negative seed', { seed: -3 }],
    ];
    for (const [why, patch] of bad) assert.equal(asWebviewToHost({ ...goodEdit, ...patch }), undefined, why);
    assert.equal(asWebviewToHost({ type: 'editPickExample', index: -1 }), undefined);
    assert.equal(asWebviewToHost({ type: 'editPickExample', index: 1.5 }), undefined);
  });

  it("checks the worker requests and the host's messages to the webview", () => {
    const spec: EditTabSpec = {
      runDir: '/r',
      model: 'student',
      steps: 4,
      imagePngBase64: goodEdit.imagePngBase64,
      classId: 1,
      strength: 0.5,
      w: 1,
      seed: 0,
    };
    assert.ok(asHostToWorker({ type: 'edit', id: 3, spec }));
    assert.equal(asHostToWorker({ type: 'edit', id: 3, spec: { ...spec, model: 'guided' } }), undefined);
    assert.equal(asHostToWorker({ type: 'edit', id: 3, spec: { ...spec, steps: 0 } }), undefined);
    assert.ok(asHostToWorker({ type: 'editInput', id: 1, runDir: '/r', source: { file: '/x.png' } }));
    assert.ok(asHostToWorker({ type: 'editInput', id: 1, runDir: '/r', source: { example: 7 } }));
    for (const source of [{}, { file: '' }, { example: -1 }, { file: '/x.png', example: 1 }, 'x.png']) {
      assert.equal(
        asHostToWorker({ type: 'editInput', id: 1, runDir: '/r', source }),
        undefined,
        JSON.stringify(source),
      );
    }
    const result: EditTabResult = {
      pngBase64: goodEdit.imagePngBase64,
      model: 'teacher',
      unit: 'teacher',
      checkpoint: 'c',
      steps: 6,
      stepsTaken: 5,
      nfe: 10,
      ms: 3.5,
      label: 'l',
    };
    assert.ok(
      asHostToWebview({
        type: 'editResult',
        requestId: 1,
        teacher: result,
        student: { ...result, model: 'student', nfe: 2 },
      }),
    );
    assert.ok(asHostToWebview({ type: 'editResult', requestId: 1, teacher: result, studentError: 'no student yet' }));
    assert.equal(asHostToWebview({ type: 'editResult', requestId: 1, teacher: { ...result, nfe: -1 } }), undefined);
    assert.equal(asHostToWebview({ type: 'editResult', requestId: 1 }), undefined);
    assert.ok(
      asHostToWebview({
        type: 'editInfo',
        size: 8,
        channels: 1,
        classNames: ['0', '1'],
        teacherSteps: 6,
        studentSteps: [2],
      }),
    );
    assert.equal(
      asHostToWebview({ type: 'editInfo', size: 8, channels: 2, classNames: [], teacherSteps: 6, studentSteps: [] }),
      undefined,
    );
    assert.equal(asHostToWebview({ type: 'editBusy', requestId: 1, done: 1, total: 2, phase: 'guided' }), undefined);
    assert.ok(isPngBase64(goodEdit.imagePngBase64));
    assert.equal(isPngBase64(Buffer.from('GIF89a not a png').toString('base64')), false);
  });
});

describe('edit tab: the real worker on a tiny trained digits run', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-edittab-'));
  let runDir = '';
  let m: RunManager;
  const logs: string[] = [];
  let worker: PanelServices['worker'];

  before(async () => {
    if (!fs.existsSync(WORKER))
      assert.equal(spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' }).status, 0);
    runDir = await tinyDigitsRun(tmp, 'tiny');
    fs.writeFileSync(path.join(tmp, 'in.png'), encodePng(INPUT, 8, 8, 1));
    m = new RunManager({ workerPath: WORKER, log: (_l, t) => logs.push(t) });
    // exactly what the extension gives the preview panel (features/panels.ts)
    worker = {
      sample: (spec, onProgress, signal) => m.sample(spec, onProgress, signal),
      editInput: (dir: string, source: EditSource, signal?: AbortSignal) =>
        m.call<EditInput>((id, s) => ({ type: 'editInput', id, runDir: dir, source, ...s }), undefined, signal),
      edit: (spec: EditTabSpec, onProgress?: (d: number, t: number) => void, signal?: AbortSignal) =>
        m.call<EditTabResult>((id, s) => ({ type: 'edit', id, spec, ...s }), onProgress, signal),
    };
  });

  after(async () => {
    await m?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs one edit request through the host's runEdit; returns every message it posted. */
  async function edit(
    msg: EditRequestMessage,
    abortAfter?: (posted: HostToWebview[], job: EditJob) => void,
  ): Promise<HostToWebview[]> {
    const job: EditJob = { requestId: msg.requestId, abort: new AbortController() };
    const out: HostToWebview[] = [];
    await runEdit(
      runDir,
      msg,
      job,
      worker,
      (p) => {
        assert.ok(
          asHostToWebview(p),
          `runEdit posted a message the webview would drop: ${JSON.stringify(p).slice(0, 300)}`,
        );
        out.push(p);
        abortAfter?.(out, job);
      },
      () => true,
      0,
    );
    return out;
  }

  it("tells the webview what the run offers: 8×8 grey, ten digit classes, the teacher's steps, the 2-step student", () => {
    const info = editInfoOf(runDir);
    assert.deepEqual(info, {
      type: 'editInfo',
      size: 8,
      channels: 1,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      teacherSteps: 6,
      studentSteps: [2],
      students: [{ unit: 'progressive-4-2', method: 'progressive', steps: 2, trained: true }],
    });
  });

  it("reads a workspace image and a training example at the model's resolution", async () => {
    const file = await worker.editInput(runDir, { file: path.join(tmp, 'in.png') });
    assert.equal(file.size, 8);
    assert.equal(file.channels, 1);
    assert.equal(file.label, 'in.png');
    assert.deepEqual(decodePng(Buffer.from(file.pngBase64, 'base64')).data, INPUT);
    const ex = await worker.editInput(runDir, { example: 3 });
    assert.equal(ex.examples, 200);
    assert.ok(Number.isInteger(ex.classId) && ex.classId! >= 0 && ex.classId! <= 9);
    assert.equal(ex.label, `training example 3 · class ${ex.classId}`);
    const img = decodePng(Buffer.from(ex.pngBase64, 'base64'));
    assert.deepEqual([img.width, img.height, img.channels], [8, 8, 1]);
    assert.ok(new Set(img.data).size > 4, 'a digit, not a flat image');
    await assert.rejects(
      worker.editInput(runDir, { example: 200 }),
      /training example 200 does not exist: the run's training split has 200 examples \(0 to 199\)/,
    );
    await assert.rejects(
      worker.editInput(runDir, { file: path.join(tmp, 'nowhere.png') }),
      /image: cannot read .*nowhere\.png: no such file/,
    );
  });

  it('edits with the teacher (2 NFE per step) and the student (1 NFE per step): two images with NFE and ms', async () => {
    const { maskPngBase64: _m, ...noMask } = goodEdit;
    const out = await edit({ ...noMask, requestId: 7 });
    const last = out.at(-1)!;
    assert.equal(last.type, 'editResult', JSON.stringify(last).slice(0, 400));
    assert.ok(last.type === 'editResult' && last.student);
    const { teacher, student } = last;
    // S = 0.75 on the 6-step grid: t = 0.75, 4/6 … 0 → 5 steps; on the 2-step grid: 0.75, 0.5, 0 → 2 steps
    assert.deepEqual(
      [teacher.model, teacher.unit, teacher.steps, teacher.stepsTaken, teacher.nfe],
      ['teacher', 'teacher', 6, 5, 10],
    );
    assert.deepEqual(
      [student.model, student.unit, student.steps, student.stepsTaken, student.nfe],
      ['student', 'progressive-4-2', 2, 2, 2],
    );
    for (const r of [teacher, student]) {
      assert.ok(r.ms > 0 && Number.isFinite(r.ms), `${r.model} ms ${r.ms}`);
      const img = decodePng(Buffer.from(r.pngBase64, 'base64'));
      assert.deepEqual([img.width, img.height, img.channels], [8, 8, 1]);
      assert.notDeepEqual(img.data, INPUT, `${r.model}: the edit changed nothing`);
    }
    assert.notDeepEqual(teacher.pngBase64, student.pngBase64);
    // progress from both phases, in order
    const phases = out.filter((p) => p.type === 'editBusy').map((p) => (p as { phase: string }).phase);
    assert.ok(
      phases.includes('teacher') &&
        phases.includes('student') &&
        phases.indexOf('student') > phases.lastIndexOf('teacher'),
      phases.join(),
    );
    // the same request again gives the same images (seeded)
    const again = (await edit({ ...noMask, requestId: 8 })).at(-1)!;
    assert.ok(again.type === 'editResult');
    assert.equal(again.teacher.pngBase64, teacher.pngBase64);
    assert.equal(again.student?.pngBase64, student.pngBase64);
  });

  it('with a mask, both keep the known (black) pixels exactly and repaint the white ones; a student step count without its own student uses the most distilled one', async () => {
    const out = await edit({ ...goodEdit, strength: 1, studentSteps: 3, requestId: 9 });
    const last = out.at(-1)!;
    assert.ok(last.type === 'editResult' && last.student, JSON.stringify(last).slice(0, 400));
    assert.equal(last.student.unit, 'progressive-4-2');
    assert.deepEqual([last.student.steps, last.student.nfe, last.teacher.nfe], [3, 3, 12]);
    for (const r of [last.teacher, last.student]) {
      const px = decodePng(Buffer.from(r.pngBase64, 'base64')).data;
      assert.deepEqual(px.subarray(32), INPUT.subarray(32), `${r.model}: kept pixels changed`);
      assert.notDeepEqual(px.subarray(0, 32), INPUT.subarray(0, 32), `${r.model}: nothing repainted`);
    }
  });

  it('edits with the student picked by its unit (the guided stage-1 student here); an unknown unit is named', async () => {
    const { maskPngBase64: _m, ...noMask } = goodEdit;
    const picked = (await edit({ ...noMask, student: 'guided', studentSteps: 2, requestId: 11 })).at(-1)!;
    assert.ok(picked.type === 'editResult' && picked.student, JSON.stringify(picked).slice(0, 400));
    assert.deepEqual([picked.student.unit, picked.student.steps, picked.student.nfe], ['guided', 2, 2]);
    const unknown = (await edit({ ...noMask, student: 'consistency-2', requestId: 12 })).at(-1)!;
    assert.ok(unknown.type === 'editResult' && !unknown.student);
    assert.match(
      unknown.studentError ?? '',
      /student: "consistency-2" is not a student of this run; expected one of guided, progressive-4-2/,
    );
  });

  it('refuses bad requests with a clear error, and a cancel ends the edit', async () => {
    const notPng = (await edit({ ...goodEdit, imagePngBase64: Buffer.from('GIF89a-----').toString('base64') })).at(-1);
    assert.deepEqual(notPng, {
      type: 'editError',
      requestId: 1,
      message: 'Cannot edit: the input image is not a PNG.',
    });
    const badMask = (await edit({ ...goodEdit, maskPngBase64: Buffer.from('nonsense').toString('base64') })).at(-1);
    assert.deepEqual(badMask, { type: 'editError', requestId: 1, message: 'Cannot edit: the mask is not a PNG.' });
    const badClass = (await edit({ ...goodEdit, classId: 12 })).at(-1);
    assert.equal(badClass?.type, 'editError');
    assert.match(
      (badClass as { message: string }).message,
      /^Edit failed: class: 12 is out of range; the run has classes 0 to 9/,
    );
    // a malformed request never reaches the engine: the worker drops it and says so
    await worker.editInput(runDir, { example: 0 }); // the tools worker is up
    const tool = (m as unknown as { tool: { child: { send(x: unknown): void } } }).tool;
    tool.child.send({
      type: 'edit',
      id: 999,
      spec: {
        runDir,
        model: 'student',
        steps: 2,
        imagePngBase64: goodEdit.imagePngBase64,
        classId: 1,
        strength: 2,
        w: 1,
        seed: 0,
      },
    });
    const deadline = Date.now() + 10_000;
    while (!logs.some((l) => /dropped a malformed message: \{"type":"edit","id":999/.test(l)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      logs.some((l) => /worker: dropped a malformed message: \{"type":"edit","id":999/.test(l)),
      logs.slice(-5).join('\n'),
    );
    assert.ok(
      logs.some((l) =>
        l.endsWith('(host → worker edit message: spec.strength: expected a finite number from 0 to 1, got 2)'),
      ),
      logs.slice(-5).join('\n'),
    );
    // cancel at the teacher's first progress message: the host reports "Cancelled." and no result
    const cancelled = await edit({ ...goodEdit, strength: 1, teacherSteps: 400, requestId: 11 }, (posted, job) => {
      if (posted.at(-1)?.type === 'editBusy') job.abort.abort();
    });
    assert.deepEqual(cancelled.at(-1), { type: 'editError', requestId: 11, message: 'Cancelled.' });
    assert.ok(!cancelled.some((p) => p.type === 'editResult'));
  });
});
