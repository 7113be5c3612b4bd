/**
 * The diversity-sensitive measures of `distill eval` (eval/metrics.ts, eval/scores.ts, the judge's feature space in
 * eval/classifier.ts):
 *  - k-NN precision / recall / density / coverage on point sets whose answer is known (same distribution; half the
 *    modes dropped; samples off the data), k-means, and the real-data floor at a matched size;
 *  - the report's ranking on constructed samples of real digits: real held-out-like digits vs the same kind of digits
 *    with half the modes of every class removed (modes = k-means clusters in pixel space, so the construction does not
 *    depend on the judge). The mode-dropped set must score worse on FID, recall and coverage while accuracy stays
 *    equal: the failure an accuracy-only report cannot see.
 * Deterministic (seeded), wasm backend on one thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { ensureBackend } from '../../src/engine';
import { Dataset, loadDataset, sampleBatch } from '../../src/engine/data';
import { Classifier, trainClassifier } from '../../src/engine/eval/classifier';
import {
  classConditionalManifold,
  frechetDistance,
  kMeans,
  manifoldMetrics,
  rowsOfClass,
  symEig,
} from '../../src/engine/eval/metrics';
import { halves, RealReference, SampleScores } from '../../src/engine/eval/scores';
import { Rng } from '../../src/engine/random/rng';

/** n points of a mixture of Gaussians in d dims: mode m centred at 6·e_m, unit variance. */
function mixture(n: number, d: number, modes: number[], seed: number): Float32Array {
  const rng = new Rng(seed, 'mixture');
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const m = modes[i % modes.length];
    for (let k = 0; k < d; k++) x[i * d + k] = rng.normal() + (k === m ? 6 : 0);
  }
  return x;
}

describe('Fréchet distance and its eigen-decomposition (tridiagonal QL)', () => {
  it('symEig: A·v = λ·v and orthonormal vectors for random SPD matrices up to 288-d', () => {
    const rng = new Rng(1, 'spd');
    for (const d of [1, 2, 7, 64, 288]) {
      const g = rng.normals(d * d);
      const a = new Float64Array(d * d);
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) a[i * d + j] += g[i * d + k] * g[j * d + k];
      const { values, vectors } = symEig(a, d);
      let resid = 0;
      let orth = 0;
      for (let k = 0; k < d; k++)
        for (let i = 0; i < d; i++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += a[i * d + j] * vectors[j * d + k];
          resid = Math.max(resid, Math.abs(s - values[k] * vectors[i * d + k]));
        }
      for (let p = 0; p < d; p++)
        for (let q = p; q < d; q++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += vectors[i * d + p] * vectors[i * d + q];
          orth = Math.max(orth, Math.abs(s - (p === q ? 1 : 0)));
        }
      assert.ok(resid < 1e-9 * d && orth < 1e-10, `d=${d}: residual ${resid}, orthogonality ${orth}`);
      let trace = 0;
      for (let i = 0; i < d; i++) trace += a[i * d + i];
      assert.ok(
        Math.abs(values.reduce((x, y) => x + y, 0) - trace) < 1e-9 * trace,
        `d=${d}: eigenvalues sum to the trace`,
      );
    }
  });

  it('FID: 0 for the same set, ‖shift‖² for a shifted copy, Tr(Σ) for a copy scaled by 2', () => {
    const d = 40;
    const rng = new Rng(2, 'fid');
    const x = Float32Array.from(rng.normals(600 * d), (v, i) => v * (1 + (i % d) / d));
    assert.ok(Math.abs(frechetDistance(x, x, d)) < 1e-6);
    const shifted = x.map((v, i) => v + (i % d === 3 ? 2 : 0));
    assert.ok(Math.abs(frechetDistance(x, shifted, d) - 4) < 1e-6, `${frechetDistance(x, shifted, d)}`);
    const scaled = x.map((v) => 2 * v);
    // ‖μ − 2μ‖² + Tr(Σ + 4Σ − 2·2Σ) = ‖μ‖² + Tr(Σ)
    const mu = new Float64Array(d);
    for (let i = 0; i < x.length; i++) mu[i % d] += x[i] / 600;
    let tr = 0;
    for (let i = 0; i < x.length; i++) tr += (x[i] - mu[i % d]) ** 2 / 599;
    const expected = mu.reduce((a, m) => a + m * m, 0) + tr;
    assert.ok(
      Math.abs(frechetDistance(x, scaled, d) - expected) < 1e-6 * expected,
      `${frechetDistance(x, scaled, d)} vs ${expected}`,
    );
  });
});

describe('k-NN manifold measures on known point sets', () => {
  const d = 8;
  const real = mixture(400, d, [0, 1, 2, 3], 1);

  it('the same distribution scores high on all four; half the modes dropped keeps precision but halves recall and coverage', () => {
    const same = manifoldMetrics(real, mixture(400, d, [0, 1, 2, 3], 2), d);
    const dropped = manifoldMetrics(real, mixture(400, d, [0, 1], 3), d);
    assert.ok(same.precision > 0.75 && same.recall > 0.75 && same.coverage > 0.85, JSON.stringify(same));
    assert.ok(same.density > 0.8 && same.density < 1.25, `density ${same.density}`);
    assert.ok(dropped.precision > same.precision - 0.05, `precision stays: ${dropped.precision} vs ${same.precision}`);
    assert.ok(dropped.recall < 0.55 && dropped.coverage < 0.55, JSON.stringify(dropped));
    assert.ok(dropped.recall < same.recall - 0.3 && dropped.coverage < same.coverage - 0.3);
  });

  it('samples off the data lose precision and density, not only recall', () => {
    const off = mixture(400, d, [4, 5], 4); // modes the data does not have
    const m = manifoldMetrics(real, off, d);
    assert.ok(m.precision < 0.05 && m.density < 0.05 && m.coverage < 0.05, JSON.stringify(m));
  });

  it('a collapsed generator (every sample at a mode centre) has full precision but tiny recall', () => {
    const collapsed = new Float32Array(400 * d);
    for (let i = 0; i < 400; i++) collapsed[i * d + (i % 4)] = 6 + 1e-3 * (i % 7);
    const m = manifoldMetrics(real, collapsed, d);
    assert.equal(m.precision, 1);
    assert.ok(m.recall < 0.1, `recall ${m.recall}`);
    assert.ok(m.density > 1.5, `density counts crowding: ${m.density}`);
  });

  it('class-conditional: averages over classes; a sample drawn as the wrong class counts against precision', () => {
    const labels = Int32Array.from({ length: 400 }, (_, i) => Math.floor(i / 100)); // class c holds mode c
    const byClass = mixture(400, d, [0], 5);
    for (let i = 0; i < 400; i++) {
      byClass[i * d] -= 6;
      byClass[i * d + labels[i]] += 6;
    }
    const realC = Float32Array.from(byClass);
    const right = classConditionalManifold(realC, labels, mixtureShift(labels, 6), labels, d);
    const wrongLabels = labels.map((c) => (c + 1) % 4);
    const wrong = classConditionalManifold(realC, labels, mixtureShift(labels, 6), wrongLabels, d);
    assert.ok(right.precision > 0.85 && right.recall > 0.85, JSON.stringify(right));
    assert.ok(wrong.precision < 0.05 && wrong.recall < 0.05, JSON.stringify(wrong));
    function mixtureShift(l: Int32Array, seed: number): Float32Array {
      const x = mixture(l.length, d, [0], seed);
      for (let i = 0; i < l.length; i++) {
        x[i * d] -= 6;
        x[i * d + l[i]] += 6;
      }
      return x;
    }
  });

  it('k-means finds well separated modes, deterministically', () => {
    const x = mixture(200, d, [0, 1, 2, 3], 6);
    const a = kMeans(x, d, 4, { seed: 1 });
    assert.deepEqual(Array.from(kMeans(x, d, 4, { seed: 1 })), Array.from(a));
    // every mode maps to exactly one cluster
    for (let m = 0; m < 4; m++) {
      const ids = new Set(Array.from(a).filter((_, i) => i % 4 === m));
      assert.equal(ids.size, 1, `mode ${m} split over clusters ${[...ids]}`);
    }
    assert.equal(new Set(a).size, 4);
  });

  it("the real floor is taken at the samples' size per class: the first rows of each class of half B against half A", () => {
    const labels = Int32Array.from({ length: 400 }, (_, i) => i % 4);
    const ref = new RealReference(real, labels, d, { withFid: false, perClass: 20 });
    assert.equal(ref.floorPerClass, 20);
    assert.equal(ref.halfA.labels.length, 200);
    assert.equal(ref.floor.fid, null);
    const first20 = (c: number) => rowsOfClass(ref.halfB.x, ref.halfB.labels, d, c).subarray(0, 20 * d);
    const byHand = [0, 1, 2, 3].map((c) =>
      manifoldMetrics(rowsOfClass(ref.halfA.x, ref.halfA.labels, d, c), first20(c), d),
    );
    const mean = (k: 'precision' | 'recall' | 'density' | 'coverage') => byHand.reduce((a, m) => a + m[k], 0) / 4;
    for (const k of ['precision', 'recall', 'density', 'coverage'] as const)
      assert.ok(Math.abs(ref.floor[k] - mean(k)) < 1e-12, k);
    const full = new RealReference(real, labels, d, { withFid: false });
    assert.equal(full.floorPerClass, 50);
  });
});

describe('the report ranks a mode-dropped set of real digits worse (FID, recall, coverage, diversity) at equal accuracy', () => {
  const PER_CLASS = 50;
  let clf: Classifier;
  let ref: RealReference;
  let full: SampleScores;
  let dropped: SampleScores;
  let fullRows: Dataset;
  let droppedRows: Dataset;

  before(async () => {
    await ensureBackend('wasm', 1);
    const train = await loadDataset({ kind: 'mnist', imageSize: 16 }, { split: 'train', seed: 0 });
    const test = await loadDataset({ kind: 'mnist', imageSize: 16 }, { split: 'test', seed: 0 });
    // The judge learns from two thirds of the training split; the candidate digits come from the other third, so
    // like generated samples (and like the held-out reference) they were never seen by the judge.
    const [judgeRows, pool] = splitThirds(train);
    const tensors = tf.memory().numTensors;
    ({ clf } = await trainClassifier(judgeRows, test, { steps: 600, batch: 64, seed: 0 }));
    const { pred, feats } = await clf.run(test.x);
    ref = new RealReference(feats, test.labels, clf.featureDim, {
      withFid: true,
      perClass: PER_CLASS,
      pixels: test.x,
      pixelDim: 256,
      accuracy: pred.filter((p, i) => p === test.labels[i]).length / test.n,
    });
    assert.ok(tf.memory().numTensors <= tensors + clf.params.list().length, 'the judge holds only its weights');

    // per class: 4 k-means modes of the pool's digits in pixel space; the full set draws from all of them, the
    // mode-dropped set only from the 2 modes that hold the most digits (so it is not made of rare shapes) — the same
    // number of digits per class in both
    const rng = new Rng(3, 'mode-drop');
    const fullIdx: number[] = [];
    const dropIdx: number[] = [];
    const D = 256;
    for (let c = 0; c < 10; c++) {
      const idx = Array.from(pool.labels.keys()).filter((i) => pool.labels[i] === c);
      const modes = kMeans(rowsOfClass(pool.x, pool.labels, D, c), D, 4, { seed: c });
      const sizes = [0, 1, 2, 3].map((m) => modes.filter((v) => v === m).length);
      const kept = [0, 1, 2, 3].sort((a, b) => sizes[b] - sizes[a] || a - b).slice(0, 2);
      const shuffle = (list: number[]) =>
        list
          .map((i) => [rng.uniform(), i])
          .sort((a, b) => a[0] - b[0])
          .map((p) => p[1]);
      fullIdx.push(...shuffle(idx).slice(0, PER_CLASS));
      const keptIdx = shuffle(idx.filter((_, j) => kept.includes(modes[j])));
      assert.ok(keptIdx.length >= PER_CLASS, `class ${c}: ${keptIdx.length} digits in the two biggest modes`);
      dropIdx.push(...keptIdx.slice(0, PER_CLASS));
    }
    fullRows = subset(pool, fullIdx);
    droppedRows = subset(pool, dropIdx);
    const score = async (s: Dataset) => {
      const r = await clf.run(s.x);
      return ref.score(r.feats, s.labels, { pred: r.pred, pixels: s.x });
    };
    full = await score(fullRows);
    dropped = await score(droppedRows);
    const show = (name: string, x: SampleScores) =>
      `${name}: ${Object.entries(x)
        .map(([k, v]) => `${k} ${v === null ? '–' : v.toFixed(3)}`)
        .join(', ')}`;
    console.log(`${show('real floor', ref.floor)}\n${show('full', full)}\n${show('mode-dropped', dropped)}`);
  });

  it('the candidate sets are the same size and balanced over the classes', () => {
    assert.equal(fullRows.n, 10 * PER_CLASS);
    assert.equal(droppedRows.n, 10 * PER_CLASS);
    for (let c = 0; c < 10; c++) assert.equal(droppedRows.labels.filter((l) => l === c).length, PER_CLASS);
  });

  it('accuracy stays equal (both are real digits)', () => {
    assert.ok(full.accuracy! > 0.9, `judge accuracy on the full set ${full.accuracy}`);
    assert.ok(Math.abs(full.accuracy! - dropped.accuracy!) <= 0.03, `accuracy ${full.accuracy} vs ${dropped.accuracy}`);
  });

  it('FID is clearly worse for the mode-dropped set; the full set is near the real floor', () => {
    assert.ok(dropped.fid! > 1.5 * full.fid!, `FID full ${full.fid} vs mode-dropped ${dropped.fid}`);
    assert.ok(full.fid! < 2 * ref.floor.fid! + 1, `full ${full.fid} vs real half-vs-half ${ref.floor.fid}`);
  });

  it('recall and coverage drop, precision does not: the loss is diversity, not fidelity', () => {
    assert.ok(dropped.recall < full.recall - 0.1, `recall full ${full.recall} vs mode-dropped ${dropped.recall}`);
    // measured: recall 0.918 → 0.789, coverage 0.921 → 0.844 (its k = 5 balls are wider than recall's k = 3 ones),
    // precision 0.820 → 0.830; FID 10.3 → 23.4 (real half vs half 7.19); accuracy 95.0 % → 95.2 %
    assert.ok(
      dropped.coverage < full.coverage - 0.04,
      `coverage full ${full.coverage} vs mode-dropped ${dropped.coverage}`,
    );
    assert.ok(
      dropped.precision > full.precision - 0.05,
      `precision full ${full.precision} vs mode-dropped ${dropped.precision}`,
    );
    // the full set behaves like real data against the reference
    assert.ok(Math.abs(full.recall - ref.floor.recall) < 0.1, `recall full ${full.recall} vs real ${ref.floor.recall}`);
  });

  it("within-class diversity, in features and in pixels, falls below the real data's", () => {
    assert.ok(dropped.diversity < 0.95 * full.diversity, `feature diversity ${full.diversity} vs ${dropped.diversity}`);
    assert.ok(
      dropped.pixelDiversity! < 0.95 * full.pixelDiversity!,
      `pixel diversity ${full.pixelDiversity} vs ${dropped.pixelDiversity}`,
    );
    assert.ok(
      Math.abs(full.diversity / ref.floor.diversity - 1) < 0.15,
      `full ÷ real ${full.diversity / ref.floor.diversity}`,
    );
  });

  it('is deterministic: the same sets score the same again', async () => {
    const r = await clf.run(droppedRows.x);
    assert.deepEqual(ref.score(r.feats, droppedRows.labels, { pred: r.pred, pixels: droppedRows.x }), dropped);
  });

  it('the halves are class-balanced and disjoint', () => {
    const labels = Int32Array.from({ length: 21 }, (_, i) => i % 3);
    const x = Float32Array.from({ length: 21 }, (_, i) => i);
    const [a, b] = halves(x, labels, 1);
    assert.deepEqual(Array.from(a.x), [0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20]);
    assert.deepEqual(Array.from(b.x), [3, 4, 5, 9, 10, 11, 15, 16, 17]);
  });
});

function subset(ds: Dataset, idx: number[]): Dataset {
  const { x, labels } = sampleBatch(ds, idx);
  return { ...ds, x, labels, n: idx.length };
}

/** The first two thirds of every class (the judge's training rows) and the last third (the candidate pool). */
function splitThirds(ds: Dataset): [Dataset, Dataset] {
  const a: number[] = [];
  const b: number[] = [];
  for (let c = 0; c < ds.numClasses; c++) {
    const idx = Array.from(ds.labels.keys()).filter((i) => ds.labels[i] === c);
    const cut = Math.floor((2 * idx.length) / 3);
    a.push(...idx.slice(0, cut));
    b.push(...idx.slice(cut));
  }
  return [subset(ds, a), subset(ds, b)];
}
