/**
 * The method's equations (docs/method.md, restated in src/engine/method/diffusion.ts) checked numerically on the
 * cpu backend: schedule, parameterisation round trips, CFG, the stage-2 target identity, stochastic re-noising,
 * and the student's zero-initialised w branch.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import {
  coefs,
  ddimStep,
  diffuse,
  distillTarget,
  guide,
  outputFor,
  predictions,
  renoise,
} from '../../src/engine/method/diffusion';
import { buildNet, copyParams, ModelConfig } from '../../src/engine/nn/net';
import { Rng } from '../../src/engine/random/rng';
import { alpha, alphaRatio, logSnr, sigma, sigmaRatio, samplerTimes } from '../../src/engine/method/schedule';
import { denoise, guidedX, sample } from '../../src/engine/method/samplers';
import { studentW } from '../../src/engine/train/losses';
import { configHash, resolveConfig } from '../../src/engine/run/config';

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
});

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} ≉ ${b} (tol ${tol})`);
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

const unet: ModelConfig = {
  kind: 'unet',
  parameterization: 'v',
  channels: [8, 16],
  blocksPerLevel: 1,
  attention: true,
  groups: 4,
  embedDim: 16,
  hidden: 0,
  depth: 0,
};
const mlp: ModelConfig = { ...unet, kind: 'mlp', hidden: 32, depth: 2 };

describe('cosine log-SNR schedule', () => {
  it('hits λmax at t = 0 and λmin at t = 1', () => {
    close(logSnr(0), 20, 1e-9, 'λ(0)');
    close(logSnr(1), -20, 1e-9, 'λ(1)');
    close(logSnr(0, { logSnrMin: -10, logSnrMax: 12 }), 12, 1e-9);
    close(logSnr(1, { logSnrMin: -10, logSnrMax: 12 }), -10, 1e-9);
  });
  it('is strictly decreasing and α² + σ² = 1', () => {
    let prev = Infinity;
    for (let i = 0; i <= 1000; i++) {
      const l = logSnr(i / 1000);
      assert.ok(l < prev, `λ not decreasing at t=${i / 1000}`);
      prev = l;
      close(alpha(l) ** 2 + sigma(l) ** 2, 1, 1e-12);
    }
  });
  it('computes σ_s/σ_t and α_s/α_t stably in log space', () => {
    for (const [s, t] of [
      [0.1, 0.9],
      [0.5, 0.51],
      [0.999, 1],
    ]) {
      const ls = logSnr(s);
      const lt = logSnr(t);
      close(sigmaRatio({ lambdaS: ls, lambdaT: lt }), sigma(ls) / sigma(lt), 1e-12);
      close(alphaRatio({ lambdaS: ls, lambdaT: lt }), alpha(ls) / alpha(lt), 1e-9 * (alpha(ls) / alpha(lt)));
    }
  });
  it('rejects t outside [0, 1] and lists sampler times i/N', () => {
    assert.throws(() => logSnr(1.5), /t must be in \[0, 1\]/);
    assert.deepEqual(samplerTimes(4), [1, 0.75, 0.5, 0.25, 0]);
  });
});

describe('parameterisations', () => {
  for (const param of ['v', 'x', 'eps'] as const) {
    it(`${param}: output → (x̂, ε̂) → output round trip, and z = α·x̂ + σ·ε̂`, () => {
      tf.tidy(() => {
        const rng = new Rng(1);
        const lambdas = [-8, -1, 0, 3, 9];
        const c = coefs(lambdas, 2);
        const x = tf.tensor(rng.normals(10), [5, 2]);
        const eps = tf.tensor(rng.normals(10), [5, 2]);
        const z = diffuse({ x, eps, c });
        const out = outputFor({ x, z, c, param });
        const p = predictions({ out, z, c, param });
        assert.ok(maxAbsDiff(p.x, x) < 2e-3, `x̂ round trip ${maxAbsDiff(p.x, x)}`);
        assert.ok(maxAbsDiff(p.eps, eps) < 2e-3, `ε̂ round trip ${maxAbsDiff(p.eps, eps)}`);
        const zBack = tf.add(tf.mul(c.alpha, p.x), tf.mul(c.sigma, p.eps));
        assert.ok(maxAbsDiff(zBack, z) < 1e-4);
      });
    });
  }
  it('v = α·ε − σ·x is what the v-network must output for a perfect x̂', () => {
    tf.tidy(() => {
      const c = coefs([0.5], 2);
      const x = tf.tensor([[0.3, -0.2]]);
      const eps = tf.tensor([[1.1, 0.4]]);
      const z = diffuse({ x, eps, c });
      const v = outputFor({ x, z, c, param: 'v' }).dataSync();
      const a = alpha(0.5);
      const s = sigma(0.5);
      close(v[0], a * 1.1 - s * 0.3, 1e-5);
      close(v[1], a * 0.4 + s * 0.2, 1e-5);
    });
  });
});

describe('classifier-free guidance', () => {
  it('x̂^w = (1+w)·x̂(c) − w·x̂(∅); w = 0 is the conditional model', () => {
    tf.tidy(() => {
      const cond = tf.tensor([[1, 2]]);
      const uncond = tf.tensor([[0.5, -1]]);
      assert.deepEqual(Array.from(guide({ cond, uncond, w: tf.tensor([[0]]) }).dataSync()), [1, 2]);
      assert.deepEqual(Array.from(guide({ cond, uncond, w: tf.tensor([[2]]) }).dataSync()), [2, 8]);
    });
  });
  it('the guided teacher at w = 0 equals its conditional prediction (one batched call of 2B)', () => {
    const net = buildNet({ model: mlp, exampleShape: [2], numClasses: 3, withW: false, seed: 3 });
    // perturb the zero-initialised output layer so the prediction depends on the class
    net.params.get('out.w').assign(tf.randomNormal([32, 2], 0, 0.5, 'float32', 7));
    const d = { net, param: 'v' as const, schedule: { logSnrMin: -20, logSnrMax: 20 } };
    tf.tidy(() => {
      const z = tf.tensor(new Rng(2).normals(8), [4, 2]);
      const lambdas = Float32Array.from([-3, 0, 2, 5]);
      const classes = Int32Array.from([0, 1, 2, 1]);
      const g0 = guidedX(d, { z, lambdas, classes, w: new Float32Array(4) });
      const c = denoise(d, { z, lambdas, classes }).x;
      assert.ok(maxAbsDiff(g0, c) < 1e-5);
      const g3 = guidedX(d, { z, lambdas, classes, w: new Float32Array(4).fill(3) });
      const u = denoise(d, { z, lambdas, classes: new Int32Array(4).fill(3) }).x;
      assert.ok(maxAbsDiff(g3, tf.sub(tf.mul(c, 4), tf.mul(u, 3))) < 1e-4);
    });
    net.dispose();
  });
});

describe('stage-2 distillation target', () => {
  for (const ns of [1, 2, 4, 16]) {
    it(`one DDIM step with x̂ = x̃ from z_t lands on the teacher's two-step z_t'' (N_student = ${ns}, all i incl. the last step)`, () => {
      const net = buildNet({ model: mlp, exampleShape: [2], numClasses: 2, withW: true, seed: 5 });
      net.params.get('out.w').assign(tf.randomNormal([32, 2], 0, 0.5, 'float32', 11));
      const d = { net, param: 'v' as const, schedule: { logSnrMin: -20, logSnrMax: 20 } };
      const b = ns; // one example per i = 1..ns
      tf.tidy(() => {
        const t = Float32Array.from({ length: b }, (_, k) => (k + 1) / ns);
        const lamT = Float32Array.from(t, (v) => logSnr(v));
        const lam1 = Float32Array.from(t, (v) => logSnr(v - 0.5 / ns));
        const last = Array.from(t, (v) => Math.abs(v - 1 / ns) < 1e-9);
        const lam2 = Float32Array.from(t, (v, k) => (last[k] ? 20 : logSnr(v - 1 / ns)));
        const z = tf.tensor(new Rng(9).normals(2 * b), [b, 2]);
        const classes = Int32Array.from({ length: b }, (_, k) => k % 2);
        const w = Float32Array.from({ length: b }, (_, k) => (k * 1.3) % 4);
        const x1 = denoise(d, { z, lambdas: lamT, classes, w }).x;
        const z1 = ddimStep({ z, x: x1, lambdaT: lamT, lambdaS: lam1 });
        const x2 = denoise(d, { z: z1, lambdas: lam1, classes, w }).x;
        const z2 = ddimStep({ z: z1, x: x2, lambdaT: lam1, lambdaS: lam2, toZero: last });
        const xt = distillTarget({ zT: z, zT2: z2, xAtMid: x2, lambdaT: lamT, lambdaT2: lam2, lastStep: last });
        const landed = ddimStep({ z, x: xt, lambdaT: lamT, lambdaS: lam2, toZero: last });
        const err = maxAbsDiff(landed, z2);
        assert.ok(err < 1e-4, `student step misses z_t'' by ${err}`);
        if (last.some(Boolean)) {
          // last step: the student's step to 0 returns x̂ = x̃ = x̂_T(z_t') = z_0''
          const k = last.indexOf(true);
          assert.ok(maxAbsDiff(tf.slice(xt, [k, 0], [1, 2]), tf.slice(x2, [k, 0], [1, 2])) < 1e-6);
        }
      });
      net.dispose();
    });
  }
});

describe('stochastic sampler', () => {
  it('re-noising from k to s has mean (α_s/α_k)·z_k and variance σ²_{s|k} = (1 − e^{λs−λk})·σ_s²', () => {
    const lk = logSnr(0.5);
    const ls = logSnr(0.75);
    const n = 200_000;
    const rng = new Rng(4);
    const zk = 0.7;
    const out = tf.tidy(() =>
      renoise({ zK: tf.fill([n], zk), eps: tf.tensor(rng.normals(n)), lambdaK: lk, lambdaS: ls }).dataSync(),
    );
    let mean = 0;
    for (const v of out) mean += v;
    mean /= n;
    let v2 = 0;
    for (const v of out) v2 += (v - mean) ** 2;
    v2 /= n - 1;
    const expMean = (alpha(ls) / alpha(lk)) * zk;
    const expVar = (1 - Math.exp(ls - lk)) * sigma(ls) ** 2;
    close(mean, expMean, 5 * Math.sqrt(expVar / n), 'mean');
    close(v2, expVar, 0.02 * expVar, 'variance');
  });
  it('matches the forward process marginal: re-noised q(z_k | x) is q(z_s | x)', () => {
    // z_k = α_k x + σ_k ε ⇒ z_s = (α_s/α_k) z_k + σ_{s|k} ε' has variance σ_s² around α_s x
    const lk = logSnr(0.3);
    const ls = logSnr(0.6);
    const ak = alpha(lk);
    const sk = sigma(lk);
    const as = alpha(ls);
    const ss = sigma(ls);
    const total = (as / ak) ** 2 * sk ** 2 + (1 - Math.exp(ls - lk)) * ss ** 2;
    close(total, ss ** 2, 1e-12);
  });
  it('a student sampler uses 1 NFE per step, the guided teacher 2', async () => {
    const teacher = buildNet({ model: mlp, exampleShape: [2], numClasses: 2, withW: false, seed: 1 });
    const student = buildNet({ model: mlp, exampleShape: [2], numClasses: 2, withW: true, seed: 1 });
    const sched = { logSnrMin: -20, logSnrMax: 20 };
    const req = { classes: Int32Array.from([0, 1]), w: Float32Array.from([1, 2]), steps: 4, seed: 0 };
    const a = await sample({ net: teacher, param: 'v', schedule: sched }, { ...req, sampler: 'ddim' });
    const b = await sample({ net: student, param: 'v', schedule: sched }, { ...req, sampler: 'stochastic' });
    assert.equal(a.nfe, 8);
    assert.equal(b.nfe, 4);
    assert.ok(b.x.every(Number.isFinite));
    teacher.dispose();
    student.dispose();
  });
});

describe('student initialisation', () => {
  for (const model of [mlp, unet]) {
    it(`a ${model.kind} student copied from the teacher equals the teacher's conditional model at any w`, () => {
      const shape = model.kind === 'mlp' ? [2] : [8, 8, 1];
      const teacher = buildNet({ model, exampleShape: shape, numClasses: 3, withW: false, seed: 2 });
      // make every zero-initialised layer non-zero so the comparison is not trivially 0 = 0
      for (const { name, variable } of teacher.params.list()) {
        if (/\.(w)$/.test(name))
          variable.assign(tf.add(variable, tf.randomNormal(variable.shape, 0, 0.05, 'float32', 13)));
      }
      const student = buildNet({ model, exampleShape: shape, numClasses: 3, withW: true, seed: 99 });
      const copied = copyParams(teacher, student);
      assert.equal(copied.length, teacher.params.list().length);
      assert.ok(student.params.list().some((p) => p.name.startsWith('wemb.')));
      tf.tidy(() => {
        const b = 3;
        const n = shape.reduce((a, c) => a * c, 1);
        const z = tf.tensor(new Rng(1).normals(b * n), [b, ...shape]);
        const lam = Float32Array.from([-5, 0, 7]);
        const cls = Int32Array.from([0, 2, 3]);
        const t = teacher.apply(z, lam, cls);
        const s = student.apply(z, lam, cls, Float32Array.from([0, 1.5, 4]));
        assert.ok(maxAbsDiff(t, s) === 0, `student differs by ${maxAbsDiff(t, s)}`);
        assert.ok(tf.max(tf.abs(t)).dataSync()[0] > 1e-3, 'outputs are non-trivial');
      });
      teacher.dispose();
      student.dispose();
    });
  }
  it('the U-Net reports parameters and FLOPs of the known-good 16×16 size', () => {
    const net = buildNet({
      model: { ...unet, channels: [32, 64], groups: 8, embedDim: 128, attention: false },
      exampleShape: [16, 16, 1],
      numClasses: 10,
      withW: false,
      seed: 0,
    });
    const params = net.params.count();
    assert.ok(params > 300_000 && params < 500_000, `params ${params}`);
    assert.ok(net.flopsPerExample > 50e6 && net.flopsPerExample < 90e6, `flops ${net.flopsPerExample}`);
    net.dispose();
  });
});

describe("the students' training w (guidance.wPower)", () => {
  const cfgOf = (wPower: number) => ({ guidance: { wMin: 0.5, wMax: 4.5, wPower, sampleW: [] } });
  it('wPower 1 is the uniform draw on [wMin, wMax] (the paper), exactly', () => {
    for (const u of [0, 0.1, 0.37, 0.5, 0.999, 1]) assert.equal(studentW(cfgOf(1), u), 0.5 + 4 * u);
  });
  it('wPower 2 maps the same u to wMin + (wMax − wMin)·u², putting a quarter of the draws in the lowest sixteenth', () => {
    const rng = new Rng(3, 'w');
    const n = 20_000;
    let low = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = studentW(cfgOf(2), rng.uniform());
      assert.ok(w >= 0.5 && w <= 4.5, `w ${w}`);
      if (w < 0.5 + 4 / 16) low++;
      sum += w;
    }
    close(low / n, 0.25, 0.015, 'share below wMin + (wMax − wMin)/16');
    close(sum / n, 0.5 + 4 / 3, 0.03, 'mean (E u² = 1/3)');
    close(studentW(cfgOf(2), 0.5), 1.5, 1e-12, 'u = 0.5');
  });
  it('run folders made before wPower existed keep their config hash (so they still resume); wPower 2 is a new config', () => {
    const cfg = resolveConfig({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' } });
    assert.equal(cfg.guidance.wPower, 1);
    const { wPower: _omit, ...older } = cfg.guidance;
    assert.equal(configHash(cfg), configHash({ ...cfg, guidance: older } as typeof cfg));
    assert.notEqual(configHash({ ...cfg, guidance: { ...cfg.guidance, wPower: 2 } }), configHash(cfg));
  });
});
