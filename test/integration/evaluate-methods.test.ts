/**
 * `distill eval` on a run with both stage-2 methods and a trained teacher on mixture data (2-D blobs, wasm, one
 * thread): the consistency student (here a copy of the progressive student's final checkpoint under
 * checkpoints/consistency-2/, the config gaining methods and a consistency section, which keeps the run's hash) is
 * evaluated beside the progressive ones with model "consistency"; every row — the trained teacher's too — is measured
 * against the exact teacher of the data's mixture at 1,024 steps, with the exact-vs-exact floor; the Pareto front,
 * the training cost per method and the report text name methods, steps and NFE. No tensor leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRun, ensureBackend, evaluateRun, runStages } from '../../src/engine';
import type { EvalReport } from '../../src/engine';
import { loadDataset } from '../../src/engine/data';
import { loadRunConfig } from '../../src/engine/run/run-config';
import { listCheckpoints } from '../../src/engine/run/run-folder';
import { evaluateQuick } from '../../src/engine/tasks/quick-eval';
import { EXACT_REFERENCE_STEPS } from '../../src/engine/tasks/evaluation-plan';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-eval-methods-'));
let runDir = '';
let rep: EvalReport;
let md = '';
let headline = '';

before(async () => {
  await ensureBackend('wasm', 1);
  const file = path.join(tmp, 'blobs.distill.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      name: 'blobs',
      seed: 4,
      backend: 'wasm',
      threads: 1,
      data: { kind: 'mixture', preset: 'blobs', n: 1024 },
      model: { kind: 'mlp', hidden: 32, depth: 2, embedDim: 16 },
      teacher: { steps: 150, batch: 64, lr: 0.003, warmup: 10, ema: 0.9 },
      guided: { steps: 12, batch: 32, lr: 0.002 },
      progressive: { n0: 4, targetSteps: 1, steps: 6, batch: 32, lr: 0.001 },
      sampling: { interval: 0, teacherSteps: 8, perClass: 2 },
      checkpoint: { interval: 1000, keep: 1 },
      log: { interval: 10 },
    }),
  );
  runDir = await createRun({ configPath: file, runsDir: tmp, name: 'blobs' });
  assert.equal(await runStages({ runDir, summary: false }), 'finished');
  // the consistency method added to the finished run: its 2-step student is the progressive one's copy
  const cfgFile = path.join(runDir, 'config.json');
  const raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  raw.methods = ['progressive', 'consistency'];
  raw.consistency = { studentSteps: [2], teacherSteps: 8, steps: 5, batch: 16 };
  fs.writeFileSync(cfgFile, JSON.stringify(raw));
  const ck = listCheckpoints(runDir, 'progressive-4-2').pop()!;
  fs.mkdirSync(path.join(runDir, 'checkpoints', 'consistency-2'), { recursive: true });
  fs.copyFileSync(
    path.join(runDir, ck.file),
    path.join(runDir, 'checkpoints', 'consistency-2', path.basename(ck.file)),
  );
  const tensors = tf.memory().numTensors;
  const r = await evaluateRun({
    runDir,
    out: path.join(tmp, 'eval'),
    w: [0, 2],
    samples: 48,
    teacherSteps: [8],
    studentSteps: [1, 2],
  });
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leak');
  rep = r.data;
  md = fs.readFileSync(r.report, 'utf8');
  headline = r.summary;
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a trained teacher on mixture data, both stage-2 methods', () => {
  it('rows for every student of both methods, the consistency student with model "consistency"', () => {
    const at0 = rep.rows.filter((r) => r.w === 0).map((r) => `${r.model} ${r.unit} ${r.sampler} ${r.steps}`);
    assert.deepEqual(at0, [
      'teacher teacher ddim 8',
      'teacher teacher ddim 2',
      'teacher teacher ddim 1',
      'guided guided ddim 8',
      'guided guided stochastic 8',
      'guided guided ddim 2',
      'guided guided stochastic 2',
      'guided guided ddim 1',
      'progressive progressive-4-2 ddim 2',
      'progressive progressive-4-2 stochastic 2',
      'progressive progressive-2-1 ddim 1',
      'consistency consistency-2 ddim 2',
      'consistency consistency-2 stochastic 2',
    ]);
    // the same weights and the same noise: the copied student's rows are the progressive student's
    const p = rep.rows.find((r) => r.w === 2 && r.unit === 'progressive-4-2' && r.sampler === 'ddim')!;
    const c = rep.rows.find((r) => r.w === 2 && r.unit === 'consistency-2' && r.sampler === 'ddim')!;
    assert.equal(c.swdReal, p.swdReal);
    assert.equal(c.mseToExact, p.mseToExact);
  });

  it("every row's distance to the data's exact teacher, the trained teacher's own error included, and the floor", () => {
    assert.equal(rep.exact!.source, 'data');
    assert.equal(rep.exact!.referenceSteps, EXACT_REFERENCE_STEPS);
    assert.equal(rep.reference.unit, 'teacher');
    assert.equal(rep.reference.steps, 8, 'the trained teacher stays the reference of the other measures');
    for (const r of rep.rows) assert.ok(r.mseToExact! > 0 && Number.isFinite(r.mseToExact!), JSON.stringify(r));
    for (const w of [0, 2]) {
      const t8 = rep.rows.find((r) => r.w === w && r.model === 'teacher' && r.steps === 8)!;
      const t1 = rep.rows.find((r) => r.w === w && r.model === 'teacher' && r.steps === 1)!;
      // more DDIM steps of the trained teacher: closer to the exact samples from the same noise
      assert.ok(t8.mseToExact! < t1.mseToExact!, `w=${w}: 8 steps ${t8.mseToExact} vs 1 step ${t1.mseToExact}`);
    }
    assert.deepEqual(
      rep.exact!.floor.map((f) => f.w),
      [0, 2],
    );
    for (const f of rep.exact!.floor) assert.ok(f.swd! > 0 && f.swd! < 0.5 && f.fid === null, JSON.stringify(f));
    // every row's distribution distance to an independent set of exact samples, the measure the floor is the least of
    for (const r of rep.rows) assert.ok(r.distToExact! > 0 && Number.isFinite(r.distToExact!), JSON.stringify(r));
    assert.match(md, /## Distance to the exact teacher \(1024 DDIM steps\)/);
    assert.match(md, /the exact teacher is the data's known mixture/);
    assert.match(md, /\| 0 \| trained teacher \| 8 \| 16 \| [\d.]+ \|/);
    assert.match(md, /\| 2 \| consistency student \(consistency-2\) \| 2 \| 2 \| [\d.]+ \|/);
  });

  it('the Pareto front of MSE to exact against NFE, at w = 2 in pareto and at every w in paretoByW', () => {
    assert.equal(rep.pareto!.w, 2);
    assert.equal(rep.pareto!.measure, 'mseToExact');
    assert.deepEqual(
      rep.paretoByW!.map((s) => s.w),
      [0, 2],
    );
    for (const set of rep.paretoByW!) {
      const ddim = rep.rows.filter((r) => r.w === set.w && r.sampler === 'ddim');
      assert.equal(set.points.length, ddim.length);
      for (const p of set.points) {
        const row = ddim.find((r) => r.model === p.model && r.steps === p.steps)!;
        assert.equal(p.nfe, row.nfe);
        assert.equal(p.value, row.mseToExact);
      }
      // nothing on the front is beaten on both NFE and distance by any point
      for (const f of set.front)
        assert.ok(!set.points.some((p) => p.nfe <= f.nfe && p.value < f.value), JSON.stringify(f));
      // the cheapest point is always on it
      const cheapest = Math.min(...set.points.map((p) => p.nfe));
      assert.equal(set.front[0].nfe, cheapest);
    }
    assert.ok(fs.existsSync(path.join(tmp, 'eval', 'quality-vs-nfe.png')));
    assert.match(md, /## Quality vs NFE: the Pareto front \(MSE to exact, DDIM\)/);
  });

  it('the training cost per method: progressive FLOPs and seconds from the run, consistency FLOPs by its config', () => {
    const cost = rep.trainingCost!;
    assert.deepEqual(
      cost.map((c) => `${c.method} ${c.steps} ${c.unit}`),
      ['progressive 2 progressive-4-2', 'progressive 1 progressive-2-1', 'consistency 2 consistency-2'],
    );
    const unit = cost[0].flops / (6 * 32 * 5);
    assert.ok(unit > 0 && Number.isInteger(unit), `forward FLOPs per example ${unit}`);
    assert.equal(cost[1].flops, 2 * cost[0].flops);
    assert.equal(cost[2].flops, 5 * 16 * 5 * unit);
    assert.ok(cost[0].seconds! > 0 && cost[1].seconds! > cost[0].seconds!);
    assert.equal(cost[2].seconds, undefined, 'the copied consistency student never trained');
    assert.match(md, /- 2 steps: consistency with 0\.42× the FLOPs of progressive/);
  });

  it('the students table and the headline name each method, its steps and NFE', () => {
    assert.match(md, /\| 0 \| progressive \| 2 \| 2 \|/);
    assert.match(md, /\| 0 \| consistency \| 2 \| 2 \|/);
    assert.match(md, /\| 2 \| progressive \| 1 \| 1 \|/);
    assert.match(
      headline,
      /^blobs: students vs the 8-step teacher \(16 NFE\) — progressive 1 step \(1 NFE\): w=0: SWD [\d.]+ vs [\d.]+, recall .*MSE to exact [\d.]+; w=2: .* \| consistency 2 steps \(2 NFE\): w=0: /,
    );
  });

  it('the end-of-run table: a row per w for the teacher, its fewest-step DDIM and every finished student of both methods', async () => {
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const tensors = tf.memory().numTensors;
    const { rows } = await evaluateQuick({ runDir, cfg, data, log: () => {} });
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leak');
    assert.deepEqual(
      rows.map((r) => `${r.w} ${r.model} ${r.steps} ${r.nfe}`),
      [0, 2].flatMap((w) => [
        `${w} teacher 8 16`,
        `${w} teacher 1 2`,
        `${w} progressive 2 2`,
        `${w} progressive 1 1`,
        `${w} consistency 2 2`,
      ]),
    );
    for (const r of rows) assert.ok(r.metric === 'swd' && r.value > 0 && r.msPerSample > 0, JSON.stringify(r));
    // the copy of the progressive 2-step student samples exactly what it does
    const p = rows.find((r) => r.w === 2 && r.model === 'progressive' && r.steps === 2)!;
    const c = rows.find((r) => r.w === 2 && r.model === 'consistency')!;
    assert.equal(c.value, p.value);
  });
});
