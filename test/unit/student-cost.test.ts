/**
 * The report's training cost per student (src/engine/tasks/student-cost.ts): cumulative stage-2 FLOPs worked out by
 * hand for a small config with both methods, wall seconds from stage_end events only once a chain has finished,
 * and the line that says which method reaches a step count with fewer FLOPs.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/engine/run/config';
import type { RunEvent } from '../../src/engine/run/events';
import { cheaperMethod, studentTrainingCost } from '../../src/engine/tasks/student-cost';
import { toyConfig } from '../helpers/toy-config';

const cfg = resolveConfig(
  toyConfig({
    methods: ['progressive', 'consistency'],
    progressive: { n0: 8, targetSteps: 1, steps: 10, batch: 32 },
    consistency: { studentSteps: [4, 2, 1], teacherSteps: 8, steps: 6, batch: 16 },
  }),
);
const F = 1000; // forward FLOPs per example

describe('training cost per student', () => {
  it('sums steps × batch × passes × FLOPs over each method’s chain up to the student', () => {
    // progressive: 2 frozen passes + forward and backward (3) = 5 per example; 10 steps × 32 per unit
    const p = 10 * 32 * 5 * F;
    // consistency: 1 frozen pass + 1 stop-gradient student pass + 3 = 5 per example; 6 steps × 16 per unit
    const c = 6 * 16 * 5 * F;
    const cost = studentTrainingCost(cfg, [], F);
    assert.deepEqual(
      cost.map((x) => [x.method, x.steps, x.unit, x.flops]),
      [
        ['progressive', 4, 'progressive-8-4', p],
        ['progressive', 2, 'progressive-4-2', 2 * p],
        ['progressive', 1, 'progressive-2-1', 3 * p],
        ['consistency', 4, 'consistency-4', c],
        ['consistency', 2, 'consistency-2', 2 * c],
        ['consistency', 1, 'consistency-1', 3 * c],
      ],
    );
    assert.ok(
      cost.every((x) => x.seconds === undefined),
      'no events: no seconds',
    );
    assert.deepEqual(
      cheaperMethod(cost).map((x) => x.line),
      [
        '4 steps: consistency with 0.30× the FLOPs of progressive (4.80e+5 vs 1.60e+6)',
        '2 steps: consistency with 0.30× the FLOPs of progressive (9.60e+5 vs 3.20e+6)',
        '1 step: consistency with 0.30× the FLOPs of progressive (1.44e+6 vs 4.80e+6)',
      ],
    );
  });

  it('wall seconds: the chain’s stage_end seconds summed, only once every unit of it has finished', () => {
    const end = (unit: string, seconds: number): RunEvent => ({ type: 'stage_end', t: 0, unit, step: 1, seconds });
    const events = [
      end('teacher', 100),
      end('guided', 50),
      end('progressive-8-4', 3),
      end('progressive-4-2', 4),
      end('progressive-4-2', 0), // a resume of a finished unit ends it again at once
      end('consistency-4', 2),
    ];
    const cost = studentTrainingCost(cfg, events, F);
    assert.deepEqual(
      cost.map((x) => [x.unit, x.seconds]),
      [
        ['progressive-8-4', 3],
        ['progressive-4-2', 7],
        ['progressive-2-1', undefined],
        ['consistency-4', 2],
        ['consistency-2', undefined],
        ['consistency-1', undefined],
      ],
    );
  });

  it('one method: every student, and no method to compare with', () => {
    const one = resolveConfig(toyConfig({ progressive: { n0: 4, targetSteps: 1, steps: 3, batch: 8 } }));
    const cost = studentTrainingCost(one, [], 10);
    assert.deepEqual(
      cost.map((x) => [x.unit, x.flops]),
      [
        ['progressive-4-2', 3 * 8 * 5 * 10],
        ['progressive-2-1', 2 * 3 * 8 * 5 * 10],
      ],
    );
    assert.deepEqual(cheaperMethod(cost), []);
  });
});
