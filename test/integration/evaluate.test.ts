/**
 * `distill eval` on a tiny toy run and a tiny image run (MNIST at 8×8, U-Net [8, 16]), wasm backend, one thread:
 * the report files and their tables, finite numbers, real-vs-real FID far below an untrained student's, the real
 * held-out accuracy equal to the classifier's, determinism (a second evaluation gives the same numbers, with the
 * cached classifier), progress, and cancellation (no report.json, no plots).
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRun, ensureBackend, evaluateRun, loadRunConfig, runStages } from '../../src/engine';
import type { EvalReport, EvalRow } from '../../src/engine';
import { loadDataset } from '../../src/engine/data';
import { Classifier } from '../../src/engine/eval/classifier';
import { frechetDistance } from '../../src/engine/eval/metrics';
import { decodePng } from '../../src/engine/io/png';
import { buildNet } from '../../src/engine/nn/net';
import { sample } from '../../src/engine/method/samplers';
import { toyConfig } from '../helpers/toy-config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-eval-'));

function writeConfig(name: string, cfg: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        name,
        seed: 7,
        backend: 'wasm',
        threads: 1,
        sampling: { interval: 0, teacherSteps: 4 },
        checkpoint: { interval: 1000, keep: 1 },
        log: { interval: 10 },
        ...cfg,
      },
      null,
      2,
    ),
  );
  return file;
}

const TOY = toyConfig({
  name: undefined,
  seed: 7,
  data: { n: 1024 },
  model: { hidden: 48, depth: 2, embedDim: 32 },
  teacher: { steps: 300, batch: 128, lr: 0.003, warmup: 20, ema: 0.95 },
  guided: { steps: 40, batch: 128 },
  progressive: { n0: 8, steps: 30, batch: 128 },
  checkpoint: { interval: 1000, keep: 1 },
  log: { interval: 10 },
  eval: { w: [0, 2], teacherSteps: [32, 4], studentSteps: [1, 2, 4, 8], samples: 400 },
});
const IMAGE = {
  data: { kind: 'mnist', imageSize: 8, limit: 1200 },
  model: { kind: 'unet', channels: [8, 16], groups: 4, embedDim: 16 },
  teacher: { steps: 25, batch: 32, lr: 0.003, warmup: 5, ema: 0.9 },
  guided: { steps: 5, batch: 32, lr: 0.001 },
  progressive: { n0: 4, targetSteps: 2, steps: 5, batch: 32, lr: 0.001 },
  eval: { w: [0, 2], teacherSteps: [8, 2], studentSteps: [2], samples: 200, classifierSteps: 100 },
};

const runDirs: Record<'toy' | 'image', string> = {} as never;
const reports: Record<'toy' | 'image', EvalReport> = {} as never;
const progress: Record<string, [number, number][]> = { toy: [], image: [] };

before(async () => {
  await ensureBackend('wasm', 1);
  for (const [key, cfg] of [
    ['toy', TOY],
    ['image', IMAGE],
  ] as const) {
    const runDir = await createRun({ configPath: writeConfig(key, cfg), runsDir: tmp, name: key });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    runDirs[key] = runDir;
    const r = await evaluateRun({ runDir, onProgress: (d, t) => progress[key].push([d, t]) });
    assert.equal(r.report, path.join(runDir, 'eval', 'report.md'));
    reports[key] = r.data;
  }
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const finite = (v: number | null) => v !== null && Number.isFinite(v);
const strip = (rows: EvalRow[]) => rows.map(({ msPerSample, ...rest }) => (assert.ok(msPerSample > 0), rest));

describe('report files', () => {
  it('toy: report.md, report.json and the plots, with the expected rows and finite numbers', () => {
    const dir = path.join(runDirs.toy, 'eval');
    for (const f of ['report.md', 'report.json', 'quality-vs-nfe.png', 'quality-vs-w.png', 'recall-vs-w.png'])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    assert.ok(!fs.existsSync(path.join(dir, 'accuracy-vs-w.png')), 'no accuracy plot for toy data');
    const rep = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as EvalReport;
    assert.deepEqual(rep.w, [0, 2]);
    assert.equal(rep.samples, 400);
    assert.equal(rep.classifier, null);
    // per w: teacher at 32, 4, 2 (its own few-step DDIM beside the students), guided at 32/4/2 × 2 samplers,
    // progressive-8-4 and progressive-4-2 × 2 samplers
    const expected = [
      'teacher ddim 32 64',
      'teacher ddim 4 8',
      'teacher ddim 2 4',
      'guided ddim 32 32',
      'guided stochastic 32 32',
      'guided ddim 4 4',
      'guided stochastic 4 4',
      'guided ddim 2 2',
      'guided stochastic 2 2',
      'progressive-8-4 ddim 4 4',
      'progressive-8-4 stochastic 4 4',
      'progressive-4-2 ddim 2 2',
      'progressive-4-2 stochastic 2 2',
    ];
    for (const w of [0, 2]) {
      assert.deepEqual(
        rep.rows.filter((r) => r.w === w).map((r) => `${r.unit} ${r.sampler} ${r.steps} ${r.nfe}`),
        expected,
      );
    }
    for (const r of rep.rows) {
      assert.ok(
        finite(r.swdReal) && finite(r.swdTeacher) && finite(r.diversity) && r.msPerSample > 0,
        JSON.stringify(r),
      );
      assert.equal(r.fid, null);
      for (const m of ['precision', 'recall', 'coverage'] as const) assert.ok(r[m]! >= 0 && r[m]! <= 1, `${m} ${r[m]}`);
      assert.ok(r.density! >= 0, `density ${r.density}`);
    }
    // real held-out points against the other half: the floor of the k-NN measures, size-matched to the samples
    assert.ok(
      rep.real.recall! > 0.8 && rep.real.precision! > 0.8 && rep.real.coverage! > 0.8,
      JSON.stringify(rep.real),
    );
    assert.equal(rep.features!.space, 'the 2-D points themselves');
    assert.deepEqual([rep.features!.kPrecisionRecall, rep.features!.kDensityCoverage], [3, 5]);
    // the teacher learnt the moons: at w = 0 it covers most of the held-out points of each class
    assert.ok(rep.rows.find((r) => r.w === 0 && r.model === 'teacher' && r.steps === 32)!.recall! > 0.6);
    assert.equal(
      rep.rows.find((r) => r.model === 'teacher' && r.steps === 32)!.swdTeacher,
      0,
      'the reference against itself',
    );
    assert.ok(finite(rep.real.swdHalves));
    // the teacher learnt the data: its 32-step samples are close to the held-out points at w = 0
    const t0 = rep.rows.find((r) => r.w === 0 && r.model === 'teacher' && r.steps === 32)!;
    assert.ok(t0.swdReal! < 0.2, `teacher SWD→real ${t0.swdReal}`);

    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    for (const h of [
      '## Real data',
      '## Distilled students vs the 32-step teacher',
      '## w = 0',
      '## w = 2',
      '![quality-vs-nfe.png](quality-vs-nfe.png)',
    ])
      assert.ok(md.includes(h), h);
    const section = md.split('## w = 2')[1].split('##')[0];
    assert.equal(
      section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| model'))
        .length,
      expected.length,
    );
    for (const f of ['quality-vs-nfe.png', 'quality-vs-w.png']) {
      const png = decodePng(fs.readFileSync(path.join(dir, f)));
      assert.ok(png.width >= 400 && png.height >= 300, `${f}: ${png.width}×${png.height}`);
    }
  });

  it('image: classifier cached in the run, FID/accuracy/diversity rows, real references', async () => {
    const runDir = runDirs.image;
    const dir = path.join(runDir, 'eval');
    for (const f of [
      'report.md',
      'report.json',
      'quality-vs-nfe.png',
      'quality-vs-w.png',
      'accuracy-vs-w.png',
      'recall-vs-w.png',
      'classifier.ckpt',
    ])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    const rep = reports.image;
    assert.equal(rep.samples, 200);
    assert.equal(rep.perClass, 20);
    assert.ok(rep.classifier && rep.classifier.cached === false);
    assert.ok(rep.classifier.heldOutAccuracy > 0.5, `classifier accuracy ${rep.classifier.heldOutAccuracy}`);
    // accuracy of the real held-out data is the classifier's held-out accuracy
    assert.ok(Math.abs(rep.real.accuracy! - rep.classifier.heldOutAccuracy) < 1e-9);
    for (const w of [0, 2]) {
      assert.deepEqual(
        rep.rows.filter((r) => r.w === w).map((r) => `${r.unit} ${r.sampler} ${r.steps}`),
        [
          'teacher ddim 8',
          'teacher ddim 2',
          'guided ddim 8',
          'guided stochastic 8',
          'guided ddim 2',
          'guided stochastic 2',
          'progressive-4-2 ddim 2',
          'progressive-4-2 stochastic 2',
        ],
      );
    }
    for (const r of rep.rows) {
      assert.ok(finite(r.fid) && finite(r.accuracy) && finite(r.diversity), JSON.stringify(r));
      assert.ok(r.accuracy! >= 0 && r.accuracy! <= 1);
      assert.equal(r.swdReal, null);
      for (const m of ['precision', 'recall', 'coverage'] as const) assert.ok(r[m]! >= 0 && r[m]! <= 1, `${m} ${r[m]}`);
      assert.ok(finite(r.pixelDiversity ?? null) && r.pixelDiversity! > 0);
    }
    for (const m of ['precision', 'recall', 'density', 'coverage', 'pixelDiversity'] as const)
      assert.ok(finite(rep.real[m] ?? null), `real ${m}`);
    assert.equal(rep.features!.dim, 32 + 64 + 64 + 128);
    assert.match(rep.features!.space, /channel means of its 3 convolutions/);
    // 20 samples per class: the real floor of the k-NN measures uses 20 held-out rows per class too
    assert.match(rep.features!.manifoldReference, /up to 20 rows per class of half B/);
    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    assert.match(md, /held-out accuracy/);
    assert.match(
      md,
      /\| model \| sampler \| steps \| NFE \| ms\/sample \| classifier-FID ↓ \| accuracy ↑ \| precision ↑ \| recall ↑ \| density \| coverage ↑ \| diversity ÷ real \| pixel diversity ÷ real \|/,
    );
    assert.match(
      md,
      /\| w \| method \| steps \| NFE \| FID ↓ \(÷ teacher 8\) \| teacher 8 FID \| teacher same steps FID \| accuracy \| accuracy: teacher 8 \| recall \| recall: teacher 8 \| diversity ÷ real \| speed-up \|/,
    );
    // the summary's student cell carries its FID ratio to the teacher
    const w0 = md.split('\n').find((l) => l.startsWith('| 0 |'))!;
    const t = rep.rows.find((r) => r.w === 0 && r.model === 'teacher' && r.steps === 8)!;
    const s = rep.rows.find((r) => r.w === 0 && r.model === 'progressive' && r.sampler === 'ddim')!;
    assert.ok(w0.includes(`(${(s.fid! / t.fid!).toFixed(2)}×)`), w0);
    assert.ok(w0.includes(s.recall!.toFixed(3)) && w0.includes((s.diversity / rep.real.diversity).toFixed(2)), w0);

    // FID of real-vs-real held-out halves ≪ FID of an untrained student (same classifier, same held-out features)
    const cfg = loadRunConfig(runDir);
    const test = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
    const clf = Classifier.load(path.join(dir, 'classifier.ckpt'), 64, 10, [8, 8, 1])!.clf;
    assert.equal(
      clf.featureDim,
      32 + 64 + 64 + 128,
      'channel means of the three convolutions and the penultimate layer',
    );
    const net = buildNet({ model: cfg.model, exampleShape: [8, 8, 1], numClasses: 10, withW: true, seed: 99 });
    try {
      const n = 200;
      const { x } = await sample(
        { net, param: 'v', schedule: cfg.diffusion },
        {
          classes: Int32Array.from({ length: n }, (_, i) => i % 10),
          w: new Float32Array(n).fill(2),
          steps: 2,
          sampler: 'ddim',
          seed: 1,
        },
      );
      for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(-1, x[i]));
      const fidUntrained = frechetDistance((await clf.run(x)).feats, (await clf.run(test.x)).feats, clf.featureDim);
      assert.ok(
        rep.real.fidHalves! < 0.1 * fidUntrained,
        `real-vs-real ${rep.real.fidHalves} vs untrained ${fidUntrained}`,
      );
    } finally {
      net.dispose();
      clf.dispose();
    }
  });

  it('progress runs from 0 to the total and never goes back', () => {
    for (const key of ['toy', 'image']) {
      const p = progress[key];
      assert.ok(p.length > 10);
      const total = p[0][1];
      assert.deepEqual(p[0], [0, total]);
      assert.deepEqual(p[p.length - 1], [total, total]);
      for (let i = 1; i < p.length; i++) assert.ok(p[i][0] >= p[i - 1][0] && p[i][1] === total);
    }
  });
});

describe('determinism and cancellation', () => {
  it('a second evaluation (cached classifier, other folder) gives the same numbers', async () => {
    for (const key of ['toy', 'image'] as const) {
      const out = path.join(tmp, `${key}-again`);
      const r = await evaluateRun({ runDir: runDirs[key], out });
      assert.deepEqual(strip(r.data.rows), strip(reports[key].rows));
      assert.deepEqual(r.data.real, reports[key].real);
      if (key === 'image') assert.equal(r.data.classifier!.cached, true);
    }
  });

  it('options override the config (w, samples, step lists) and bad values name the option', async () => {
    const r = await evaluateRun({
      runDir: runDirs.toy,
      out: path.join(tmp, 'toy-small'),
      w: [1],
      samples: 50,
      teacherSteps: [8],
      studentSteps: [4],
    });
    assert.equal(r.data.samples, 50);
    assert.deepEqual(
      r.data.rows.map((x) => `${x.w} ${x.unit} ${x.sampler} ${x.steps}`),
      [
        '1 teacher ddim 8',
        '1 teacher ddim 4',
        '1 guided ddim 8',
        '1 guided stochastic 8',
        '1 guided ddim 4',
        '1 guided stochastic 4',
        '1 progressive-8-4 ddim 4',
        '1 progressive-8-4 stochastic 4',
      ],
    );
    assert.ok(r.data.notes.some((n) => /not in eval.studentSteps/.test(n)));
    await assert.rejects(evaluateRun({ runDir: runDirs.toy, samples: 1 }), /--samples: expected an integer ≥ 2/);
    // Too few per class for the k-NN measures: said before anything is sampled, with the smallest count that works.
    await assert.rejects(
      evaluateRun({ runDir: runDirs.image, samples: 20 }),
      /^Error: samples: 20 per configuration spread over 10 classes is 2 per class; .* need at least 6 per class: use --samples 60 or more \(eval\.samples in the config\)$/,
    );
    await assert.rejects(evaluateRun({ runDir: runDirs.toy, w: [-1] }), /--w: expected a non-empty list/);
    await assert.rejects(
      evaluateRun({ runDir: runDirs.toy, teacherSteps: [0] }),
      /teacherSteps: expected a non-empty list of integers ≥ 1/,
    );
  });

  it('cancelling leaves no report.json and no plots', async () => {
    for (const key of ['toy', 'image'] as const) {
      const out = path.join(tmp, `${key}-cancelled`);
      const ac = new AbortController();
      await assert.rejects(
        evaluateRun({ runDir: runDirs[key], out, signal: ac.signal, onProgress: (d, t) => d > 0.3 * t && ac.abort() }),
        /evaluation cancelled; no report written/,
      );
      assert.ok(!fs.existsSync(path.join(out, 'report.json')));
      assert.ok(!fs.existsSync(path.join(out, 'report.md')));
      assert.ok(!fs.existsSync(path.join(out, 'quality-vs-nfe.png')));
    }
  });

  it('cancelling while the classifier trains stops it promptly, caches nothing and leaks no tensors', async () => {
    // A copy of the image run without its cached classifier, so the evaluation has to train one.
    const runDir = path.join(tmp, 'image-fresh-classifier');
    fs.cpSync(runDirs.image, runDir, { recursive: true });
    fs.rmSync(path.join(runDir, 'eval'), { recursive: true, force: true });
    fs.rmSync(path.join(runDir, 'run.lock'), { force: true });
    const tensors = tf.memory().numTensors;
    const ac = new AbortController();
    let at = 0;
    await assert.rejects(
      evaluateRun({
        runDir,
        signal: ac.signal,
        onLog: (line) => {
          if (line.startsWith('classifier: training')) setTimeout(() => ((at = Date.now()), ac.abort()), 30);
        },
      }),
      /evaluation cancelled; no report written/,
    );
    assert.ok(at > 0, 'the classifier was being trained when cancelled');
    assert.ok(Date.now() - at < 3000, `stopped ${Date.now() - at} ms after the cancel`);
    assert.ok(!fs.existsSync(path.join(runDir, 'eval', 'classifier.ckpt')), 'a half-trained classifier is not cached');
    assert.equal(tf.memory().numTensors, tensors);
  });
});
