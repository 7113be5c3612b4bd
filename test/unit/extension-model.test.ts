// The extension's logic without VS Code: event tailing, status texts, run-explorer model, node runtime choice.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EventTail } from '../../src/extension/model/event-tail';
import {
  etaSeconds,
  formatDuration,
  runDescription,
  statusBarText,
  unitLabel,
  lastLines,
} from '../../src/extension/model/format';
import { buildRunTree } from '../../src/extension/model/build-run-tree';
import { plannedUnits } from '../../src/extension/model/run-nodes';
import { findOnPath, nodeVersionProblem, readNodeVersion, resolveNodeRuntime } from '../../src/extension/model/runtime';
import { closeDeadRun } from '../../src/extension/model/manager';
import { summarizeEvents, RunEvent } from '../../src/engine/run/events';
import { describeRun, stepFileName } from '../../src/engine/run/run-folder';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distill-ext-'));
}

const T0 = 1_700_000_000_000;
const ev = {
  start: (t = T0): RunEvent => ({
    type: 'run_start',
    t,
    pid: 999999,
    host: os.hostname(),
    resumed: false,
    configHash: 'h',
  }),
  stage: (
    unit: string,
    stage: 'autoencoder' | 'teacher' | 'guided' | 'progressive',
    totalSteps: number,
    t = T0 + 1,
  ): RunEvent => ({
    type: 'stage_start',
    t,
    stage,
    unit,
    totalSteps,
    startStep: 0,
  }),
  loss: (unit: string, step: number, rate: number): RunEvent => ({
    type: 'loss',
    t: T0 + 2 + step,
    unit,
    step,
    loss: 0.5,
    lr: 1e-3,
    rate,
  }),
  ckpt: (unit: string, step: number, final = false): RunEvent => ({
    type: 'checkpoint',
    t: T0 + 3 + step,
    unit,
    step,
    file: path.join('checkpoints', unit, stepFileName(step, 'ckpt')),
    final,
  }),
  end: (unit: string, step: number): RunEvent => ({ type: 'stage_end', t: T0 + 4 + step, unit, step, seconds: 1 }),
  runEnd: (status: 'finished' | 'stopped' | 'failed'): RunEvent => ({ type: 'run_end', t: T0 + 10_000, status }),
};

/** A fixture run folder: config.json, run.json, events.jsonl and checkpoint files on disk. */
function fixtureRun(
  runsDir: string,
  name: string,
  events: RunEvent[],
  opts: { createdAt?: number; ckpts?: [string, number][]; config?: object } = {},
): string {
  const dir = path.join(runsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(
      opts.config ?? {
        teacher: { steps: 100 },
        guided: { steps: 50 },
        progressive: { steps: 20, n0: 8, targetSteps: 2 },
      },
    ),
  );
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ name, createdAt: opts.createdAt ?? T0, configHash: 'h', version: '0.1.0' }),
  );
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  for (const [unit, step] of opts.ckpts ?? []) {
    fs.mkdirSync(path.join(dir, 'checkpoints', unit), { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoints', unit, stepFileName(step, 'ckpt')), 'x');
  }
  return dir;
}

test('EventTail returns only new events and holds back a torn last line', () => {
  const dir = tmp();
  const file = path.join(dir, 'events.jsonl');
  const t = EventTail.ofRun(dir);
  assert.deepEqual(t.read().events, [], 'no file yet');
  const a = ev.start();
  const b = ev.stage('teacher', 'teacher', 100);
  fs.writeFileSync(file, JSON.stringify(a) + '\n' + JSON.stringify(b).slice(0, 20));
  assert.deepEqual(t.read().events, [a]);
  assert.deepEqual(t.read().events, [], 'nothing new');
  fs.appendFileSync(file, JSON.stringify(b).slice(20) + '\n');
  assert.deepEqual(t.read().events, [b], 'the completed line arrives whole');
  fs.appendFileSync(file, 'not json\n{"type":"loss","t":1}\n' + JSON.stringify(ev.loss('teacher', 10, 2)) + '\n');
  assert.deepEqual(t.read().events, [ev.loss('teacher', 10, 2)]);
  assert.equal(t.skipped, 2, 'malformed and invalid lines are counted');
  // Multi-byte characters split across reads.
  const e: RunEvent = { type: 'error', t: 5, message: 'λ_t → ∅ failed' };
  const bytes = Buffer.from(JSON.stringify(e) + '\n');
  fs.appendFileSync(file, bytes.subarray(0, 12));
  assert.deepEqual(t.read().events, []);
  fs.appendFileSync(file, bytes.subarray(12));
  assert.deepEqual(t.read().events, [e]);
  // A replaced (shorter) file is read from the start.
  fs.writeFileSync(file, JSON.stringify(a) + '\n');
  assert.deepEqual(t.read(), { events: [a], skipped: 0, reset: true });
  assert.equal(t.position, Buffer.byteLength(JSON.stringify(a) + '\n'));
});

test('EventTail.skipToEnd starts after the last complete line; a missing file stays at 0', () => {
  const dir = tmp();
  const file = path.join(dir, 'events.jsonl');
  const t = EventTail.ofRun(dir);
  t.skipToEnd();
  assert.equal(t.position, 0, 'no file yet');
  const a = ev.start();
  const b = ev.stage('teacher', 'teacher', 100);
  fs.writeFileSync(file, JSON.stringify(a) + '\n' + JSON.stringify(b).slice(0, 10));
  t.skipToEnd();
  assert.equal(t.position, Buffer.byteLength(JSON.stringify(a) + '\n'));
  fs.appendFileSync(file, JSON.stringify(b).slice(10) + '\n');
  assert.deepEqual(t.read(), { events: [b], skipped: 0, reset: false }, 'the torn line is read once complete');
  // One line without a newline at all: nothing is complete, position stays at the start.
  fs.writeFileSync(file, JSON.stringify(a));
  const u = EventTail.ofRun(dir);
  u.skipToEnd();
  assert.equal(u.position, 0);
});

test('status texts: unit labels, durations, ETA from the loss rate', () => {
  assert.equal(unitLabel('progressive-64-32'), 'progressive 64→32');
  assert.equal(unitLabel('guided'), 'guided');
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(120), '2m');
  assert.equal(formatDuration(3900), '1h 05m');
  assert.equal(formatDuration(90_000), '1d 1h');
  const s = summarizeEvents([ev.start(), ev.stage('guided', 'guided', 1000), ev.loss('guided', 340, 5.5)], true);
  assert.equal(etaSeconds(s), 120);
  assert.equal(statusBarText(s), '$(sync~spin) Distill: guided 340/1000 · ETA 2m');
  assert.equal(statusBarText(s, 1), '$(sync~spin) Distill: guided 340/1000 · ETA 2m (+1)');
  assert.equal(etaSeconds({ step: 1, totalSteps: 10, rate: 0 }), undefined);
  assert.equal(statusBarText(summarizeEvents([ev.start()], true)), '$(sync~spin) Distill: starting…');
  assert.equal(runDescription(s), 'guided · 340/1000');
  const stopped = summarizeEvents(
    [ev.start(), ev.stage('guided', 'guided', 1000), ev.loss('guided', 340, 5.5), ev.runEnd('stopped')],
    false,
  );
  assert.equal(runDescription(stopped), 'stopped · guided · 340/1000');
  assert.deepEqual(lastLines('a\n\nb\r\nc\n', 2), ['b', 'c']);
});

test('planned units follow the resolved config: teacher, guided, progressive halvings', () => {
  assert.deepEqual(
    plannedUnits({
      teacher: { steps: 100 },
      guided: { steps: 0 },
      progressive: { steps: 20, n0: 16, targetSteps: 2 },
    }).map((u) => u.unit),
    ['teacher', 'progressive-16-8', 'progressive-8-4', 'progressive-4-2'],
  );
  assert.deepEqual(
    plannedUnits({ teacher: { steps: 0 }, guided: { steps: 5 }, progressive: { steps: 0 } }).map((u) => u.unit),
    ['guided'],
  );
});

test('run tree from fixture run folders: status icons, descriptions, units, checkpoints on disk', () => {
  const runs = tmp();
  fixtureRun(
    runs,
    'finished-run',
    [
      ev.start(),
      ev.stage('teacher', 'teacher', 100),
      ev.loss('teacher', 100, 3),
      ev.ckpt('teacher', 50),
      ev.ckpt('teacher', 100, true),
      ev.end('teacher', 100),
      ev.stage('guided', 'guided', 50),
      ev.ckpt('guided', 50, true),
      ev.end('guided', 50),
      ev.stage('progressive-8-4', 'progressive', 20),
      ev.end('progressive-8-4', 20),
      ev.stage('progressive-4-2', 'progressive', 20),
      ev.end('progressive-4-2', 20),
      ev.runEnd('finished'),
    ],
    // teacher step 50 was deleted by retention: only what is on disk shows.
    {
      createdAt: T0,
      ckpts: [
        ['teacher', 100],
        ['guided', 50],
      ],
    },
  );
  // A run whose writer died (its lock names a dead pid, no run_end): failed.
  const crashed = fixtureRun(
    runs,
    'crashed-run',
    [ev.start(), ev.stage('teacher', 'teacher', 100), ev.loss('teacher', 40, 2)],
    {
      createdAt: T0 + 1000,
      ckpts: [['teacher', 20]],
    },
  );
  fs.writeFileSync(path.join(crashed, 'run.lock'), JSON.stringify({ pid: 999999, host: os.hostname(), startedAt: T0 }));
  // A run held by a live process (this test): running.
  const live = fixtureRun(
    runs,
    'live-run',
    [ev.start(), ev.stage('guided', 'guided', 1000), ev.loss('guided', 340, 5.5)],
    { createdAt: T0 + 2000 },
  );
  fs.writeFileSync(
    path.join(live, 'run.lock'),
    JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: T0 }),
  );
  fs.mkdirSync(path.join(runs, 'not-a-run'));

  const tree = buildRunTree(runs, { isActive: (d) => d === live });
  assert.deepEqual(
    tree.map((n) => n.label),
    ['live-run', 'crashed-run', 'finished-run'],
    'newest first, only run folders',
  );
  const [l, c, f] = tree;
  assert.equal(l.contextValue, 'run.running');
  assert.equal(l.icon, 'sync~spin');
  assert.equal(l.description, 'guided · 340/1000');
  assert.match(l.tooltip, /driven by this window/);
  assert.equal(c.contextValue, 'run.failed');
  assert.equal(c.icon, 'error');
  assert.match(c.tooltip, /ended without closing the run/);
  assert.equal(f.contextValue, 'run.finished');
  assert.equal(f.icon, 'pass-filled');
  assert.deepEqual(f.command, { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [f.runDir] });
  assert.deepEqual(
    f.children.map((u) => u.label),
    ['teacher', 'guided', 'progressive 8→4', 'progressive 4→2'],
  );
  assert.match(f.children[0].description!, /^done · 100 steps/);
  const teacherCkpts = f.children[0].children;
  assert.deepEqual(
    teacherCkpts.map((n) => [n.label, n.description]),
    [['step 100', 'final']],
  );
  assert.equal(teacherCkpts[0].contextValue, 'checkpoint');
  assert.deepEqual(teacherCkpts[0].command!.arguments, [
    f.runDir,
    path.join('checkpoints', 'teacher', 'step-0000100.ckpt'),
  ]);
  // The crashed run lists the units still to come as pending.
  assert.deepEqual(
    c.children.map((u) => [u.label, u.description]),
    [
      ['teacher', '40/100 · loss 0.500'],
      ['guided', 'pending · 50 steps'],
      ['progressive 8→4', 'pending · 20 steps'],
      ['progressive 4→2', 'pending · 20 steps'],
    ],
  );
  assert.deepEqual(
    c.children[0].children.map((n) => n.label),
    ['step 20'],
  );
});

test('a latent-space run lists its autoencoder first; its checkpoints explain themselves instead of opening a sample preview', () => {
  const runs = tmp();
  const config = {
    model: { kind: 'unet', space: 'latent' },
    autoencoder: { steps: 60 },
    teacher: { steps: 100 },
    guided: { steps: 50 },
    progressive: { steps: 20, n0: 4, targetSteps: 2 },
  };
  assert.deepEqual(
    plannedUnits(config).map((u) => [u.unit, u.steps]),
    [
      ['autoencoder', 60],
      ['teacher', 100],
      ['guided', 50],
      ['progressive-4-2', 20],
    ],
  );
  fixtureRun(
    runs,
    'latent-run',
    [
      ev.start(),
      ev.stage('autoencoder', 'autoencoder', 60),
      ev.ckpt('autoencoder', 60, true),
      ev.end('autoencoder', 60),
      ev.stage('teacher', 'teacher', 100),
      ev.loss('teacher', 30, 2),
      ev.runEnd('stopped'),
    ],
    {
      config,
      ckpts: [
        ['autoencoder', 60],
        ['teacher', 30],
      ],
    },
  );
  const [run] = buildRunTree(runs, { isActive: () => false });
  assert.deepEqual(
    run.children.map((u) => u.label),
    ['autoencoder', 'teacher', 'guided', 'progressive 4→2'],
  );
  const [ae] = run.children[0].children;
  assert.equal(ae.label, 'step 60');
  assert.equal(ae.command, undefined);
  assert.match(ae.tooltip, /autoencoder of this latent-space run; its reconstructions are in samples\/autoencoder\//);
  assert.equal(run.children[1].children[0].command!.command, 'distill.previewCheckpoint');
});

test('closeDeadRun closes a run whose writer died, once, and never a live one', () => {
  const runs = tmp();
  const dead = fixtureRun(runs, 'dead', [ev.start(), ev.stage('teacher', 'teacher', 100)]);
  fs.writeFileSync(path.join(dead, 'run.lock'), JSON.stringify({ pid: 999999, host: os.hostname(), startedAt: T0 }));
  assert.equal(closeDeadRun(dead, 'worker killed by SIGKILL'), true);
  const d = describeRun(dead);
  assert.equal(d.summary.status, 'failed');
  assert.equal(d.summary.lastError, 'worker killed by SIGKILL');
  assert.equal(fs.existsSync(path.join(dead, 'run.lock')), false, 'the stale lock is gone');
  assert.equal(closeDeadRun(dead, 'again'), false, 'already closed');
  const live = fixtureRun(runs, 'live', [ev.start()]);
  fs.writeFileSync(
    path.join(live, 'run.lock'),
    JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: T0 }),
  );
  assert.equal(closeDeadRun(live, 'x'), false);
  assert.equal(describeRun(live).summary.status, 'running');
});

test('node runtime: setting, then node on PATH, then the editor runtime as node', () => {
  const bin = tmp();
  const node = path.join(bin, process.platform === 'win32' ? 'node.exe' : 'node');
  fs.writeFileSync(node, '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(findOnPath(['/nonexistent', bin].join(path.delimiter)), node);
  assert.deepEqual(
    resolveNodeRuntime('', { PATH: bin }, '/opt/editor/code', { electron: '30' } as unknown as NodeJS.ProcessVersions),
    {
      nodePath: node,
      electron: false,
      source: 'PATH',
    },
  );
  assert.deepEqual(
    resolveNodeRuntime(undefined, { PATH: '/nonexistent' }, '/opt/editor/code', {
      electron: '30',
    } as unknown as NodeJS.ProcessVersions),
    {
      nodePath: '/opt/editor/code',
      electron: true,
      source: 'editor',
    },
  );
  assert.deepEqual(resolveNodeRuntime(node, {}, '/x'), { nodePath: node, electron: false, source: 'setting' });
  assert.throws(() => resolveNodeRuntime('/nonexistent/node', {}), /distill.nodePath/);
});

test('node version check: the version found and the setting to change when it is older than 20', async () => {
  const bin = tmp();
  const old = path.join(bin, 'node18');
  fs.writeFileSync(old, '#!/bin/sh\necho v18.19.1\n', { mode: 0o755 });
  const fromSetting = resolveNodeRuntime(old);
  const version = await readNodeVersion(fromSetting);
  assert.equal(version, '18.19.1');
  const msg = nodeVersionProblem(fromSetting, version);
  assert.ok(msg);
  assert.match(msg, /version 18\.19\.1/);
  assert.match(msg, /distill\.nodePath/);
  assert.ok(msg.includes(old), 'names the executable');
  assert.doesNotMatch(msg, /PATH/);
  const onPath = { nodePath: old, electron: false, source: 'PATH' as const };
  assert.match(nodeVersionProblem(onPath, '19.9.0')!, /first node on PATH.*version 19\.9\.0.*or put one first on PATH/);
  assert.equal(nodeVersionProblem(onPath, '20.0.0'), undefined);
  assert.equal(nodeVersionProblem(onPath, 'v22.3.0'.slice(1)), undefined);
  assert.match(nodeVersionProblem(onPath, 'garbage')!, /printed "garbage" instead of a version/);
  // the editor's own runtime is known without starting a process
  const editor = resolveNodeRuntime(undefined, { PATH: '' });
  assert.equal(await readNodeVersion(editor), process.versions.node);
  // an executable that fails is reported with its path
  const broken = path.join(bin, 'broken');
  fs.writeFileSync(broken, '#!/bin/sh\necho nope >&2\nexit 3\n', { mode: 0o755 });
  await assert.rejects(readNodeVersion(resolveNodeRuntime(broken)), /broken -p process\.versions\.node failed: nope/);
});
