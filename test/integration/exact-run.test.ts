/**
 * The exact teacher as a run's teacher: mixture data (the blobs preset and the digits mixture fitted by seeded EM),
 * teacher.kind "exact" through the config, a tiny exact-blobs run through runStages that resumes bit for bit, and
 * the report's distance to exact (mseToExact, the distribution distance to a second exact set and its floor), for
 * 2-D points and, in a tiny exact-digits run, for images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { createRun, ensureBackend, evaluateRun, loadDenoiser, loadRunConfig, runStages } from '../../src/engine';
import { loadDataset } from '../../src/engine/data';
import {
  checkMixture,
  DIGITS_MIXTURE,
  fitDigitsMixture,
  mixtureFromJson,
  presetMixture,
  sampleMixture,
} from '../../src/engine/data/mixture';
import { loadMnist } from '../../src/engine/data/mnist';
import { ConfigError, configHash, resolveConfig } from '../../src/engine/run/config';
import { LossEvent, RunEvent, summarizeEvents } from '../../src/engine/run/events';
import { plannedUnits } from '../../src/extension/model/run-nodes';
import { unitDescription } from '../../src/extension/model/format';
import { listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { readCheckpoint } from '../../src/engine/run/checkpoint';
import { EXACT_REFERENCE_STEPS } from '../../src/engine/tasks/evaluate';
import { runWithStops } from '../helpers/runs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-exact-'));

before(async () => {
  await ensureBackend('wasm', 1);
});

describe('mixture data', () => {
  it("the digits mixture: deterministic, per-class weights summing to 1, its mean and its samples' class means those of the real digits", () => {
    const t0 = performance.now();
    const a = fitDigitsMixture(2);
    const seconds = (performance.now() - t0) / 1000;
    const b = fitDigitsMixture(2);
    assert.deepEqual(a.means, b.means);
    assert.deepEqual(a.variances, b.variances);
    assert.deepEqual(a.weights, b.weights);
    checkMixture(a);
    assert.deepEqual(a.shape, [16, 16, 1]);
    assert.equal(a.numClasses, 10);
    for (let c = 0; c < 10; c++) {
      const w = a.weights.subarray(2 * c, 2 * c + 2);
      assert.ok(Math.abs(w[0] + w[1] - 1) < 1e-9, `class ${c} weights sum to ${w[0] + w[1]}`);
    }
    assert.ok(Math.min(...a.variances) >= DIGITS_MIXTURE.varianceFloor * (1 - 1e-6));
    // EM keeps Σ_k π_ck·μ_ck at the class's mean; samples drawn from the mixture land there too
    const real = loadMnist({ imageSize: 16 }, 'train');
    const D = 256;
    const realMean = new Float64Array(10 * D);
    const count = new Float64Array(10);
    for (let i = 0; i < real.n; i++) {
      count[real.labels[i]]++;
      for (let d = 0; d < D; d++) realMean[real.labels[i] * D + d] += real.x[i * D + d];
    }
    const drawn = sampleMixture(a, 10 * 400, 5);
    const sampleMean = new Float64Array(10 * D);
    for (let i = 0; i < 4000; i++)
      for (let d = 0; d < D; d++) sampleMean[drawn.labels[i] * D + d] += drawn.x[i * D + d] / 400;
    let mixErr = 0;
    let sampleErr = 0;
    for (let c = 0; c < 10; c++) {
      for (let d = 0; d < D; d++) {
        const r = realMean[c * D + d] / count[c];
        let mix = 0;
        for (let k = 0; k < 2; k++) mix += a.weights[c * 2 + k] * a.means[(c * 2 + k) * D + d];
        mixErr = Math.max(mixErr, Math.abs(mix - r));
        sampleErr += Math.abs(sampleMean[c * D + d] - r) / (10 * D);
      }
    }
    assert.ok(mixErr < 1e-3, `mixture mean vs real class mean: max |Δ| ${mixErr}`);
    assert.ok(sampleErr < 0.03, `sample class means vs real: mean |Δ| ${sampleErr}`);
    assert.ok(seconds < 60, `the fit took ${seconds.toFixed(1)} s`);
  });

  it('data.kind "mixture": train and test splits drawn from the mixture with different seeds; the dataset carries it', async () => {
    const train = await loadDataset({ kind: 'mixture', preset: 'blobs', n: 400 }, { split: 'train', seed: 4 });
    const again = await loadDataset({ kind: 'mixture', preset: 'blobs', n: 400 }, { split: 'train', seed: 4 });
    const test = await loadDataset({ kind: 'mixture', preset: 'blobs', n: 400 }, { split: 'test', seed: 4 });
    assert.equal(train.kind, 'toy');
    assert.deepEqual(train.shape, [2]);
    assert.equal(train.numClasses, 4);
    assert.equal(train.mixture!.components, 3);
    assert.deepEqual(train.x, again.x);
    assert.notDeepEqual(train.x, test.x);
    assert.deepEqual(Array.from(train.labels.subarray(0, 8)), [0, 1, 2, 3, 0, 1, 2, 3]);
    assert.ok(
      train.x.every((v) => Math.abs(v) < 1.2),
      'blobs stay near [-1, 1]²',
    );
    const m = presetMixture('blobs', 2);
    assert.equal(m.means.length, 4 * 2 * 2);
    assert.ok(m.means.every((v) => Math.abs(v) <= 0.85));
  });
});

describe('teacher.kind in the config', () => {
  const base = {
    data: { kind: 'mixture', preset: 'blobs' },
    model: { kind: 'mlp' },
    teacher: { kind: 'exact' },
  };
  const errorsOf = (raw: Record<string, unknown>): string[] => {
    try {
      resolveConfig(raw, { file: 'x.distill.json', baseDir: '/base' });
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError, (e as Error).message);
      return e.errors;
    }
  };

  it('accepts an exact teacher on mixture data, fills data.components and defaults teacher.kind to "trained"', () => {
    const cfg = resolveConfig(base, { file: 'x.distill.json' });
    assert.equal(cfg.teacher.kind, 'exact');
    assert.equal((cfg.data as { components?: number }).components, 3);
    const trained = resolveConfig(
      { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' } },
      { file: 'y.distill.json' },
    );
    assert.equal(trained.teacher.kind, 'trained');
    // an old run folder (no teacher.kind) keeps its hash: "trained" is hash-neutral
    const explicit = resolveConfig(
      { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, teacher: { kind: 'trained' } },
      { file: 'y.distill.json' },
    );
    assert.equal(configHash(explicit), configHash(trained));
    assert.notEqual(
      configHash(resolveConfig({ ...base, teacher: { kind: 'trained' } }, { file: 'x.distill.json' })),
      configHash(resolveConfig(base, { file: 'x.distill.json' })),
    );
  });

  it('errors name the field: teacher.kind, data.preset, data.components, model.kind, guided.kind', () => {
    assert.deepEqual(
      errorsOf({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, teacher: { kind: 'exact' } }),
      ['teacher.kind: "exact" needs data.kind "mixture" (data whose optimal denoiser is known); data.kind is "toy2d"'],
    );
    assert.deepEqual(errorsOf({ ...base, teacher: { kind: 'perfect' } }), [
      'teacher.kind: expected one of "trained", "exact"',
    ]);
    assert.deepEqual(errorsOf({ ...base, data: { kind: 'mixture', preset: 'faces' } }), [
      'data.preset: expected one of "blobs", "digits"',
    ]);
    assert.deepEqual(errorsOf({ ...base, data: { kind: 'mixture', preset: 'blobs', components: 0 } }), [
      'data.components: 0 is out of range; expected an integer from 1 to 64',
    ]);
    assert.deepEqual(errorsOf({ ...base, data: { kind: 'mixture' } }), ['data.preset: required field is missing']);
    assert.deepEqual(errorsOf({ ...base, data: { kind: 'mixture', preset: 'digits' } }), [
      'model.kind: "mlp" is for 2-D points (data.kind "toy2d" or data.preset "blobs"); use "unet" for images',
    ]);
    assert.deepEqual(errorsOf({ ...base, model: { kind: 'unet' } }), [
      'model.kind: "unet" needs image data; use "mlp" for data.preset "blobs"',
    ]);
    assert.deepEqual(errorsOf({ ...base, guided: { kind: 'exact' } }), ['guided.kind: unknown field']);
  });

  it('the examples resolve', () => {
    for (const name of ['exact-blobs', 'exact-digits']) {
      const file = path.join(__dirname, '..', '..', 'examples', `${name}.distill.json`);
      const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
      const cfg = resolveConfig(raw, { file });
      assert.equal(cfg.teacher.kind, 'exact');
      assert.equal(cfg.progressive.targetSteps, 1);
    }
  });
});

const losses = (events: RunEvent[]) =>
  events.filter((e): e is LossEvent => e.type === 'loss').map((e) => `${e.unit}@${e.step}:${e.loss}`);

function writeConfig(name: string): string {
  const cfg = {
    name,
    seed: 3,
    backend: 'wasm',
    threads: 1,
    data: { kind: 'mixture', preset: 'blobs', n: 1024 },
    model: { kind: 'mlp', hidden: 32, depth: 2, embedDim: 16 },
    teacher: { kind: 'exact' },
    guided: { steps: 12, batch: 32, lr: 0.002 },
    progressive: { n0: 4, targetSteps: 1, steps: 6, batch: 32, lr: 0.001 },
    sampling: { interval: 0, teacherSteps: 8, perClass: 2 },
    checkpoint: { interval: 4, keep: 2 },
    log: { interval: 1 },
  };
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

describe('a tiny exact-blobs run', () => {
  let runDir = '';
  it('the teacher unit trains nothing: a final checkpoint at step 0 and mixture.json; the stages distil from it and resume bit for bit', async () => {
    const file = writeConfig('exact');
    const straight = await createRun({ configPath: file, runsDir: tmp, name: 'straight' });
    assert.equal(await runStages({ runDir: straight, summary: false }), 'finished');
    const broken = await createRun({ configPath: file, runsDir: tmp, name: 'broken' });
    await runWithStops(broken, ['guided@5', 'progressive-2-1@3']);
    const a = losses(readEvents(straight).events);
    assert.equal(a.length, 12 + 6 + 6);
    assert.deepEqual(losses(readEvents(broken).events), a);

    const events = readEvents(straight).events;
    const start = events.find((e) => e.type === 'stage_start' && e.unit === 'teacher');
    assert.deepEqual(
      start && {
        total: (start as { totalSteps: number }).totalSteps,
        step: (start as { startStep: number }).startStep,
      },
      { total: 0, step: 0 },
    );
    assert.ok(events.some((e) => e.type === 'stage_end' && e.unit === 'teacher' && e.step === 0));
    assert.ok(!events.some((e) => e.type === 'error'), 'no error events');
    // the run explorer: the teacher is planned at 0 steps and shown done at 0 steps
    const summary = summarizeEvents(events, false);
    assert.deepEqual(summary.units.map((u) => [u.unit, u.done, u.totalSteps]).slice(0, 2), [
      ['teacher', true, 0],
      ['guided', true, 12],
    ]);
    assert.deepEqual(
      plannedUnits(loadRunConfig(straight)).map((p) => `${p.unit}:${p.steps}`),
      ['teacher:0', 'guided:12', 'progressive-4-2:6', 'progressive-2-1:6'],
    );
    assert.equal(unitDescription(summary.units[0], 0), 'done · 0 steps');
    assert.deepEqual(
      listCheckpoints(straight, 'teacher').map((c) => c.step),
      [0],
    );
    assert.ok(fs.existsSync(path.join(straight, 'samples', 'teacher', 'step-0000000.png')));
    for (const u of ['guided', 'progressive-4-2', 'progressive-2-1'])
      assert.equal(readCheckpoint(path.join(straight, listCheckpoints(straight, u).pop()!.file)).header.final, true, u);

    // mixture.json holds the mixture the data was drawn from, and the teacher checkpoint holds the same numbers
    const m = mixtureFromJson(JSON.parse(fs.readFileSync(path.join(straight, 'mixture.json'), 'utf8')));
    const blobs = presetMixture('blobs', 3);
    assert.deepEqual(m.means, blobs.means);
    assert.deepEqual(m.variances, blobs.variances);
    const { header, arrays } = readCheckpoint(path.join(straight, listCheckpoints(straight, 'teacher')[0].file));
    assert.equal(header.final, true);
    assert.deepEqual(arrays.get('w/mixture.means')!.data, blobs.means);

    // loaded back as a denoiser (distill sample / eval), the exact teacher predicts E[x | z, c]: at tiny noise, ≈ z
    const d = await loadDenoiser(
      straight,
      loadRunConfig(straight),
      path.join(straight, listCheckpoints(straight, 'teacher')[0].file),
      'teacher',
    );
    try {
      const z = tf.tensor2d([0.4, 0.2, -0.3, 0.5], [2, 2]);
      const out = d.net.apply(z, new Float32Array([15, 15]), new Int32Array([0, 4]));
      assert.equal(d.net.params.count(), 4 + 12 + 24 + 24);
      const v = out.dataSync();
      assert.ok(v.every(Number.isFinite));
      tf.dispose([z, out]);
    } finally {
      d.net.dispose();
    }
    runDir = straight;
  });

  it('data-parallel workers load the exact teacher from its checkpoint: 2 workers match 1 process', async () => {
    const losses2 = async (name: string, parallel: string) => {
      const file = path.join(tmp, `${name}.distill.json`);
      const raw = JSON.parse(fs.readFileSync(writeConfig(name), 'utf8'));
      fs.writeFileSync(
        file,
        JSON.stringify({
          ...raw,
          threads: 2,
          parallel,
          guided: { steps: 4, batch: 32, lr: 0.002 },
          progressive: { n0: 2, targetSteps: 1, steps: 3, batch: 32, lr: 0.001 },
        }),
      );
      const dir = await createRun({ configPath: file, runsDir: tmp, name });
      assert.equal(await runStages({ runDir: dir, summary: false }), 'finished');
      const events = readEvents(dir).events;
      assert.ok(
        !events.some((e) => e.type === 'error'),
        `${name}: ${JSON.stringify(events.filter((e) => e.type === 'error'))}`,
      );
      return {
        note: (events.find((e) => e.type === 'backend') as { note?: string }).note ?? '',
        losses: events.filter((e): e is LossEvent => e.type === 'loss'),
      };
    };
    const one = await losses2('exact-one', 'threads');
    const two = await losses2('exact-two', 'workers');
    assert.match(two.note, /data-parallel on 2 worker threads/);
    assert.deepEqual(
      two.losses.map((e) => `${e.unit}@${e.step}`),
      one.losses.map((e) => `${e.unit}@${e.step}`),
    );
    for (let i = 0; i < one.losses.length; i++) {
      const a = one.losses[i].loss;
      assert.ok(
        Math.abs(a - two.losses[i].loss) <= 1e-4 * Math.max(Math.abs(a), 1e-12),
        `${one.losses[i].unit}@${one.losses[i].step}: ${a} vs ${two.losses[i].loss}`,
      );
    }
  });

  it('the report measures every row against the exact teacher at 1,024 steps: its own row is at 0, the floor is reported', async () => {
    assert.ok(runDir, 'the run of the previous test');
    const before = tf.memory().numTensors;
    const r = await evaluateRun({
      runDir,
      out: path.join(tmp, 'eval'),
      w: [0, 2],
      samples: 48,
      teacherSteps: [8],
      studentSteps: [1, 2],
    });
    assert.equal(tf.memory().numTensors, before, 'no tensor leak');
    const rep = r.data;
    assert.equal(rep.reference.steps, EXACT_REFERENCE_STEPS);
    assert.equal(rep.exact!.referenceSteps, EXACT_REFERENCE_STEPS);
    assert.deepEqual(
      rep.exact!.floor.map((f) => f.w),
      [0, 2],
    );
    for (const f of rep.exact!.floor) {
      assert.equal(f.fid, null);
      assert.ok(f.swd! > 0 && f.swd! < 0.5, `floor ${f.swd}`);
    }
    for (const w of [0, 2]) {
      const own = rep.rows.find((x) => x.w === w && x.model === 'teacher' && x.steps === EXACT_REFERENCE_STEPS)!;
      assert.equal(own.mseToExact, 0);
      // the floor is the exact samples' own distance to the independent exact set every row is measured against
      assert.equal(own.distToExact, rep.exact!.floor.find((f) => f.w === w)!.swd);
      const few = rep.rows.find((x) => x.w === w && x.model === 'teacher' && x.steps === 8)!;
      assert.ok(few.mseToExact! > 0 && few.mseToExact! < 0.5, `8-step exact teacher: ${few.mseToExact}`);
      const student = rep.rows.find((x) => x.w === w && x.model === 'progressive' && x.steps === 1)!;
      assert.ok(student.mseToExact! > 0 && Number.isFinite(student.mseToExact!));
    }
    assert.ok(rep.rows.every((x) => typeof x.mseToExact === 'number'));
    assert.ok(rep.rows.every((x) => x.distToExact! > 0 && Number.isFinite(x.distToExact!)));
    const md = fs.readFileSync(r.report, 'utf8');
    assert.match(md, /## Distance to the exact teacher \(1024 DDIM steps\)/);
    assert.match(md, /\| w \| model \| steps \| NFE \| MSE to exact ↓ \| SWD to exact ↓ \| floor \| × floor ↓ \|/);
    assert.match(md, /\| 0 \| exact teacher \| 1024 \| 2048 \| 0\.0000 \| ([\d.]+) \| \1 \| 1\.00× \|/);
    const json = JSON.parse(fs.readFileSync(path.join(tmp, 'eval', 'report.json'), 'utf8'));
    assert.equal(json.rows[0].mseToExact, 0);
  });
});

describe('a tiny exact-digits run', () => {
  it("images: every row's classifier-FID to a second set of exact samples; the exact teacher's own is the floor", async () => {
    const cfg = {
      name: 'exact-digits-tiny',
      seed: 5,
      backend: 'wasm',
      threads: 1,
      data: { kind: 'mixture', preset: 'digits', components: 1, n: 512 },
      model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16 },
      teacher: { kind: 'exact' },
      guided: { steps: 4, batch: 16, lr: 0.001 },
      progressive: { n0: 4, targetSteps: 2, steps: 2, batch: 16, lr: 0.001 },
      sampling: { interval: 0, teacherSteps: 4, perClass: 1 },
      checkpoint: { interval: 100, keep: 1 },
      log: { interval: 1 },
      eval: { classifierSteps: 30 },
    };
    const file = path.join(tmp, 'exact-digits-tiny.distill.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'exact-digits-tiny' });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const r = await evaluateRun({
      runDir,
      out: path.join(tmp, 'eval-digits'),
      w: [0],
      samples: 60,
      teacherSteps: [4],
      studentSteps: [2],
    });
    const rep = r.data;
    assert.equal(rep.dataset.kind, 'image');
    const floor = rep.exact!.floor.find((f) => f.w === 0)!;
    assert.equal(floor.swd, null);
    assert.ok(floor.fid! > 0 && Number.isFinite(floor.fid!), `floor ${floor.fid}`);
    const own = rep.rows.find((x) => x.model === 'teacher' && x.steps === EXACT_REFERENCE_STEPS)!;
    assert.equal(own.mseToExact, 0);
    assert.equal(own.distToExact, floor.fid);
    for (const row of rep.rows)
      assert.ok(row.distToExact! > 0 && Number.isFinite(row.distToExact!), JSON.stringify(row));
    // a 2-step student after 2 training steps is far from the exact teacher's distribution
    const student = rep.rows.find((x) => x.model === 'progressive' && x.steps === 2 && x.sampler === 'ddim')!;
    assert.ok(student.distToExact! > floor.fid!, `student ${student.distToExact} vs floor ${floor.fid}`);
    const md = fs.readFileSync(r.report, 'utf8');
    assert.match(md, /\| w \| model \| steps \| NFE \| MSE to exact ↓ \| FID to exact ↓ \| floor \| × floor ↓ \|/);
    assert.match(md, /\| 0 \| exact teacher \| 1024 \| 2048 \| 0\.0000 \| ([\d.]+) \| \1 \| 1\.00× \|/);
  });
});
