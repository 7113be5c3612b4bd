/**
 * Few-step editing on a trained digits model: held-out digits edited towards another class (SDEdit at
 * strength S, w = 2) are read as that class by the run's own judge far more often than the inputs were, by the 4-step
 * student (4 NFE per full grid, ⌈S·4⌉ steps here) and by the guided teacher at 64 steps. A small 8×8 digits run trains
 * in the test (wasm, one thread, seeded), so the numbers are deterministic.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRun, ensureBackend, loadRunConfig, runStages } from '../../src/engine';
import { loadDataset } from '../../src/engine/data';
import { edit } from '../../src/engine/method/sdedit';
import { Classifier, trainClassifier } from '../../src/engine/eval/classifier';
import { finalDenoiser } from '../../src/engine/tasks/quick-eval';
import { disposeDenoiser } from '../../src/engine/method/samplers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-edit-digits-'));
const CONFIG = {
  name: 'edit-digits',
  seed: 5,
  backend: 'wasm',
  threads: 1,
  data: { kind: 'mnist', imageSize: 8 },
  model: { kind: 'unet', channels: [16, 32], blocksPerLevel: 1, groups: 8, embedDim: 32 },
  guidance: { wMin: 0, wMax: 4, sampleW: [0, 2] },
  teacher: { steps: 400, batch: 64, lr: 0.002, warmup: 30, ema: 0.99 },
  guided: { steps: 120, batch: 64, lr: 0.0005 },
  progressive: { n0: 8, targetSteps: 4, steps: 80, batch: 64, lr: 0.0005 },
  sampling: { interval: 0, teacherSteps: 16, perClass: 1 },
  checkpoint: { interval: 1000, keep: 1 },
  log: { interval: 50 },
};
const PER_CLASS = 20;
const STRENGTH = 0.7;
const W = 2;

let runDir: string;
let clf: Classifier;
let inputs: Float32Array;
let labels: Int32Array;
let targets: Int32Array;

/** Share of rows the judge reads as the given classes (samples clipped to [-1, 1], as the report does). */
async function readAs(x: Float32Array, classes: Int32Array): Promise<number> {
  const { pred } = await clf.run(x.map((v) => Math.min(1, Math.max(-1, v))));
  return pred.filter((p, i) => p === classes[i]).length / classes.length;
}

before(
  async () => {
    await ensureBackend('wasm', 1);
    const configPath = path.join(tmp, 'edit-digits.distill.json');
    fs.writeFileSync(configPath, JSON.stringify(CONFIG));
    runDir = await createRun({ configPath, runsDir: tmp, name: 'run' });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const cfg = loadRunConfig(runDir);
    const train = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const test = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
    const r = await trainClassifier(train, test, { steps: 400, batch: 64, seed: cfg.seed });
    clf = r.clf;
    assert.ok(r.accuracy > 0.85, `the judge reads held-out 8×8 digits (accuracy ${r.accuracy})`);
    // PER_CLASS held-out digits of every class; each one's target: the class (label + 1 + i mod 9) mod 10, never its own
    const D = test.shape.reduce((a, b) => a * b, 1);
    const rows: number[] = [];
    for (let c = 0; c < 10; c++) {
      let n = 0;
      for (let i = 0; i < test.n && n < PER_CLASS; i++) if (test.labels[i] === c) rows.push(i), n++;
    }
    inputs = new Float32Array(rows.length * D);
    labels = new Int32Array(rows.length);
    targets = new Int32Array(rows.length);
    rows.forEach((r, k) => {
      inputs.set(test.x.subarray(r * D, (r + 1) * D), k * D);
      labels[k] = test.labels[r];
      targets[k] = (labels[k] + 1 + (k % 9)) % 10;
    });
  },
  { timeout: 900_000 },
);

after(() => {
  clf?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("edit: held-out digits towards another class, judged by the run's classifier", () => {
  it('the inputs themselves are almost never read as the target class', async () => {
    assert.ok((await readAs(inputs, targets)) <= 0.05);
  });

  for (const [name, unit, stage, steps] of [
    ['the 4-step student', 'progressive-8-4', 'progressive', 4],
    ['the guided teacher at 64 steps', 'teacher', 'teacher', 64],
  ] as const) {
    it(`${name}: edited at S = ${STRENGTH}, w = ${W}, most edits are read as the target class`, async () => {
      const d = await finalDenoiser(runDir, loadRunConfig(runDir), unit, stage);
      try {
        const before = await readAs(inputs, targets);
        const r = await edit(d, {
          x0: inputs,
          classes: targets,
          w: new Float32Array(targets.length).fill(W),
          strength: STRENGTH,
          steps,
          seed: 11,
        });
        assert.equal(r.nfe, Math.ceil(STRENGTH * steps) * (stage === 'teacher' ? 2 : 1));
        const after = await readAs(r.x, targets);
        console.log(
          `${name}: read as the target class ${(before * 100).toFixed(1)} % before, ${(after * 100).toFixed(1)} % after (${targets.length} digits)`,
        );
        assert.ok(after >= 0.6 && after >= before + 0.5, `${name}: ${before} → ${after}`);
        // and the edit moved away from the input's own class
        const own = await readAs(r.x, labels);
        assert.ok(own <= 0.3, `${name}: still read as the input's own class ${own}`);
      } finally {
        disposeDenoiser(d);
      }
    });
  }
});
