// The editor views of runs with two stage-2 methods, without VS Code: the Runs view's planned units (the engine's
// units()), the students the preview and its Edit tab offer, the report's methods side by side (with pareto and
// trainingCost, and without them in older reports), Compare of any runs picked together, and the messages carrying
// them checked by the protocol.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunEvent } from '../../src/engine/run/events';
import { stepFileName } from '../../src/engine/run/run-folder';
import { describeConfig } from '../../src/extension/configs';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';
import { buildRunTree } from '../../src/extension/model/build-run-tree';
import { unitLabel } from '../../src/extension/model/format';
import { plannedStudents, plannedUnits } from '../../src/extension/model/run-nodes';
import {
  buildCompareView,
  compareKey,
  differingParams,
  restorableSource,
  studentGrids,
} from '../../src/extension/panels/compare-view';
import { buildReportView, parsePareto, parseTrainingCost } from '../../src/extension/panels/report';
import { previewDefaults, previewStudentSpec, runStudents } from '../../src/extension/panels/run-view';
import { asHostToWebview, asWebviewToHost, checkHostToWebview, checkWebviewToHost } from '../../src/protocol';

const T0 = 1_700_000_000_000;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'distill-methods-'));
const toUri = (abs: string, mtime: number) => `vscode-resource:${abs}?v=${Math.round(mtime)}`;

/** Both methods: progressive 8 → 4 → 2, consistency students 4, 2, 1. */
const BOTH = {
  name: 'both',
  seed: 0,
  methods: ['progressive', 'consistency'],
  teacher: { steps: 100 },
  guided: { steps: 50 },
  progressive: { steps: 20, n0: 8, targetSteps: 2, lr: 0.001 },
  consistency: { steps: 30, studentSteps: [4, 2, 1], teacherSteps: 64 },
};
const PROGRESSIVE_ONLY = {
  name: 'prog',
  seed: 0,
  teacher: { steps: 100 },
  guided: { steps: 50 },
  progressive: { steps: 20, n0: 8, targetSteps: 2, lr: 0.0003 },
};

function stageStart(unit: string, stage: string, totalSteps: number): RunEvent {
  return { type: 'stage_start', t: T0 + 1, stage, unit, totalSteps, startStep: 0 } as RunEvent;
}
function loss(unit: string, step: number, value: number): RunEvent {
  return { type: 'loss', t: T0 + 2 + step, unit, step, loss: value, lr: 1e-3, rate: 10 } as RunEvent;
}
function stageEnd(unit: string, step: number): RunEvent {
  return { type: 'stage_end', t: T0 + 3 + step, unit, step, seconds: 1 } as RunEvent;
}

/** A run folder: config.json, run.json, events.jsonl, checkpoints and sample grids of the units given. */
function fixtureRun(
  parent: string,
  name: string,
  config: object,
  events: RunEvent[],
  opts: { ckpts?: [string, number][]; grids?: [string, number][] } = {},
): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ name, createdAt: T0, configHash: 'h', version: '0' }));
  const all: RunEvent[] = [
    { type: 'run_start', t: T0, pid: 999999, host: os.hostname(), resumed: false, configHash: 'h' } as RunEvent,
    ...events,
  ];
  fs.writeFileSync(path.join(dir, 'events.jsonl'), all.map((e) => `${JSON.stringify(e)}\n`).join(''));
  for (const [unit, step] of opts.ckpts ?? []) {
    fs.mkdirSync(path.join(dir, 'checkpoints', unit), { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoints', unit, stepFileName(step, 'ckpt')), 'x');
  }
  for (const [unit, step] of opts.grids ?? []) {
    fs.mkdirSync(path.join(dir, 'samples', unit), { recursive: true });
    fs.writeFileSync(path.join(dir, 'samples', unit, `step-${String(step).padStart(7, '0')}.png`), 'png');
  }
  return dir;
}

/** A finished unit's events: start, two losses, end. */
function trained(unit: string, stage: string, steps: number, final: number): RunEvent[] {
  return [
    stageStart(unit, stage, steps),
    loss(unit, steps / 2, final * 2),
    loss(unit, steps, final),
    stageEnd(unit, steps),
  ];
}

// ─────────────────────────────── report.json fixtures ───────────────────────────────
const row = (w: number, model: string, steps: number, fid: number, sampler = 'ddim') => ({
  w,
  model,
  sampler,
  steps,
  nfe: model === 'teacher' ? 2 * steps : steps,
  msPerSample: steps,
  fid,
  accuracy: 0.9,
});
/** Teacher at 64 steps; progressive and consistency students at 4 and 2 steps; consistency also at 1. */
function reportJson(extra: object = {}) {
  const rows = [];
  for (const w of [0, 2]) {
    rows.push(row(w, 'teacher', 64, 10 + w));
    rows.push(row(w, 'teacher', 4, 60 + w));
    rows.push(row(w, 'progressive', 4, 20 + w), row(w, 'progressive', 2, 40 + w));
    rows.push(row(w, 'consistency', 4, 25 + w), row(w, 'consistency', 2, 30 + w), row(w, 'consistency', 1, 35 + w));
    rows.push(row(w, 'consistency', 2, 99, 'stochastic'));
  }
  return {
    format: 'diffusion-distiller-eval/1',
    createdAt: '2026-12-07T00:00:00.000Z',
    backend: 'cpu',
    dataset: { kind: 'image' },
    samples: 100,
    w: [0, 2],
    reference: { steps: 64, nfe: 128 },
    real: { fidHalves: 3 },
    rows,
    notes: [],
    files: [],
    ...extra,
  };
}
const PARETO = {
  points: [
    { model: 'teacher', steps: 64, nfe: 128, w: 2, fid: 12 },
    { model: 'progressive', steps: 4, nfe: 4, w: 2, fid: 22 },
    { model: 'consistency', steps: 2, nfe: 2, w: 2, fid: 32 },
    { model: 'progressive', steps: 2, nfe: 2, w: 2, fid: 42 },
    { model: 'consistency', steps: 1, nfe: 1, w: 2, quality: 37 },
  ],
  front: [0, 1, 2, { nfe: 1, quality: 37 }],
};
const COST = [
  { method: 'progressive', steps: 2, flops: 2.5e12, seconds: 120 },
  { method: 'consistency', steps: 2, flops: 1.2e12 },
  { method: 'consistency', steps: 'two', flops: 1 },
];

// ─────────────────────────────────── Runs view ───────────────────────────────────
test('planned units come from the engine: progressive phases, then consistency students, 0-step stages left out', () => {
  assert.deepEqual(
    plannedUnits(BOTH).map((u) => [u.unit, u.stage, u.steps]),
    [
      ['teacher', 'teacher', 100],
      ['guided', 'guided', 50],
      ['progressive-8-4', 'progressive', 20],
      ['progressive-4-2', 'progressive', 20],
      ['consistency-4', 'consistency', 30],
      ['consistency-2', 'consistency', 30],
      ['consistency-1', 'consistency', 30],
    ],
  );
  assert.deepEqual(
    plannedUnits({ ...BOTH, methods: ['consistency'], consistency: { steps: 5 } }).map((u) => u.unit),
    ['teacher', 'guided', 'consistency-4', 'consistency-2', 'consistency-1'],
    "consistency alone, with the schema's default studentSteps",
  );
  assert.deepEqual(
    plannedUnits({ ...BOTH, consistency: { steps: 0 } }).map((u) => u.unit),
    ['teacher', 'guided', 'progressive-8-4', 'progressive-4-2'],
  );
  assert.deepEqual(
    plannedUnits({ methods: 'nonsense', progressive: { n0: 1 } }).map((u) => u.unit),
    ['teacher', 'guided'],
    'a malformed config.json plans no halvings it cannot finish',
  );
  assert.deepEqual(
    plannedStudents(BOTH).map((s) => `${s.method}:${s.steps}:${s.unit}`),
    [
      'progressive:4:progressive-8-4',
      'progressive:2:progressive-4-2',
      'consistency:4:consistency-4',
      'consistency:2:consistency-2',
      'consistency:1:consistency-1',
    ],
  );
  assert.equal(unitLabel('consistency-2'), 'consistency · 2 steps');
  assert.equal(unitLabel('consistency-1'), 'consistency · 1 step');
  assert.equal(unitLabel('progressive-8-4'), 'progressive 8→4');
});

test('the run tree shows consistency units with their progress and checkpoints after the progressive ones', () => {
  const runs = tmp();
  fixtureRun(
    runs,
    'both',
    BOTH,
    [
      ...trained('teacher', 'teacher', 100, 0.1),
      ...trained('guided', 'guided', 50, 0.1),
      ...trained('progressive-8-4', 'progressive', 20, 0.1),
      ...trained('progressive-4-2', 'progressive', 20, 0.1),
      ...trained('consistency-4', 'consistency', 30, 0.1),
      stageStart('consistency-2', 'consistency', 30),
      loss('consistency-2', 12, 0.2),
      { type: 'run_end', t: T0 + 99, status: 'stopped' } as RunEvent,
    ],
    {
      ckpts: [
        ['consistency-4', 30],
        ['consistency-2', 10],
      ],
    },
  );
  const [run] = buildRunTree(runs, {});
  assert.deepEqual(
    run.children.map((u) => [u.label, u.description, u.icon]),
    [
      ['teacher', 'done · 100 steps · loss 0.100', 'check'],
      ['guided', 'done · 50 steps · loss 0.100', 'check'],
      ['progressive 8→4', 'done · 20 steps · loss 0.100', 'check'],
      ['progressive 4→2', 'done · 20 steps · loss 0.100', 'check'],
      ['consistency · 4 steps', 'done · 30 steps · loss 0.100', 'check'],
      ['consistency · 2 steps', '12/30 · loss 0.200', 'debug-pause'],
      ['consistency · 1 step', 'pending · 30 steps', 'circle-large-outline'],
    ],
  );
  const c2 = run.children[5];
  assert.deepEqual(
    c2.children.map((c) => [c.label, c.checkpoint, c.command?.command]),
    [['step 10', path.join('checkpoints', 'consistency-2', stepFileName(10, 'ckpt')), 'distill.previewCheckpoint']],
  );
});

// ─────────────────────────────────── Preview ───────────────────────────────────
test('the preview offers every student of every method and samples the picked one as its own stage', () => {
  const runs = tmp();
  const events = [
    ...trained('teacher', 'teacher', 100, 0.1),
    ...trained('guided', 'guided', 50, 0.1),
    ...trained('progressive-8-4', 'progressive', 20, 0.1),
    ...trained('consistency-4', 'consistency', 30, 0.1),
    ...trained('consistency-2', 'consistency', 30, 0.1),
  ];
  const dir = fixtureRun(runs, 'both', BOTH, events, {
    ckpts: [
      ['teacher', 100],
      ['guided', 50],
      ['progressive-8-4', 20],
      ['consistency-4', 30],
      ['consistency-2', 15],
      ['consistency-2', 30],
    ],
  });
  const students = runStudents(dir, events);
  assert.deepEqual(
    students.map((s) => `${s.method} ${s.steps} ${s.unit} ${s.trained ? 'trained' : 'untrained'}`),
    [
      'consistency 1 consistency-1 untrained',
      'progressive 2 progressive-4-2 untrained',
      'consistency 2 consistency-2 trained',
      'progressive 4 progressive-8-4 trained',
      'consistency 4 consistency-4 trained',
    ],
  );
  // opened without a checkpoint: the newest student unit with one
  const d = previewDefaults(dir, events, undefined);
  assert.equal(d.stage, 'consistency');
  assert.equal(d.student, 'consistency-2');
  assert.equal(d.studentCheckpoint, path.join('checkpoints', 'consistency-2', stepFileName(30, 'ckpt')));
  const base = { runDir: dir, sampler: 'ddim' as const, w: [0, 2], classes: [0], perClass: 1, seed: 0 };
  // the picked student, sampled as stage 'consistency' from its own newest checkpoint
  assert.deepEqual(previewStudentSpec(dir, d, { studentSteps: 4, student: 'consistency-4' }, base), {
    ...base,
    stage: 'consistency',
    steps: 4,
    checkpoint: path.join('checkpoints', 'consistency-4', stepFileName(30, 'ckpt')),
  });
  assert.deepEqual(previewStudentSpec(dir, d, { studentSteps: 4, student: 'progressive-8-4' }, base), {
    ...base,
    stage: 'progressive',
    steps: 4,
    checkpoint: path.join('checkpoints', 'progressive-8-4', stepFileName(20, 'ckpt')),
  });
  assert.equal(previewStudentSpec(dir, d, { studentSteps: 1, student: 'consistency-1' }, base), undefined, 'untrained');
  assert.equal(previewStudentSpec(dir, d, { studentSteps: 1, student: 'elsewhere' }, base), undefined, 'not a student');
  // opened on an older checkpoint of consistency-2: that checkpoint, not the unit's newest
  const older = path.join('checkpoints', 'consistency-2', stepFileName(15, 'ckpt'));
  const d2 = previewDefaults(dir, events, older);
  assert.equal(d2.student, 'consistency-2');
  assert.equal(previewStudentSpec(dir, d2, { studentSteps: 2, student: 'consistency-2' }, base)?.checkpoint, older);
  // a request without a pick keeps the old behaviour: the defaults' student
  assert.deepEqual(previewStudentSpec(dir, d2, { studentSteps: 2 }, base), {
    ...base,
    stage: 'consistency',
    steps: 2,
    checkpoint: older,
  });
  // what the panel posts and receives passes the protocol
  assert.ok(
    asHostToWebview({
      type: 'init',
      view: 'preview',
      runDir: dir,
      stage: d.stage,
      classes: 10,
      wDefaults: [0, 2],
      students: d.students,
      student: d.student,
    }),
  );
  const req = {
    type: 'preview',
    requestId: 1,
    studentSteps: 2,
    student: 'consistency-2',
    teacherSteps: 64,
    sampler: 'ddim',
    w: [0, 2],
    classes: [0],
    seed: 0,
  };
  assert.ok(asWebviewToHost(req));
  assert.equal(
    (checkWebviewToHost({ ...req, student: 2 }) as { error: string }).error,
    'webview → host preview message: student: expected a string, got 2',
  );
  assert.equal(
    (
      checkHostToWebview({
        type: 'editInfo',
        size: 8,
        channels: 1,
        classNames: ['0'],
        teacherSteps: 8,
        studentSteps: [2],
        students: [{ unit: 'x-2', method: 'halving', steps: 2, trained: true }],
      }) as { error: string }
    ).error,
    'host → webview editInfo message: students[0].method: expected one of "progressive", "consistency", got "halving"',
  );
});

// ─────────────────────────────────── Report ───────────────────────────────────
test('the report shows each method at each step count in columns, with pareto and training cost when present', () => {
  const r = buildReportView(reportJson({ pareto: PARETO, trainingCost: COST }), () => []);
  assert.equal(r.studentSteps, 4, 'the headline student is still the 4-step progressive one');
  assert.deepEqual(
    r.rows.map((x) => [x.w, x.student, x.teacher, x.teacherFew]),
    [
      [0, 20, 10, 60],
      [2, 22, 12, 62],
    ],
  );
  assert.deepEqual(
    r.students.map((s) => [s.method, s.steps, s.nfe, s.quality]),
    [
      ['consistency', 1, 1, [35, 37]],
      ['progressive', 2, 2, [40, 42]],
      ['consistency', 2, 2, [30, 32]],
      ['progressive', 4, 4, [20, 22]],
      ['consistency', 4, 4, [25, 27]],
    ],
    'fewest steps first, progressive before consistency; DDIM rows only',
  );
  assert.deepEqual(
    r.pareto?.points.map((p) => [p.label, p.nfe, p.quality, p.front]),
    [
      ['teacher · 64 steps · w=2', 128, 12, true],
      ['progressive · 4 steps · w=2', 4, 22, true],
      ['consistency · 2 steps · w=2', 2, 32, true],
      ['progressive · 2 steps · w=2', 2, 42, false],
      ['consistency · 1 step · w=2', 1, 37, true],
    ],
  );
  // report.json's own shape: one w's points { model, steps, nfe, value } under `measure`, and the front's points
  const real = buildReportView(
    reportJson({
      pareto: {
        w: 2,
        measure: 'fid',
        points: [
          { model: 'teacher', steps: 64, nfe: 128, value: 12 },
          { model: 'progressive', steps: 2, nfe: 2, value: 42 },
          { model: 'consistency', steps: 2, nfe: 2, value: 32 },
        ],
        front: [
          { model: 'consistency', steps: 2, nfe: 2, value: 32 },
          { model: 'teacher', steps: 64, nfe: 128, value: 12 },
        ],
      },
    }),
    () => [],
  );
  assert.deepEqual(real.pareto, {
    w: 2,
    measure: 'fid',
    points: [
      { label: 'teacher · 64 steps · w=2', method: 'teacher', steps: 64, w: 2, nfe: 128, quality: 12, front: true },
      {
        label: 'progressive · 2 steps · w=2',
        method: 'progressive',
        steps: 2,
        w: 2,
        nfe: 2,
        quality: 42,
        front: false,
      },
      { label: 'consistency · 2 steps · w=2', method: 'consistency', steps: 2, w: 2, nfe: 2, quality: 32, front: true },
    ],
  });
  assert.deepEqual(r.trainingCost, [
    { method: 'progressive', steps: 2, flops: 2.5e12, seconds: 120 },
    { method: 'consistency', steps: 2, flops: 1.2e12 },
  ]);
  assert.ok(asHostToWebview({ type: 'report', runDir: '/r', evaluating: false, report: r }), 'the view passes');

  // an older report: no consistency rows, no pareto, no trainingCost — still readable
  const old = reportJson();
  old.rows = old.rows.filter((x) => x.model !== 'consistency');
  const o = buildReportView(old, () => []);
  assert.deepEqual(
    o.students.map((s) => [s.method, s.steps]),
    [
      ['progressive', 2],
      ['progressive', 4],
    ],
  );
  assert.equal(o.pareto, undefined);
  assert.equal(o.trainingCost, undefined);
  assert.ok(!('pareto' in o) && !('trainingCost' in o), 'absent, not undefined fields');
  assert.ok(asHostToWebview({ type: 'report', runDir: '/r', evaluating: false, report: o }));

  // consistency alone: it is the headline
  const only = reportJson();
  only.rows = only.rows.filter((x) => x.model !== 'progressive');
  assert.equal(buildReportView(only, () => []).studentSteps, 4);
  assert.equal(buildReportView(only, () => []).rows[0].student, 25);

  // unreadable pareto / cost entries are left out, not fatal
  assert.equal(parsePareto({ points: [{ nfe: -1, fid: 3 }, 'x'] }, 'image'), undefined);
  assert.equal(parsePareto('nope', 'image'), undefined);
  assert.equal(parseTrainingCost({ method: 'progressive' }), undefined);
  assert.throws(
    () => buildReportView(reportJson({ rows: [{ ...row(0, 'halving', 2, 1) }] }), () => []),
    /row 1 has an unknown model "halving"/,
  );
});

// ─────────────────────────────────── Compare ───────────────────────────────────
test('Compare of any runs: the fields they differ in, curves, every student grid and each method per report', () => {
  const runs = tmp();
  const a = fixtureRun(
    runs,
    'both',
    BOTH,
    [
      ...trained('teacher', 'teacher', 100, 0.3),
      ...trained('guided', 'guided', 50, 0.2),
      ...trained('progressive-8-4', 'progressive', 20, 0.1),
      ...trained('consistency-4', 'consistency', 30, 0.05),
    ],
    {
      grids: [
        ['progressive-8-4', 10],
        ['progressive-8-4', 20],
        ['consistency-4', 30],
        ['guided', 50],
      ],
    },
  );
  fs.mkdirSync(path.join(a, 'eval'));
  fs.writeFileSync(path.join(a, 'eval', 'report.json'), JSON.stringify(reportJson({ pareto: PARETO })));
  // a second run in a sweep-like folder of its own, with the same folder name as nothing else
  const b = fixtureRun(path.join(runs, 'elsewhere'), 'prog', PROGRESSIVE_ONLY, [
    ...trained('teacher', 'teacher', 100, 0.4),
    stageStart('guided', 'guided', 50),
    loss('guided', 25, 0.3),
    { type: 'run_end', t: T0 + 99, status: 'stopped' } as RunEvent,
  ]);
  const view = buildCompareView({ runDirs: [a, b, a] }, toUri);
  assert.ok(asHostToWebview({ type: 'compare', view }), 'the view passes the protocol');
  assert.equal(view.name, 'both, prog');
  assert.equal(view.sweepDir, undefined);
  assert.deepEqual(view.runDirs, [a, b]);
  assert.deepEqual(view.params, [
    'methods',
    'progressive.lr',
    'consistency.steps',
    'consistency.studentSteps',
    'consistency.teacherSteps',
  ]);
  assert.deepEqual(view.rows[0].params, {
    methods: '["progressive","consistency"]',
    'progressive.lr': 0.001,
    'consistency.steps': 30,
    'consistency.studentSteps': '[4,2,1]',
    'consistency.teacherSteps': 64,
  });
  assert.deepEqual(view.rows[1].params['consistency.steps'], null);
  assert.deepEqual(view.units, ['teacher', 'guided', 'progressive-8-4', 'consistency-4']);
  assert.deepEqual(view.rows[1].curves.guided, [[25, 0.3]]);
  assert.equal(view.rows[1].status, 'stopped');
  assert.equal(view.rows[1].unit, 'guided');
  assert.deepEqual(
    view.rows[0].students?.map((g) => [g.method, g.steps, g.unit, g.step]),
    [
      ['progressive', 4, 'progressive-8-4', 20],
      ['consistency', 4, 'consistency-4', 30],
    ],
  );
  assert.deepEqual(view.rows[0].grid?.unit, 'progressive-8-4');
  assert.equal(view.rows[1].students?.length, 0);
  assert.deepEqual(
    view.rows[0].quality?.students?.map((s) => [s.method, s.steps, s.quality]),
    [
      ['consistency', 1, [35, 37]],
      ['progressive', 2, [40, 42]],
      ['consistency', 2, [30, 32]],
      ['progressive', 4, [20, 22]],
      ['consistency', 4, [25, 27]],
    ],
  );
  assert.equal(view.rows[1].quality, undefined);
  assert.throws(
    () => buildCompareView({ runDirs: [path.join(runs, 'missing')] }, toUri),
    /no run folder to compare among .*missing \(a run folder has run\.json and config\.json\)/,
  );

  // two runs with the same folder name are told apart by their parent folder
  const twin = fixtureRun(path.join(runs, 'other'), 'both', { ...BOTH, seed: 1 }, []);
  const v2 = buildCompareView({ runDirs: [a, twin] }, toUri);
  assert.deepEqual(
    v2.rows.map((r) => r.name),
    [`${path.basename(runs)}/both`, 'other/both'],
  );
  assert.deepEqual(v2.params, ['seed']);

  // what a panel compares, as its identity and its saved state
  assert.equal(compareKey({ runDirs: [a, b] }), compareKey({ runDirs: [b, a, b] }));
  assert.notEqual(compareKey({ runDirs: [a, b] }), compareKey({ sweepDir: a }));
  assert.deepEqual(restorableSource({ runDirs: [a, b, path.join(runs, 'gone')] }), { source: { runDirs: [a, b] } });
  assert.deepEqual(restorableSource({ runDirs: [a] }), { why: 'fewer than two of its runs still exist' });
  assert.deepEqual(restorableSource({ sweepDir: a }), { why: `${a} is no longer a sweep folder` });
  assert.deepEqual(restorableSource(null), { why: 'no sweep or runs in the saved state' });
});

test('differing params: only fields whose values differ, lists as JSON, no names or file paths', () => {
  const { params, values } = differingParams([
    { name: 'a', data: { path: '/x', kind: 'mnist' }, guided: { lr: 1 }, methods: ['progressive'] },
    { name: 'b', data: { path: '/y', kind: 'mnist' }, guided: { lr: 2 }, methods: ['progressive', 'consistency'] },
  ]);
  assert.deepEqual(params, ['guided.lr', 'methods']);
  assert.equal(values[1].methods, '["progressive","consistency"]');
  assert.deepEqual(studentGrids(tmp(), toUri), []);
});

test("a config's stages for the pickers and the dashboard list each method it trains", () => {
  const dir = tmp();
  const file = path.join(dir, 'both.distill.json');
  const base = toyConfig(GAUSSIANS);
  fs.writeFileSync(
    file,
    JSON.stringify({ ...base, methods: ['progressive', 'consistency'], consistency: { steps: 10 } }),
  );
  const entry = describeConfig(file, 'both');
  assert.equal(entry.error, undefined);
  assert.deepEqual(entry.stages, ['teacher', 'guided', 'progressive', 'consistency']);
  fs.writeFileSync(file, JSON.stringify({ ...base, methods: ['consistency'], consistency: { steps: 10 } }));
  assert.deepEqual(describeConfig(file, 'c').stages, ['teacher', 'guided', 'consistency']);
});
