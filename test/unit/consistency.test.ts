/**
 * Guided multistep consistency distillation (src/engine/method/consistency.ts, docs/method.md, "Stage 2b: multistep
 * consistency distillation") checked on the cpu backend against direct float64 implementations written here: segment
 * starts, the reference point, the target, and the consistency loss of buildStepLoss with the nets called directly.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import {
  consistencyReference,
  consistencyTarget,
  consistencyTimes,
  segmentStart,
} from '../../src/engine/method/consistency';
import { ddimStep } from '../../src/engine/method/diffusion';
import { logSnr } from '../../src/engine/method/schedule';
import { Net } from '../../src/engine/nn/net';
import { Rng } from '../../src/engine/random/rng';
import { ResolvedConfig, resolveConfig } from '../../src/engine/run/config';
import { Dataset, loadDataset } from '../../src/engine/data';
import { buildStepLoss, drawBatch, LossSpec, netForUnit } from '../../src/engine/train/losses';
import { toyConfig } from '../helpers/toy-config';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

// Float64 reference formulas, written out from docs/method.md.
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const al = (l: number) => Math.sqrt(sig(l));
const sg = (l: number) => Math.sqrt(sig(-l));
/** The largest k/N with k/N < t, by trying every k. */
function startByScan(t: number, n: number): number {
  let best = 0;
  for (let k = 0; k <= n; k++) if (k / n < t) best = k / n;
  return best;
}

describe('consistency times', () => {
  it('s(t) is the largest k/N below t: between boundaries, on a boundary (the segment below), and 0 in the first segment', () => {
    for (const n of [1, 2, 4, 8]) {
      for (let i = 1; i <= 64; i++) {
        const t = i / 64;
        assert.equal(segmentStart(t, n), startByScan(t, n), `N=${n}, t=${t}`);
      }
    }
    assert.equal(segmentStart(0.5, 2), 0);
    assert.equal(segmentStart(0.5 + 1 / 64, 2), 0.5);
    assert.equal(segmentStart(1, 4), 0.75);
    assert.equal(segmentStart(1 / 64, 4), 0);
    assert.throws(() => segmentStart(0, 4), /t must be in \(0, 1\], got 0/);
  });

  it("t = i/T, t' = (i − 1)/T, and t' = s exactly at the first fine step of each segment", () => {
    const T = 8;
    const N = 2;
    const got = Array.from({ length: T }, (_, k) => consistencyTimes(k + 1, T, N));
    assert.deepEqual(
      got.map((c) => [c.t * T, c.tPrev * T, c.s * N]),
      [
        [1, 0, 0],
        [2, 1, 0],
        [3, 2, 0],
        [4, 3, 0],
        [5, 4, 1],
        [6, 5, 1],
        [7, 6, 1],
        [8, 7, 1],
      ],
    );
    assert.deepEqual(
      got.map((c) => c.tPrev === c.s),
      [true, false, false, false, true, false, false, false],
    );
    assert.throws(() => consistencyTimes(0, T, N), /i must be an integer in 1\.\.8, got 0/);
  });
});

describe('consistency reference and target', () => {
  // Five examples of 3 values: t' = s > 0, t' > s > 0, t' = s = 0, t' > s = 0, and another t' > s > 0.
  const T = 16;
  const N = 4;
  const idx = [5, 7, 1, 3, 16];
  const times = idx.map((i) => consistencyTimes(i, T, N));
  const lam = (v: number) => (v === 0 ? 20 : logSnr(v));
  const lamT = times.map((c) => lam(c.t));
  const lamP = times.map((c) => lam(c.tPrev));
  const lamS = times.map((c) => lam(c.s));
  const atStart = times.map((c) => c.tPrev === c.s);
  const sZero = times.map((c) => c.s === 0);
  const rng = new Rng(17, 'consistency-eqs');
  const zT = rng.normals(15);
  const zP = rng.normals(15);
  const xR = rng.normals(15);

  /** z_ref and x̃ of example k, in float64. */
  function direct(k: number): { zRef: number[]; target: number[] } {
    const zRef: number[] = [];
    const target: number[] = [];
    for (let d = 0; d < 3; d++) {
      const j = 3 * k + d;
      const r = atStart[k]
        ? zP[j]
        : sZero[k]
          ? xR[j]
          : al(lamS[k]) * xR[j] + (sg(lamS[k]) / sg(lamP[k])) * (zP[j] - al(lamP[k]) * xR[j]);
      zRef.push(r);
      const ratio = sg(lamS[k]) / sg(lamT[k]);
      target.push(sZero[k] ? r : (r - ratio * zT[j]) / (al(lamS[k]) - ratio * al(lamT[k])));
    }
    return { zRef, target };
  }

  it("z_ref is z_t' when t' = s, the student's DDIM step t' → s otherwise, x̂_ref when s = 0", () => {
    const got = tf.tidy(() =>
      consistencyReference({
        zPrev: tf.tensor(zP, [5, 3]),
        xRef: tf.tensor(xR, [5, 3]),
        lambdaPrev: lamP,
        lambdaS: lamS,
        atStart,
        toZero: sZero,
      }).dataSync(),
    );
    for (let k = 0; k < 5; k++) {
      const want = direct(k).zRef;
      for (let d = 0; d < 3; d++)
        assert.ok(Math.abs(got[3 * k + d] - want[d]) < 1e-5, `example ${k}: ${got[3 * k + d]} vs ${want[d]}`);
    }
  });

  it("x̃ = (z_ref − (σ_s/σ_t)·z_t) / (α_s − (σ_s/σ_t)·α_t), x̃ = z_ref when s = 0, and x̃'s DDIM step t → s lands on z_ref", () => {
    tf.tidy(() => {
      const zRef = tf.tensor(Array.from({ length: 5 }, (_, k) => direct(k).zRef).flat(), [5, 3]);
      const z = tf.tensor(zT, [5, 3]);
      const x = consistencyTarget({ zT: z, zRef, lambdaT: lamT, lambdaS: lamS, toZero: sZero });
      const got = x.dataSync();
      for (let k = 0; k < 5; k++) {
        const want = direct(k).target;
        for (let d = 0; d < 3; d++) {
          const tol = 1e-4 * Math.max(1, Math.abs(want[d]));
          assert.ok(Math.abs(got[3 * k + d] - want[d]) < tol, `example ${k}: ${got[3 * k + d]} vs ${want[d]}`);
        }
      }
      const landed = ddimStep({ z, x, lambdaT: lamT, lambdaS: lamS, toZero: sZero }).dataSync();
      const ref = zRef.dataSync();
      for (let j = 0; j < 15; j++) assert.ok(Math.abs(landed[j] - ref[j]) < 1e-4, `${j}: ${landed[j]} vs ${ref[j]}`);
    });
  });
});

/** The toy run's config with both methods on a fine grid of `teacherSteps`. */
function consistencyConfig(teacherSteps: number): ResolvedConfig {
  return resolveConfig(
    toyConfig({
      methods: ['progressive', 'consistency'],
      consistency: { teacherSteps, studentSteps: [4, 2, 1] },
    }),
  );
}

/** Moves every weight by 0.1·N(0, 1) (seeded), so the w branch and both nets matter. */
function perturb(net: Net, seed: number): void {
  const rng = new Rng(seed, 'perturb');
  tf.tidy(() => {
    for (const { variable } of net.params.list())
      variable.assign(tf.add(variable, tf.mul(0.1, tf.tensor(rng.normals(variable.size), variable.shape))));
  });
}

/** x̂ of a network output in float64, under each parameterisation. */
function xOf(out: number, z: number, a: number, s: number, param: string): number {
  if (param === 'v') return a * z - s * out;
  if (param === 'x') return out;
  return (z - s * out) / a;
}

/** The consistency loss of one drawn batch computed here, calling the student and the frozen net directly. */
function directLoss(cfg: ResolvedConfig, n: number, student: Net, frozen: Net, inp: ReturnType<typeof drawBatch>) {
  const T = cfg.consistency!.teacherSteps;
  const param = cfg.model.parameterization;
  const max = cfg.diffusion.logSnrMax;
  const lam = (v: number) => (v === 0 ? max : logSnr(v, cfg.diffusion));
  const { b, x, eps, cls, w } = inp;
  const D = x.length / b;
  /** x̂ of `net` at host points z (b × D) and per-example λ. */
  const xhat = (net: Net, z: Float64Array, l: number[]): Float64Array => {
    const out = tf.tidy(() =>
      net.apply(tf.tensor(Float32Array.from(z), [b, D]), Float32Array.from(l), cls, w).dataSync(),
    );
    return Float64Array.from(z, (zj, j) => {
      const k = Math.floor(j / D);
      return xOf(out[j], zj, al(l[k]), sg(l[k]), param);
    });
  };
  const i = Array.from(inp.t, (v) => Math.round(v * T));
  const t = i.map((k) => k / T);
  const tp = i.map((k) => (k - 1) / T);
  const s = t.map((v) => startByScan(v, n));
  const lt = t.map(lam);
  const lp = tp.map(lam);
  const ls = s.map(lam);
  const z = Float64Array.from(x, (xj, j) => {
    const k = Math.floor(j / D);
    return al(lt[k]) * xj + sg(lt[k]) * eps[j];
  });
  const xT = xhat(frozen, z, lt);
  const zP = Float64Array.from(z, (zj, j) => {
    const k = Math.floor(j / D);
    return tp[k] === 0 ? xT[j] : al(lp[k]) * xT[j] + (sg(lp[k]) / sg(lt[k])) * (zj - al(lt[k]) * xT[j]);
  });
  const xR = xhat(student, zP, lp);
  const xS = xhat(student, z, lt);
  let loss = 0;
  for (let k = 0; k < b; k++) {
    let se = 0;
    for (let d = 0; d < D; d++) {
      const j = k * D + d;
      const zRef =
        tp[k] === s[k]
          ? zP[j]
          : s[k] === 0
            ? xR[j]
            : al(ls[k]) * xR[j] + (sg(ls[k]) / sg(lp[k])) * (zP[j] - al(lp[k]) * xR[j]);
      const r = sg(ls[k]) / sg(lt[k]);
      const target = s[k] === 0 ? zRef : (zRef - r * z[j]) / (al(ls[k]) - r * al(lt[k]));
      se += (xS[j] - target) ** 2;
    }
    loss += Math.max(Math.exp(lt[k]), 1) * (se / D);
  }
  return { loss: loss / b, times: i };
}

describe('the consistency loss of buildStepLoss', () => {
  let data: Dataset;
  before(async () => {
    data = await loadDataset(consistencyConfig(8).data, { split: 'train', seed: 3 });
  });

  for (const n of [4, 2, 1]) {
    it(`${n}-step student on an 8-step fine grid: equals a direct float64 implementation calling both nets`, () => {
      const cfg = consistencyConfig(8);
      const spec: LossSpec = { stage: 'consistency', toSteps: n, exampleShape: data.shape };
      const frozen = netForUnit(cfg, data, 'guided');
      const student = netForUnit(cfg, data, 'consistency');
      perturb(frozen, 1);
      perturb(student, 2);
      const inp = drawBatch(cfg, data, spec, 64, new Rng(9, `loss-${n}`));
      const before = tf.memory().numTensors;
      const { lossFn, release } = buildStepLoss(cfg, spec, student, frozen, inp);
      const got = tf.tidy(() => lossFn().dataSync()[0]);
      release();
      assert.equal(tf.memory().numTensors, before, 'buildStepLoss frees everything it made');
      const want = directLoss(cfg, n, student, frozen, inp);
      // every fine step is drawn, so the batch covers t' = s, t' > s, s = 0 and s > 0
      assert.deepEqual(
        [...new Set(want.times)].sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.ok(want.loss > 1e-3, `a non-trivial loss (${want.loss})`);
      assert.ok(Math.abs(got - want.loss) <= 1e-4 * want.loss, `loss ${got} vs ${want.loss} (float64)`);
      frozen.dispose();
      student.dispose();
    });
  }

  it("fixed point: a student equal to its teacher with one fine step per segment (t' = s always) has target x̂_T and zero loss", () => {
    const cfg = consistencyConfig(4);
    const spec: LossSpec = { stage: 'consistency', toSteps: 4, exampleShape: data.shape };
    const frozen = netForUnit(cfg, data, 'guided');
    const student = netForUnit(cfg, data, 'consistency');
    perturb(frozen, 3);
    perturb(student, 3);
    const inp = drawBatch(cfg, data, spec, 64, new Rng(9, 'fixed-point'));
    const { lossFn, release } = buildStepLoss(cfg, spec, student, frozen, inp);
    const got = tf.tidy(() => lossFn().dataSync()[0]);
    release();
    assert.ok(got < 1e-9, `loss ${got}`);
    // while a different student on the same batch is far from it
    perturb(student, 4);
    const other = buildStepLoss(cfg, spec, student, frozen, inp);
    const far = tf.tidy(() => other.lossFn().dataSync()[0]);
    other.release();
    assert.ok(far > 1e-4, `loss ${far}`);
    frozen.dispose();
    student.dispose();
  });
});
