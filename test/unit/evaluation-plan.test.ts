/**
 * What an evaluation covers and costs before it starts (src/engine/tasks/evaluation-plan.ts), on a stored run folder:
 * the presets, the plan's rows, the network evaluations counted row by row, and seconds from the run's measured speed.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../src/engine/run/config';
import type { RunEvent } from '../../src/engine/run/events';
import { loadRunConfig, readDataInfoFile } from '../../src/engine/run/run-config';
import {
  DATA_EXACT_UNIT,
  EXACT_REFERENCE_STEPS,
  estimateEvaluation,
  evaluationPreset,
  planEvaluation,
} from '../../src/engine/tasks/evaluation-plan';

const RUN = path.join(__dirname, '..', 'fixtures', 'old-run', 'stopped-in-progressive');

describe('evaluation plan', () => {
  const cfg = loadRunConfig(RUN);
  const K = readDataInfoFile(RUN)!.numClasses;

  it('presets: quick is two w, a 64-step reference and the fewest samples the k-NN measures accept; full is the config', () => {
    assert.equal(K, 2);
    assert.deepEqual(evaluationPreset('quick', cfg, K), {
      w: [0, 2],
      samples: 200,
      teacherSteps: [64],
      studentSteps: cfg.eval.studentSteps,
    });
    assert.deepEqual(evaluationPreset('quick', cfg, 100).samples, 600);
    assert.deepEqual(evaluationPreset('full', cfg, K), {
      w: cfg.eval.w,
      samples: cfg.eval.samples,
      teacherSteps: cfg.eval.teacherSteps,
      studentSteps: cfg.eval.studentSteps,
    });
  });

  it('plans the teacher at the reference and at the students’ steps, the guided student and the 2-step student', () => {
    const plan = planEvaluation(RUN, cfg, { teacherSteps: [64], studentSteps: [2] });
    const rows = plan.configs.map((c) => `${c.unit} ${c.sampler} ${c.steps}:${c.nfe}`);
    assert.deepEqual(rows, [
      'teacher ddim 64:128',
      'teacher ddim 2:4',
      'guided ddim 64:64',
      'guided stochastic 64:64',
      'guided ddim 2:2',
      'guided stochastic 2:2',
      'progressive-4-2 ddim 2:2',
      'progressive-4-2 stochastic 2:2',
    ]);
    assert.equal(plan.reference.steps, 64);
    assert.ok(
      plan.notes.some((n) => /progressive-4-2: checkpoint .* is not final/.test(n)),
      plan.notes.join('\n'),
    );
  });

  it('counts network evaluations row by row and turns them into seconds with the run’s median ms per evaluation', () => {
    const choice = evaluationPreset('quick', cfg, K);
    const rowsNfe = 128 + 4 + 64 + 64 + 2 + 2 + 2 + 2;
    const unmeasured = estimateEvaluation(RUN, cfg, { ...choice, studentSteps: [2] }, [], K);
    assert.equal(unmeasured.nfe, 2 * 200 * rowsNfe);
    assert.equal(unmeasured.examples, 2 * 8 * 200);
    assert.equal(unmeasured.seconds, null);
    assert.equal(unmeasured.trainsJudge, false); // 2-D points are judged without a classifier
    const summary = (msPerNfe: number[]): RunEvent => ({
      type: 'summary',
      t: 0,
      rows: msPerNfe.map((ms, i) => ({
        model: 'm',
        steps: 4,
        nfe: 4 * (i + 1),
        msPerSample: ms * 4 * (i + 1),
        w: 0,
        metric: 'swd',
        value: 0,
      })),
    });
    const measured = estimateEvaluation(RUN, cfg, { ...choice, studentSteps: [2] }, [summary([0.5, 0.2, 9])], K);
    assert.ok(Math.abs(measured.seconds! - (0.5 * 2 * 200 * rowsNfe) / 1000) < 1e-9, String(measured.seconds));
    assert.match(measured.basis, /0\.500 ms per network evaluation/);
  });

  it('refuses bad choices with the option’s name', () => {
    assert.throws(() => estimateEvaluation(RUN, cfg, { samples: 1 }, [], K), /--samples: expected an integer ≥ 2/);
    assert.throws(() => estimateEvaluation(RUN, cfg, { samples: 8 }, [], K), /use --samples 12 or more/);
    assert.throws(
      () => estimateEvaluation(RUN, cfg, { teacherSteps: [0] }, [], K),
      /teacherSteps: expected a non-empty list of integers ≥ 1/,
    );
  });
});

/**
 * The stored run with both stage-2 methods: its config.json gains methods and a consistency section, and a
 * consistency-2 checkpoint (a copy of the progressive student's; consistency-4 has none yet).
 */
function bothMethodsRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-plan-'));
  fs.cpSync(RUN, dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const both = {
    ...raw,
    methods: ['progressive', 'consistency'],
    consistency: { studentSteps: [4, 2, 1], teacherSteps: 4, steps: 3, batch: 8 },
  };
  fs.writeFileSync(file, JSON.stringify(both));
  const ck = path.join(dir, 'checkpoints');
  fs.mkdirSync(path.join(ck, 'consistency-2'));
  fs.copyFileSync(
    path.join(ck, 'progressive-4-2', 'step-0000005.ckpt'),
    path.join(ck, 'consistency-2', 'step-0000005.ckpt'),
  );
  return dir;
}

describe('evaluation plan with both stage-2 methods', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('lists every student of both methods at the asked step counts, model = the method; notes what is missing', () => {
    const dir = bothMethodsRun();
    dirs.push(dir);
    const cfg = loadRunConfig(dir);
    const plan = planEvaluation(dir, cfg, { teacherSteps: [64], studentSteps: [1, 2, 4] });
    const students = plan.configs.filter((c) => c.model !== 'teacher' && c.model !== 'guided');
    assert.deepEqual(
      students.map((c) => `${c.model} ${c.unit} ${c.sampler} ${c.steps}:${c.nfe}`),
      [
        'progressive progressive-4-2 ddim 2:2',
        'progressive progressive-4-2 stochastic 2:2',
        'consistency consistency-2 ddim 2:2',
        'consistency consistency-2 stochastic 2:2',
      ],
    );
    // the teacher at the reference and at every student step count evaluated
    assert.deepEqual(
      plan.configs.filter((c) => c.model === 'teacher').map((c) => c.steps),
      [64, 2],
    );
    assert.ok(plan.checkpoints['consistency-2']);
    for (const re of [
      /^consistency-4 \(consistency 4-step student\) has no checkpoint yet: not evaluated$/,
      /^consistency-1 \(consistency 1-step student\) has no checkpoint yet: not evaluated$/,
      /^consistency-2: checkpoint .* is not final/,
    ])
      assert.ok(
        plan.notes.some((n) => re.test(n)),
        `${re}\n${plan.notes.join('\n')}`,
      );
    assert.equal(plan.exact, undefined, 'toy2d data: no exact teacher');

    // a step count left out is named per method
    const only4 = planEvaluation(dir, cfg, { teacherSteps: [64], studentSteps: [4] });
    assert.ok(
      only4.notes.includes('progressive students with 2 steps are not in eval.studentSteps (4): not evaluated'),
    );
    assert.ok(
      only4.notes.includes('consistency students with 2, 1 steps are not in eval.studentSteps (4): not evaluated'),
      only4.notes.join('\n'),
    );
  });

  it('the estimate counts both methods’ students', () => {
    const dir = bothMethodsRun();
    dirs.push(dir);
    const cfg = loadRunConfig(dir);
    const choice = { w: [0, 2], samples: 200, teacherSteps: [64], studentSteps: [2] };
    const rowsNfe = 128 + 4 + 64 + 64 + 2 + 2 + 2 + 2 + 2 + 2; // + consistency-2, DDIM and stochastic
    const est = estimateEvaluation(dir, cfg, choice, [], 2);
    assert.equal(est.nfe, 2 * 200 * rowsNfe);
    assert.equal(est.examples, 2 * 10 * 200);
  });

  it('mixture data beside a trained teacher: the exact teacher of the data is the reference of mseToExact, and costs two sets per w', () => {
    const dir = bothMethodsRun();
    dirs.push(dir);
    // the same run's config on 2-D mixture blobs (the plan reads the config and the checkpoints, not the data)
    const cfg = resolveConfig({ ...loadRunConfig(dir), data: { kind: 'mixture', preset: 'blobs', n: 512 } });
    assert.equal(cfg.teacher.kind, 'trained');
    const plan = planEvaluation(dir, cfg, { teacherSteps: [64], studentSteps: [2] });
    assert.deepEqual(plan.exact, {
      reference: {
        model: 'teacher',
        unit: DATA_EXACT_UNIT,
        sampler: 'ddim',
        steps: EXACT_REFERENCE_STEPS,
        nfe: 2 * EXACT_REFERENCE_STEPS,
      },
      fromData: true,
    });
    assert.ok(!plan.configs.some((c) => c.unit === DATA_EXACT_UNIT), 'the exact teacher is not a row');
    assert.ok(plan.notes.some((n) => /the trained teacher's own error included/.test(n)));
    const rowsNfe = 128 + 4 + 64 + 64 + 2 + 2 + 2 + 2 + 2 + 2;
    const est = estimateEvaluation(dir, cfg, { w: [0, 2], samples: 200, teacherSteps: [64], studentSteps: [2] }, [], 2);
    assert.equal(est.nfe, 2 * 200 * (rowsNfe + 2 * 2 * EXACT_REFERENCE_STEPS));
  });
});
