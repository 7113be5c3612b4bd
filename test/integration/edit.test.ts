/**
 * `edit` (src/engine/method/sdedit.ts): SDEdit and inpainting in model space — strength 0 returns the input, strength 1 is
 * plain sampling with the same seed, the start is the input diffused to S, inpainting keeps the known values
 * exactly, nothing leaks, and bad requests name the field. Then `distill edit` on a tiny trained run folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { coefs, diffuse } from '../../src/engine/method/diffusion';
import { edit, EditRequest, editTimes } from '../../src/engine/method/sdedit';
import { readImageForRun, readMaskForRun } from '../../src/engine/tasks/edit';
import { decodePng, encodePng, toByte } from '../../src/engine/io/png';
import { buildNet, ModelConfig } from '../../src/engine/nn/net';
import { Rng } from '../../src/engine/random/rng';
import { Denoiser, sample, SamplingCancelled, xPrediction } from '../../src/engine/method/samplers';
import { logSnr } from '../../src/engine/method/schedule';
import { tinyDigitsRun } from '../helpers/runs';

const unet: ModelConfig = {
  kind: 'unet',
  parameterization: 'v',
  channels: [8, 16],
  blocksPerLevel: 1,
  attention: false,
  groups: 4,
  embedDim: 16,
  hidden: 0,
  depth: 0,
};
const SHAPE = [8, 8, 3];
const SIZE = 8 * 8 * 3;
const schedule = { logSnrMin: -20, logSnrMax: 20 };

/** A tiny U-Net whose zero-initialised layers are made non-zero, so its predictions depend on z, λ, c (and w). */
function denoiser(withW: boolean): Denoiser {
  const net = buildNet({ model: unet, exampleShape: SHAPE, numClasses: 3, withW, seed: 4 });
  let k = 0;
  for (const { name, variable } of net.params.list()) {
    if (/\.w$/.test(name))
      variable.assign(tf.tidy(() => tf.add(variable, tf.randomNormal(variable.shape, 0, 0.05, 'float32', 17 + k++))));
  }
  return { net, param: 'v', schedule };
}

let teacher: Denoiser;
let student: Denoiser;
/** Two inputs in [-1, 1]: a smooth ramp and a seeded pattern. */
const x0 = Float32Array.from({ length: 2 * SIZE }, (_, i) => (i < SIZE ? (i / SIZE) * 2 - 1 : Math.sin(i * 0.37)));
const base = (_d: Denoiser, extra: Partial<EditRequest> = {}): EditRequest => ({
  x0,
  classes: Int32Array.from([1, 2]),
  w: Float32Array.from([2, 0.5]),
  strength: 0.6,
  steps: 3,
  seed: 5,
  ...extra,
});
/** Left half of every image repainted (1), right half kept (0). */
const halfMask = Float32Array.from({ length: SIZE }, (_, i) => (Math.floor(i / 3) % 8 < 4 ? 1 : 0));
const maxDiff = (a: Float32Array, b: Float32Array, pick: (i: number) => boolean = () => true) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (pick(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  teacher = denoiser(false);
  student = denoiser(true);
});

describe('edit: SDEdit in model space', () => {
  it('strength 0 returns the input exactly, with 0 NFE (with or without a mask)', async () => {
    for (const d of [teacher, student]) {
      for (const mask of [undefined, halfMask]) {
        const r = await edit(d, base(d, { strength: 0, mask }));
        assert.deepEqual(r.x, x0);
        assert.notEqual(r.x, x0, "a copy, not the caller's array");
        assert.equal(r.nfe, 0);
      }
    }
  });

  it('strength 1 without a mask is plain DDIM sampling with the same seed (bit for bit), teacher and student', async () => {
    for (const [d, perStep] of [
      [teacher, 2],
      [student, 1],
    ] as const) {
      for (const steps of [1, 4]) {
        const req = base(d, { strength: 1, steps, seed: 11 });
        const e = await edit(d, req);
        const s = await sample(d, { classes: req.classes, w: req.w, steps, sampler: 'ddim', seed: 11 });
        assert.deepEqual(e.x, s.x, `${d.net.withW ? 'student' : 'teacher'} at ${steps} steps`);
        assert.equal(e.nfe, s.nfe);
        assert.equal(e.nfe, perStep * steps);
      }
    }
  });

  it("starts from the input diffused to t = S with the sampler's noise: one step is x̂(α_S·x0 + σ_S·ε) at t = S", async () => {
    const S = 0.45;
    const r = await edit(student, base(student, { strength: S, steps: 1 }));
    const lam = logSnr(S, schedule);
    const want = tf.tidy(() => {
      const z = diffuse({
        x: tf.tensor(x0, [2, ...SHAPE]),
        eps: tf.tensor(new Rng(5, 'sample').normals(2 * SIZE), [2, ...SHAPE]),
        c: coefs([lam, lam], 4),
      });
      return xPrediction(student, {
        z,
        lambdas: Float32Array.from([lam, lam]),
        classes: Int32Array.from([1, 2]),
        w: Float32Array.from([2, 0.5]),
      }).dataSync();
    });
    assert.ok(maxDiff(r.x, want as Float32Array) < 1e-5, `differs by ${maxDiff(r.x, want as Float32Array)}`);
    assert.deepEqual(r.times, [S, 0]);
  });

  it('uses the K-step grid i/K restricted to [0, S] (⌈S·K⌉ steps); small strengths stay near the input, strength 1 does not', async () => {
    const r = await edit(teacher, base(teacher, { strength: 0.6, steps: 4 }));
    assert.deepEqual(r.times, [0.6, 0.5, 0.25, 0]);
    assert.equal(r.nfe, 6);
    assert.deepEqual(editTimes(0.5, 4), [0.5, 0.25, 0]);
    assert.deepEqual(editTimes(1, 4), [1, 0.75, 0.5, 0.25, 0]);
    assert.deepEqual(editTimes(0.3, 10), [0.3, 0.2, 0.1, 0]);
    assert.deepEqual(editTimes(0.01, 4), [0.01, 0]);
    const near = await edit(student, base(student, { strength: 0.05, steps: 2 }));
    const far = await edit(student, base(student, { strength: 1, steps: 2 }));
    assert.ok(maxDiff(near.x, x0) < 0.5, `strength 0.05 moved the input by ${maxDiff(near.x, x0)}`);
    assert.ok(
      maxDiff(far.x, x0) > 3 * maxDiff(near.x, x0),
      `strength 1: ${maxDiff(far.x, x0)}, 0.05: ${maxDiff(near.x, x0)}`,
    );
  });

  it('is seeded: the same seed gives the same edit, another seed another one', async () => {
    const a = await edit(student, base(student));
    const b = await edit(student, base(student));
    const c = await edit(student, base(student, { seed: 6 }));
    assert.deepEqual(a.x, b.x);
    assert.ok(maxDiff(a.x, c.x) > 1e-3);
  });
});

describe('edit: inpainting', () => {
  const known = (i: number) => halfMask[i % SIZE] === 0;
  for (const strength of [0.7, 1]) {
    it(`keeps the known region exactly and repaints the rest (strength ${strength}, teacher and student)`, async () => {
      for (const d of [teacher, student]) {
        const r = await edit(d, base(d, { strength, steps: 3, mask: halfMask }));
        assert.equal(maxDiff(r.x, x0, known), 0, 'known values changed');
        assert.ok(maxDiff(r.x, x0, (i) => !known(i)) > 1e-2, 'the masked region was not repainted');
        const plain = await edit(d, base(d, { strength, steps: 3 }));
        assert.ok(
          maxDiff(r.x, plain.x, (i) => !known(i)) > 1e-4,
          'the known region did not condition the repainted one',
        );
      }
    });
  }

  it('takes one mask per input as well as one shared by the batch', async () => {
    const perInput = new Float32Array(2 * SIZE);
    perInput.set(halfMask, 0);
    perInput.fill(1, SIZE); // the second input is repainted everywhere
    const r = await edit(student, base(student, { mask: perInput }));
    const shared = await edit(student, base(student, { mask: halfMask }));
    assert.deepEqual(r.x.subarray(0, SIZE), shared.x.subarray(0, SIZE));
    assert.ok(maxDiff(r.x, x0, (i) => i >= SIZE && halfMask[i - SIZE] === 0) > 1e-2);
  });
});

/**
 * An exact denoiser (x-prediction) for data made of K isotropic Gaussians N(μ_c, s²·I): x̂(z, c) is the posterior mean
 * μ_c + α·s²/(α²s² + σ²)·(z − α·μ_c); x̂(z, ∅) weighs those by each class's responsibility. withW: a perfect stage-1
 * student, (1 + w)·x̂(c) − w·x̂(∅) in one call.
 */
function gaussianOracle(means: number[][], s: number, withW: boolean): Denoiser {
  const K = means.length;
  const D = means[0].length;
  const M = tf.tensor2d(means);
  const net = {
    kind: 'unet' as const,
    params: undefined as never,
    withW,
    numClasses: K,
    exampleShape: [D],
    flopsPerExample: 0,
    apply(z: tf.Tensor, lambda: Float32Array, cls: Int32Array, w?: Float32Array): tf.Tensor {
      return tf.tidy(() => {
        const b = cls.length;
        const a = Float32Array.from(lambda, (l) => Math.sqrt(1 / (1 + Math.exp(-l))));
        const v = Float32Array.from(a, (al) => al * al * s * s + (1 - al * al));
        const A = tf.tensor(a, [1, b, 1]);
        const V = tf.tensor(v, [1, b, 1]);
        const zz = tf.expandDims(tf.reshape(z, [b, D]), 0); // [1, B, D]
        const r = tf.sub(zz, tf.mul(A, tf.expandDims(M, 1))); // z − α·μ_c: [K, B, D]
        const post = tf.add(tf.expandDims(M, 1), tf.mul(tf.div(tf.mul(A, s * s), V), r)); // [K, B, D]
        const resp = tf.softmax(tf.transpose(tf.div(tf.sum(tf.square(r), 2), tf.mul(tf.reshape(V, [1, b]), -2))), 1); // [B, K]
        const pick = (c: Int32Array) =>
          tf.where(
            tf.tensor(
              Array.from(c, (k) => k === K),
              [b, 1],
              'bool',
            ),
            resp,
            tf.oneHot(
              tf.tensor1d(
                Array.from(c, (k) => Math.min(k, K - 1)),
                'int32',
              ),
              K,
            ),
          );
        const mix = (c: Int32Array) => tf.sum(tf.mul(tf.expandDims(tf.transpose(pick(c)), 2), post), 0); // [B, D]
        if (!withW) return tf.reshape(mix(cls), z.shape);
        const W = tf.tensor(w!, [b, 1]);
        return tf.reshape(tf.sub(tf.mul(tf.add(W, 1), mix(cls)), tf.mul(W, mix(new Int32Array(b).fill(K)))), z.shape);
      });
    },
    dispose: () => M.dispose(),
  };
  return { net, param: 'x', schedule };
}

describe('edit: towards another class (exact denoisers of a 3-class Gaussian mixture)', () => {
  it('inputs of class 0 edited towards class 1 are classified as class 1, by the guided teacher at 64 steps and a w-student at 4', async () => {
    const D = 16;
    const means = [
      Array.from({ length: D }, (_, i) => (i < D / 2 ? 0.6 : -0.6)),
      Array.from({ length: D }, (_, i) => (i < D / 2 ? -0.6 : 0.6)),
      Array.from({ length: D }, (_, i) => (i % 2 ? 0.6 : -0.6)),
    ];
    const s = 0.35;
    const n = 40;
    const rng = new Rng(21, 'inputs');
    const x = Float32Array.from({ length: n * D }, (_, i) => means[0][i % D] + s * rng.normal());
    /** Nearest-mean classifier (the Bayes classifier of this mixture). */
    const classify = (v: Float32Array) =>
      Array.from({ length: n }, (_, j) => {
        const dist = means.map((m) => m.reduce((acc, mi, i) => acc + (v[j * D + i] - mi) ** 2, 0));
        return dist.indexOf(Math.min(...dist));
      });
    const share = (v: Float32Array, c: number) => classify(v).filter((k) => k === c).length / n;
    assert.equal(share(x, 1), 0, 'the inputs are class 0');
    for (const [withW, steps] of [
      [false, 64],
      [true, 4],
    ] as const) {
      const d = gaussianOracle(means, s, withW);
      const req = (strength: number): EditRequest => ({
        x0: x,
        classes: new Int32Array(n).fill(1),
        w: new Float32Array(n).fill(2),
        strength,
        steps,
        seed: 3,
      });
      const low = await edit(d, req(0.15));
      const high = await edit(d, req(0.6));
      assert.equal(high.nfe, withW ? 3 : 2 * 39); // ⌈0.6·4⌉ steps; ⌈0.6·64⌉ steps of 2 NFE
      assert.ok(
        share(high.x, 1) >= 0.9,
        `${withW ? 'student' : 'teacher'}: ${share(high.x, 1)} of the edits are class 1`,
      );
      // A light edit stays closer to its input: on the teacher's 64-step grid. The 4-step student's grid has no time
      // below 0.25, so strength 0.15 is one x̂ step there, and an exact class-1 posterior is class 1 at any noise level.
      const moved = (v: Float32Array) => v.reduce((acc, vi, i) => acc + (vi - x[i]) ** 2, 0);
      if (!withW)
        assert.ok(
          moved(low.x) < 0.5 * moved(high.x),
          `teacher: moved ${moved(low.x)} at strength 0.15, ${moved(high.x)} at 0.6`,
        );
      else assert.deepEqual(low.times, [0.15, 0]);
      // towards the input's own class, nothing leaves it
      const same = await edit(d, { ...req(0.6), classes: new Int32Array(n).fill(0) });
      assert.equal(share(same.x, 0), 1);
      d.net.dispose();
    }
  });
});

describe('edit: resources and errors', () => {
  it('leaves tf.memory() flat (teacher with a mask, student without, and a cancelled edit)', async () => {
    await edit(teacher, base(teacher, { mask: halfMask }));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await edit(teacher, base(teacher, { mask: halfMask, steps: 4 }));
      await edit(student, base(student, { strength: 1 }));
    }
    let calls = 0;
    await assert.rejects(
      edit(student, base(student, { steps: 6, mask: halfMask, cancelled: () => ++calls > 2 })),
      SamplingCancelled,
    );
    assert.equal(tf.memory().numTensors, before);
  });

  it('names the bad argument and what was expected', async () => {
    const cases: [Partial<EditRequest>, RegExp][] = [
      [{ strength: 1.2 }, /strength: expected a number in \[0, 1\], got 1.2$/],
      [{ strength: -0.1 }, /strength: expected a number in \[0, 1\], got -0.1$/],
      [{ strength: NaN }, /strength: expected a number in \[0, 1\], got NaN$/],
      [{ steps: 0 }, /steps: expected a positive integer, got 0$/],
      [{ steps: 2.5 }, /steps: expected a positive integer, got 2.5$/],
      [{ classes: Int32Array.from([1, 3]) }, /class: 3 is out of range; the model has classes 0 to 2$/],
      [{ classes: Int32Array.from([-1, 0]) }, /class: -1 is out of range/],
      [{ w: Float32Array.from([1]) }, /w: expected one guidance weight per input \(2\), got 1$/],
      [{ x0: x0.subarray(0, SIZE) }, /image: expected 2 × \[8, 8, 3\] = 384 model-space values, got 192$/],
      [
        { mask: new Float32Array(64).fill(1) },
        /mask: expected \[8, 8, 3\] = 192 values \(or 384 for 2 inputs\), the shape of the image; got 64$/,
      ],
      [{ mask: new Float32Array(SIZE).fill(0.5) }, /mask: value 0 is 0.5; expected 0 \(keep\) or 1 \(repaint\)$/],
      [{ seed: 1.5 }, /seed: expected an integer, got 1.5$/],
    ];
    for (const [extra, re] of cases) await assert.rejects(edit(student, base(student, extra)), re);
  });
});

describe('distill edit (the CLI on a tiny trained digits run)', () => {
  const REPO = path.resolve(__dirname, '..', '..');
  const CLI = path.join(REPO, 'dist', 'cli.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-edit-'));
  const distill = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
  /** An 8×8 grey input (a bright bar on a dark ramp) and a mask repainting its top half. */
  const input = Uint8Array.from({ length: 64 }, (_, p) => (p % 8 === 3 || p % 8 === 4 ? 240 : 4 * p));
  const maskTop = Uint8Array.from({ length: 64 }, (_, p) => (p < 32 ? 255 : 0));

  before(async () => {
    if (!fs.existsSync(CLI))
      assert.equal(spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' }).status, 0);
    await tinyDigitsRun(tmp, 'tiny');
    fs.writeFileSync(path.join(tmp, 'in.png'), encodePng(input, 8, 8, 1));
    fs.writeFileSync(path.join(tmp, 'mask.png'), encodePng(maskTop, 8, 8, 1));
  });

  it("edits with the most distilled student by default and writes the image alone at the model's resolution", () => {
    const r = distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '7',
      '--strength',
      '0.6',
      '--w',
      '2',
      '--out',
      'out/edit.png',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /out\/edit\.png: edited 8×8×1 image towards class 7 \(7\) at w = 2, strength 0\.6; progressive-4-2 · step-\d+\.ckpt · 2 steps of the 2-step grid from t = 0\.6 · 2 NFE · [\d.]+ ms/,
    );
    const png = decodePng(fs.readFileSync(path.join(tmp, 'out', 'edit.png')));
    assert.deepEqual([png.width, png.height, png.channels], [8, 8, 1]);
    assert.ok(
      png.data.some((v, i) => v !== input[i]),
      'the edit changed nothing',
    );
    // the same command again gives the same image (seed 0 by default); another seed another one
    distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '7',
      '--strength',
      '0.6',
      '--w',
      '2',
      '--out',
      'again.png',
    ]);
    assert.deepEqual(fs.readFileSync(path.join(tmp, 'again.png')), fs.readFileSync(path.join(tmp, 'out', 'edit.png')));
    distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '7',
      '--strength',
      '0.6',
      '--w',
      '2',
      '--seed',
      '9',
      '--out',
      'other.png',
    ]);
    assert.notDeepEqual(
      fs.readFileSync(path.join(tmp, 'other.png')),
      fs.readFileSync(path.join(tmp, 'out', 'edit.png')),
    );
  });

  it('strength 0 writes the input back unchanged; the teacher takes 2 NFE per step', () => {
    const r = distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '1',
      '--strength',
      '0',
      '--w',
      '1',
      '--out',
      'same.png',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(decodePng(fs.readFileSync(path.join(tmp, 'same.png'))).data, input);
    const t = distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '1',
      '--strength',
      '0.5',
      '--w',
      '1',
      '--stage',
      'teacher',
      '--out',
      't.png',
    ]);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, / teacher · step-\d+\.ckpt · 3 steps of the 6-step grid from t = 0\.5 · 6 NFE /);
    const g = distill([
      'edit',
      'runs/tiny',
      '--image',
      'in.png',
      '--class',
      '1',
      '--strength',
      '0.5',
      '--w',
      '1',
      '--stage',
      'guided',
      '--steps',
      '3',
      '--out',
      'g.png',
    ]);
    assert.match(g.stdout, / guided · step-\d+\.ckpt · 2 steps of the 3-step grid from t = 0\.5 · 2 NFE /);
  });

  it("with --mask, inpaints: the black (kept) pixels are exactly the input's, the white ones repainted", () => {
    for (const stage of ['progressive', 'teacher']) {
      const r = distill([
        'edit',
        'runs/tiny',
        '--image',
        'in.png',
        '--mask',
        'mask.png',
        '--class',
        '3',
        '--strength',
        '1',
        '--w',
        '2',
        '--stage',
        stage,
        '--out',
        `inpaint-${stage}.png`,
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /: inpainted 8×8×1 image towards class 3/);
      const png = decodePng(fs.readFileSync(path.join(tmp, `inpaint-${stage}.png`)));
      assert.deepEqual([png.width, png.height, png.channels], [8, 8, 1]);
      assert.deepEqual(png.data.subarray(32), input.subarray(32), `${stage}: kept pixels changed`);
      assert.notDeepEqual(png.data.subarray(0, 32), input.subarray(0, 32), `${stage}: nothing repainted`);
    }
  });

  it('reads other sizes and colour images like the training images (centre crop, resize, luma) and resizes the mask with nearest', () => {
    // a 24×16 RGB input and a 32×32 RGBA mask whose left 12 columns are white (repaint), the rest black
    const rgb = Uint8Array.from({ length: 24 * 16 * 3 }, (_, i) => (i * 37) % 256);
    fs.writeFileSync(path.join(tmp, 'wide.png'), encodePng(rgb, 24, 16, 3));
    const rgba = new Uint8Array(32 * 32 * 4);
    for (let p = 0; p < 32 * 32; p++) rgba.set(p % 32 < 12 ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * p);
    fs.writeFileSync(path.join(tmp, 'mask32.png'), encodePng(rgba, 32, 32, 4));
    const mask = readMaskForRun(path.join(tmp, 'mask32.png'), 8, 1);
    // output column x samples input column floor((x + 0.5)·4) < 12 ⇔ x ≤ 2
    assert.deepEqual(Array.from(mask.subarray(0, 8)), [1, 1, 1, 0, 0, 0, 0, 0]);
    // at 4×4×3: column x samples floor((x + 0.5)·8): only x = 0 is white; every channel gets the pixel's value
    assert.deepEqual(
      Array.from(readMaskForRun(path.join(tmp, 'mask32.png'), 4, 3).subarray(0, 12)),
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    const want = Array.from(readImageForRun(path.join(tmp, 'wide.png'), 8, 1), toByte);
    const r = distill([
      'edit',
      'runs/tiny',
      '--image',
      'wide.png',
      '--mask',
      'mask32.png',
      '--class',
      '0',
      '--strength',
      '0.8',
      '--w',
      '0',
      '--out',
      'wide-out.png',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const png = decodePng(fs.readFileSync(path.join(tmp, 'wide-out.png')));
    assert.deepEqual([png.width, png.height, png.channels], [8, 8, 1]);
    for (let p = 0; p < 64; p++) if (mask[p] === 0) assert.equal(png.data[p], want[p], `kept pixel ${p}`);
  });

  it('names the bad flag or file and what was expected', () => {
    const cases: [string[], RegExp][] = [
      [['--strength', '1.5'], /--strength: expected a number in \[0, 1\], got "1\.5"/],
      [['--strength', ''], /--strength: required/],
      [['--class', '12'], /class: 12 is out of range; the run has classes 0 to 9/],
      [['--class', 'cat'], /class: "cat" is neither a class id \(0 to 9\) nor a class name/],
      [['--steps', '0'], /--steps: expected a positive integer, got "0"/],
      [['--stage', 'student'], /--stage: expected teacher, guided, progressive or consistency/],
      [['--stage', 'progressive', '--steps', '3'], /--steps 3: no progressive student has 3 steps; available: 2/],
      [['--mask', 'nowhere.png'], /mask: cannot read .*nowhere\.png: no such file/],
      [['--image', 'nowhere.png'], /image: cannot read .*nowhere\.png: no such file/],
      [['--image', 'tiny.distill.json'], /corrupt image tiny\.distill\.json: not a PNG or JPEG file/],
      [['--out', 'x.jpg'], /--out: expected a file name ending in \.png, got "x\.jpg"/],
    ];
    const good: Record<string, string> = {
      '--image': 'in.png',
      '--class': '2',
      '--strength': '0.5',
      '--w': '1',
      '--out': 'bad.png',
    };
    for (const [flags, re] of cases) {
      const args: Record<string, string> = { ...good };
      for (let i = 0; i < flags.length; i += 2) args[flags[i]] = flags[i + 1];
      const r = distill(['edit', 'runs/tiny', ...Object.entries(args).flat()]);
      assert.notEqual(r.status, 0, `${flags.join(' ')} was accepted`);
      assert.match(r.stderr, re);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'bad.png')));
    const missing = distill(['edit', 'runs/tiny', '--class', '2', '--strength', '0.5', '--w', '1', '--out', 'bad.png']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--image: required/);
  });
});
