/**
 * What an evaluation covers and costs before it starts (src/engine/tasks/evaluation-plan.ts), on a stored run folder:
 * the presets, the plan's rows, the network evaluations counted row by row, and seconds from the run's measured speed.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../src/engine/run/events';
import { loadRunConfig, readDataInfoFile } from '../../src/engine/run/run-config';
import { estimateEvaluation, evaluationPreset, planEvaluation } from '../../src/engine/tasks/evaluation-plan';

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
