/**
 * The exact teacher (src/engine/method/exact-teacher.ts): its posterior mean equals a Monte-Carlo posterior mean of the
 * mixture, a direct float64 implementation at extreme log-SNRs, and the right limits; as a network of each
 * parameterisation it gives back the exact x̂ through the samplers' own conversions; guidance combines its conditional
 * and ∅ predictions; its DDIM sampler converges as the steps grow; it leaks no tensors; bad mixtures name the field.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import { coefs, predictions } from '../../src/engine/method/diffusion';
import {
  checkMixture,
  exactPosteriorMean,
  exactTeacherNet,
  GaussianMixture,
  sampleMixture,
} from '../../src/engine/method/exact-teacher';
import { guidedX, sample } from '../../src/engine/method/samplers';
import { alpha, DEFAULT_SCHEDULE, sigma } from '../../src/engine/method/schedule';
import { Rng } from '../../src/engine/random/rng';

/** 3 classes × 2 components in 2-D, unequal weights and variances. */
function toyMixture(): GaussianMixture {
  const means = [0.6, 0.1, 0.2, 0.5, -0.5, 0.4, -0.3, -0.2, 0.0, -0.6, 0.3, -0.4];
  const variances = [0.01, 0.02, 0.03, 0.01, 0.02, 0.02, 0.04, 0.01, 0.01, 0.05, 0.02, 0.03];
  return {
    dim: 2,
    shape: [2],
    numClasses: 3,
    components: 2,
    classPrior: Float64Array.from([0.5, 0.3, 0.2]),
    weights: Float64Array.from([0.7, 0.3, 0.4, 0.6, 0.5, 0.5]),
    means: Float32Array.from(means),
    variances: Float32Array.from(variances),
  };
}

/** A random D-dimensional mixture (K classes × M components) from a seed. */
function randomMixture(D: number, K: number, M: number, seed: number): GaussianMixture {
  const rng = new Rng(seed, 'test-mixture');
  const w = Float64Array.from({ length: K * M }, () => 0.2 + rng.uniform());
  for (let c = 0; c < K; c++) {
    let s = 0;
    for (let k = 0; k < M; k++) s += w[c * M + k];
    for (let k = 0; k < M; k++) w[c * M + k] /= s;
  }
  return {
    dim: D,
    shape: [D],
    numClasses: K,
    components: M,
    classPrior: Float64Array.from({ length: K }, () => 1 / K),
    weights: w,
    means: Float32Array.from(rng.normals(K * M * D), (v) => 0.5 * v),
    variances: Float32Array.from({ length: K * M * D }, () => 0.005 + 0.1 * rng.uniform()),
  };
}

/** The posterior mean of the file header, in float64 on the host, for one example. */
function directPosteriorMean(m: GaussianMixture, z: number[], lambda: number, c: number): number[] {
  const a = alpha(lambda);
  const s = sigma(lambda);
  const { dim: D, components: M, numClasses: K } = m;
  const logits: number[] = [];
  const xs: number[][] = [];
  for (let cc = 0; cc < K; cc++) {
    if (c !== K && cc !== c) continue;
    for (let k = 0; k < M; k++) {
      const j = cc * M + k;
      let ll = Math.log(m.weights[j]) + (c === K ? Math.log(m.classPrior[cc]) : 0);
      const xk: number[] = [];
      for (let d = 0; d < D; d++) {
        const mu = m.means[j * D + d];
        const s2 = m.variances[j * D + d];
        const v = a * a * s2 + s * s;
        const r = z[d] - a * mu;
        ll -= 0.5 * ((r * r) / v + Math.log(v));
        xk.push(mu + ((a * s2) / v) * r);
      }
      logits.push(ll);
      xs.push(xk);
    }
  }
  const mx = Math.max(...logits);
  const p = logits.map((l) => Math.exp(l - mx));
  const tot = p.reduce((u, v) => u + v, 0);
  return Array.from({ length: D }, (_, d) => xs.reduce((acc, xk, i) => acc + (p[i] / tot) * xk[d], 0));
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('exact teacher', () => {
  it('equals a Monte-Carlo posterior mean of the mixture (conditional and ∅, three log-SNRs)', () => {
    const m = toyMixture();
    const N = 200_000;
    // x ~ p(x | c) per class, and x ~ p(x) (the classes in proportion to the prior) for ∅
    const perClass = [0, 1, 2].map((c) => {
      const { x, labels } = sampleMixture(m, N * 3, 11 + c);
      const keep: number[] = [];
      for (let i = 0; i < labels.length; i++) if (labels[i] === c) keep.push(x[2 * i], x[2 * i + 1]);
      return Float64Array.from(keep);
    });
    const rng = new Rng(5, 'mc');
    const uncond: number[] = [];
    for (let i = 0; i < N; i++) {
      const u = rng.uniform();
      const c = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
      const xs = perClass[c];
      const j = rng.int(xs.length / 2);
      uncond.push(xs[2 * j], xs[2 * j + 1]);
    }
    const pools = [...perClass, Float64Array.from(uncond)];
    const cases: { z: [number, number]; lambda: number; c: number }[] = [
      { z: [0.3, 0.2], lambda: -1, c: 0 },
      { z: [-0.2, 0.1], lambda: 1, c: 1 },
      { z: [0.1, -0.5], lambda: 2, c: 2 },
      { z: [0.4, 0.3], lambda: 0, c: 3 },
      { z: [-0.3, -0.3], lambda: 2, c: 3 },
    ];
    for (const { z, lambda, c } of cases) {
      const a = alpha(lambda);
      const s2 = sigma(lambda) ** 2;
      const xs = pools[c];
      let wsum = 0;
      let x0 = 0;
      let x1 = 0;
      for (let i = 0; i < xs.length; i += 2) {
        const d0 = z[0] - a * xs[i];
        const d1 = z[1] - a * xs[i + 1];
        const wt = Math.exp(-(d0 * d0 + d1 * d1) / (2 * s2));
        wsum += wt;
        x0 += wt * xs[i];
        x1 += wt * xs[i + 1];
      }
      const mc = [x0 / wsum, x1 / wsum];
      const got = tf.tidy(() =>
        exactPosteriorMean(m, tf.tensor2d(z, [1, 2]), Float32Array.of(lambda), Int32Array.of(c)).dataSync(),
      );
      for (let d = 0; d < 2; d++)
        assert.ok(
          Math.abs(got[d] - mc[d]) < 0.01,
          `λ=${lambda} c=${c} dim ${d}: exact ${got[d]} vs Monte-Carlo ${mc[d]}`,
        );
    }
  });

  it('equals the direct float64 posterior mean in 64 dimensions at λ from −20 to 20', () => {
    const m = randomMixture(64, 4, 3, 1);
    const rng = new Rng(2, 'z');
    const lambdas = [-20, -8, -2, 0, 3, 8, 20];
    for (const lambda of lambdas) {
      for (const c of [0, 3, 4]) {
        // z from the forward process of a class-c (or any) example, so every λ sees realistic inputs
        const { x } = sampleMixture(m, 4, 3 + c);
        const z = Array.from(
          { length: 64 },
          (_, d) => alpha(lambda) * x[(c % 4) * 64 + d] + sigma(lambda) * rng.normal(),
        );
        const want = directPosteriorMean(m, z, lambda, c);
        const got = tf.tidy(() =>
          exactPosteriorMean(m, tf.tensor2d(z, [1, 64]), Float32Array.of(lambda), Int32Array.of(c)).dataSync(),
        );
        const err = Math.max(...want.map((v, d) => Math.abs(v - got[d])));
        assert.ok(err < 2e-4, `λ=${lambda} c=${c}: max |exact − direct| = ${err}`);
      }
    }
  });

  it('at one noise level (a sampler step: matrix products) equals the per-example form, 256-d, variances down to 1e-3', () => {
    const D = 256;
    const m = randomMixture(D, 10, 4, 6);
    const vr = new Rng(7, 'small-variances');
    m.variances = Float32Array.from(m.variances, () => (vr.uniform() < 0.5 ? 1e-3 : 1e-3 + 0.2 * vr.uniform()));
    const classes = Int32Array.from([0, 3, 9, 10, 10, 5]);
    const B = classes.length;
    const { x } = sampleMixture(m, B, 8);
    const rng = new Rng(9, 'z');
    let worst = 0;
    for (const lambda of [-20, -8, -2, 0, 3, 8, 20]) {
      const z = Float32Array.from(x, (v) => alpha(lambda) * v + sigma(lambda) * rng.normal());
      const one = tf.tidy(() =>
        exactPosteriorMean(m, tf.tensor2d(z, [B, D]), new Float32Array(B).fill(lambda), classes).dataSync(),
      );
      // one more row at another λ makes the batch's levels differ: the per-example form
      const zz = new Float32Array((B + 1) * D);
      zz.set(z);
      const lambdas = Float32Array.from({ length: B + 1 }, (_, i) => (i < B ? lambda : lambda + 1));
      const each = tf.tidy(() =>
        exactPosteriorMean(m, tf.tensor2d(zz, [B + 1, D]), lambdas, Int32Array.from([...classes, 0])).dataSync(),
      );
      let err = 0;
      for (let i = 0; i < B * D; i++) err = Math.max(err, Math.abs(one[i] - each[i]));
      worst = Math.max(worst, err);
      assert.ok(err < 2e-4, `λ=${lambda}: max |one level − per example| = ${err}`);
    }
    console.log(`largest difference ${worst.toExponential(2)}`);
  });

  it('has the right limits: the class mean at λ = −20, z/α at λ = 20', () => {
    const m = toyMixture();
    const z = [0.37, -0.21];
    const lo = tf.tidy(() =>
      exactPosteriorMean(m, tf.tensor2d(z, [1, 2]), Float32Array.of(-20), Int32Array.of(1)).dataSync(),
    );
    const mean1 = [0.4 * -0.5 + 0.6 * -0.3, 0.4 * 0.4 + 0.6 * -0.2];
    for (let d = 0; d < 2; d++)
      assert.ok(Math.abs(lo[d] - mean1[d]) < 1e-4, `λ=-20: ${lo[d]} vs class mean ${mean1[d]}`);
    const hi = tf.tidy(() =>
      exactPosteriorMean(m, tf.tensor2d(z, [1, 2]), Float32Array.of(20), Int32Array.of(3)).dataSync(),
    );
    for (let d = 0; d < 2; d++)
      assert.ok(Math.abs(hi[d] - z[d] / alpha(20)) < 1e-4, `λ=20: ${hi[d]} vs z/α ${z[d] / alpha(20)}`);
  });

  it('as a network of each parameterisation gives back the exact x̂ through the samplers’ conversions', () => {
    const m = randomMixture(8, 3, 2, 4);
    const B = 6;
    const lambdas = Float32Array.from([-6, -2, 0, 1, 4, 9]);
    const classes = Int32Array.from([0, 1, 2, 3, 0, 3]);
    const z = tf.tensor2d(new Rng(9, 'z').normals(B * 8), [B, 8]);
    const want = exactPosteriorMean(m, z, lambdas, classes);
    for (const param of ['v', 'x', 'eps'] as const) {
      const net = exactTeacherNet(m, param);
      const x = tf.tidy(() => predictions({ out: net.apply(z, lambdas, classes), z, c: coefs(lambdas, 2), param }).x);
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(x, want))).dataSync()[0]);
      assert.ok(err < 1e-4, `${param}: max |x̂ − exact| = ${err}`);
      x.dispose();
      net.dispose();
    }
    tf.dispose([z, want]);
  });

  it('guided: x̂_w = (1 + w)·x̂(z, c) − w·x̂(z, ∅) through the samplers’ guidedX', () => {
    const m = toyMixture();
    const net = exactTeacherNet(m, 'v');
    const d = { net, param: 'v' as const, schedule: DEFAULT_SCHEDULE };
    const z = tf.tensor2d([0.2, -0.1, -0.4, 0.3], [2, 2]);
    const lambdas = Float32Array.from([0.5, 2]);
    const classes = Int32Array.from([0, 2]);
    const w = Float32Array.from([2, 0.5]);
    const got = tf.tidy(() => guidedX(d, { z, lambdas, classes, w }).arraySync() as number[][]);
    for (let i = 0; i < 2; i++) {
      const zi = [z.arraySync()[i][0], z.arraySync()[i][1]] as number[];
      const cond = directPosteriorMean(m, zi, lambdas[i], classes[i]);
      const unc = directPosteriorMean(m, zi, lambdas[i], 3);
      for (let k = 0; k < 2; k++) {
        const want = (1 + w[i]) * cond[k] - w[i] * unc[k];
        assert.ok(Math.abs(got[i][k] - want) < 1e-4, `example ${i} dim ${k}: ${got[i][k]} vs ${want}`);
      }
    }
    z.dispose();
    net.dispose();
  });

  it('its DDIM sampler converges as the steps grow (512 vs 1,024 steps agree far closer than 64 vs 1,024)', async () => {
    const m = toyMixture();
    const net = exactTeacherNet(m, 'v');
    const d = { net, param: 'v' as const, schedule: DEFAULT_SCHEDULE };
    const classes = Int32Array.from({ length: 48 }, (_, i) => i % 3);
    const w = new Float32Array(48).fill(1);
    const at = async (steps: number) => (await sample(d, { classes, w, steps, sampler: 'ddim', seed: 3 })).x;
    const ref = await at(1024);
    const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - ref[i]) ** 2, 0) / x.length);
    const e64 = rms(await at(64));
    const e512 = rms(await at(512));
    assert.ok(e512 < 2e-3, `512 vs 1,024 steps: rms ${e512}`);
    assert.ok(e512 < e64 / 4, `error should shrink with the steps: 64 → ${e64}, 512 → ${e512}`);
    net.dispose();
  });

  it('leaks no tensors over many calls', () => {
    const m = randomMixture(16, 2, 2, 7);
    const net = exactTeacherNet(m, 'eps');
    const z = tf.randomNormal([4, 16], 0, 1, 'float32', 1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      net.apply(z, Float32Array.from([0, 1, 2, 3]), Int32Array.from([0, 1, 2, 0])).dispose();
      net.apply(z, new Float32Array(4).fill(1), Int32Array.from([0, 1, 2, 0])).dispose(); // one noise level
    }
    assert.equal(tf.memory().numTensors, before);
    z.dispose();
    net.dispose();
  });

  it('samples with the mixture’s moments, and bad mixtures name the field', () => {
    const m = toyMixture();
    const { x, labels } = sampleMixture(m, 60_000, 1);
    // class 2: weights 0.5 / 0.5, means (0, −0.6) and (0.3, −0.4)
    let n = 0;
    let s0 = 0;
    for (let i = 0; i < labels.length; i++)
      if (labels[i] === 2) {
        n++;
        s0 += x[2 * i];
      }
    assert.ok(Math.abs(s0 / n - 0.15) < 0.01, `class 2 mean of x₀: ${s0 / n}`);
    assert.throws(
      () => checkMixture({ ...m, variances: m.variances.map((v, i) => (i === 3 ? 0 : v)) }),
      /mixture\.variances/,
    );
    assert.throws(
      () => checkMixture({ ...m, weights: Float64Array.from([0.7, 0.3, 0.4, 0.6, 0.5, 0.6]) }),
      /mixture\.weights: class 2/,
    );
    assert.throws(() => checkMixture({ ...m, means: m.means.subarray(0, 4) }), /mixture\.means: expected 12 values/);
  });
});
