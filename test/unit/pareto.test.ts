/**
 * The Pareto front of quality against NFE (src/engine/eval/pareto.ts) on hand-made points: dominated points left out,
 * ties kept, non-finite values ignored; the per-w sets of report rows (DDIM only) and the w report.json keeps.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { paretoByW, paretoFront, paretoW } from '../../src/engine/eval/pareto';

const p = (model: string, steps: number, nfe: number, value: number) => ({ model, steps, nfe, value });
const names = (ps: { model: string; steps: number }[]) => ps.map((x) => `${x.model} ${x.steps}`);

describe('Pareto front', () => {
  it('keeps the points no other beats on both NFE and distance, cheapest first', () => {
    const points = [
      p('teacher', 256, 512, 10),
      p('teacher', 4, 8, 40), // dominated by progressive 4 (4 NFE, 20)
      p('progressive', 4, 4, 20),
      p('progressive', 1, 1, 60),
      p('consistency', 4, 4, 25), // dominated: same NFE, farther
      p('consistency', 2, 2, 22),
      p('guided', 64, 64, 12),
      p('guided', 128, 128, 12), // dominated: same distance, more NFE
    ];
    assert.deepEqual(names(paretoFront(points)), [
      'progressive 1',
      'consistency 2',
      'progressive 4',
      'guided 64',
      'teacher 256',
    ]);
  });

  it('ties (the same NFE and distance) dominate neither: both stay', () => {
    const front = paretoFront([p('progressive', 2, 2, 5), p('consistency', 2, 2, 5), p('teacher', 2, 4, 5)]);
    assert.deepEqual(names(front), ['consistency 2', 'progressive 2']);
  });

  it('one point is its own front; non-finite distances take no part; nothing gives nothing', () => {
    assert.deepEqual(names(paretoFront([p('teacher', 8, 16, 3)])), ['teacher 8']);
    assert.deepEqual(names(paretoFront([p('a', 1, 1, Number.NaN), p('b', 2, 2, 3), p('c', 4, 4, Infinity)])), ['b 2']);
    assert.deepEqual(paretoFront([]), []);
  });

  it('per w: the DDIM rows with a value as points, and their front; report.json keeps the w nearest 2', () => {
    const row = (w: number, model: string, sampler: string, steps: number, nfe: number, fid: number | null) => ({
      w,
      model,
      sampler,
      steps,
      nfe,
      fid,
    });
    const rows = [
      row(0, 'teacher', 'ddim', 8, 16, 3),
      row(0, 'progressive', 'ddim', 2, 2, 4),
      row(0, 'progressive', 'stochastic', 2, 2, 1), // not DDIM: not a point
      row(0, 'consistency', 'ddim', 2, 2, null), // no value: not a point
      row(2, 'teacher', 'ddim', 8, 16, 5),
      row(2, 'progressive', 'ddim', 2, 2, 6),
    ];
    const sets = paretoByW(rows, [0, 2], 'fid', (r) => r.fid);
    assert.deepEqual(
      sets.map((s) => [s.w, s.measure, names(s.points), names(s.front)]),
      [
        [0, 'fid', ['teacher 8', 'progressive 2'], ['progressive 2', 'teacher 8']],
        [2, 'fid', ['teacher 8', 'progressive 2'], ['progressive 2', 'teacher 8']],
      ],
    );
    assert.deepEqual(sets[0].front[0], { model: 'progressive', steps: 2, nfe: 2, value: 4 });
    assert.equal(paretoW([0, 1, 2, 4]), 2);
    assert.equal(paretoW([0, 1, 3]), 1); // 1 and 3 tie: the smaller
    assert.equal(paretoW([0]), 0);
  });
});
