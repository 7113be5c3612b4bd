/**
 * Training cost (src/engine/train/training-cost.ts): each unit's FLOPs = steps × batch × passes × FLOPs per pass, with
 * the passes each stage's loss takes, and the cumulative stage-2 FLOPs to reach each few-step student.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/engine/run/config';
import { PASSES_PER_EXAMPLE, studentTrainingFlops, unitTrainingCosts } from '../../src/engine/train/training-cost';
import { toyConfig } from '../helpers/toy-config';

const F = 1000; // FLOPs of one forward pass on one example
const cfg = resolveConfig(
  toyConfig({
    teacher: { steps: 400, batch: 32 },
    guided: { steps: 20, batch: 16 },
    progressive: { n0: 8, targetSteps: 2, steps: 10, batch: 8 },
    methods: ['progressive', 'consistency'],
    consistency: { steps: 30, batch: 4, teacherSteps: 16, studentSteps: [4, 2, 1] },
  }),
);

describe('training cost', () => {
  it('passes per example: teacher 3, guided 2 + 3, progressive 2 + 3, consistency 1 + 1 + 3', () => {
    const total = (s: keyof typeof PASSES_PER_EXAMPLE) =>
      PASSES_PER_EXAMPLE[s].frozen + PASSES_PER_EXAMPLE[s].student + PASSES_PER_EXAMPLE[s].train;
    assert.deepEqual((['teacher', 'guided', 'progressive', 'consistency'] as const).map(total), [3, 5, 5, 5]);
    assert.deepEqual(PASSES_PER_EXAMPLE.consistency, { frozen: 1, student: 1, train: 3 });
  });

  it("each unit costs steps × batch × passes × FLOPs per pass, in the run's unit order", () => {
    assert.deepEqual(
      unitTrainingCosts(cfg, F).map((c) => [c.unit, c.flops]),
      [
        ['teacher', 400 * 32 * 3 * F],
        ['guided', 20 * 16 * 5 * F],
        ['progressive-8-4', 10 * 8 * 5 * F],
        ['progressive-4-2', 10 * 8 * 5 * F],
        ['consistency-4', 30 * 4 * 5 * F],
        ['consistency-2', 30 * 4 * 5 * F],
        ['consistency-1', 30 * 4 * 5 * F],
      ],
    );
  });

  it("a student costs its method's units down to its own; the teacher and stage 1 are not counted", () => {
    assert.equal(studentTrainingFlops(cfg, F, { method: 'progressive', steps: 4 }), 400 * F);
    assert.equal(studentTrainingFlops(cfg, F, { method: 'progressive', steps: 2 }), 800 * F);
    assert.equal(studentTrainingFlops(cfg, F, { method: 'consistency', steps: 4 }), 600 * F);
    assert.equal(studentTrainingFlops(cfg, F, { method: 'consistency', steps: 2 }), 1200 * F);
    assert.equal(studentTrainingFlops(cfg, F, { method: 'consistency', steps: 1 }), 1800 * F);
    assert.throws(
      () => studentTrainingFlops(cfg, F, { method: 'consistency', steps: 8 }),
      /no consistency student has 8 steps; available: 4, 2, 1/,
    );
    const progressiveOnly = resolveConfig(toyConfig());
    assert.throws(
      () => studentTrainingFlops(progressiveOnly, F, { method: 'consistency', steps: 1 }),
      /no consistency student has 1 steps; available: none/,
    );
  });

  it('an exact teacher is not trained and costs nothing', () => {
    const exact = resolveConfig({
      ...toyConfig({ teacher: { kind: 'exact' } }),
      data: { kind: 'mixture', preset: 'blobs' },
    });
    const costs = unitTrainingCosts(exact, F);
    assert.equal(costs[0].unit, 'teacher');
    assert.equal(costs[0].flops, 0);
    assert.ok(costs[1].flops > 0);
  });
});
