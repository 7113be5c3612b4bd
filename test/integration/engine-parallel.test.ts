/**
 * Data-parallel training (src/engine/train/data-parallel.ts + data-parallel-worker.ts): 2 worker threads give the same losses
 * and weights as one process up to float rounding, exact resume holds, nothing leaks, a dead worker is a
 * clear error, and `parallel: "auto"` picks the mode as documented.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { createRun, ensureBackend, loadRunConfig, runStages } from '../../src/engine';
import { readCheckpoint } from '../../src/engine/run/checkpoint';
import { configHash, loadConfigFile } from '../../src/engine/run/config';
import { loadDataset } from '../../src/engine/data';
import { BackendEvent, LossEvent, RunEvent } from '../../src/engine/run/events';
import { Trainer } from '../../src/engine/train/optimizer';
import { ParallelGradients, planParallel, wantsWorkers } from '../../src/engine/train/data-parallel';
import { listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { runWithStops } from '../helpers/runs';
import { toyConfig } from '../helpers/toy-config';
import { Rng } from '../../src/engine/random/rng';
import { buildStepLoss, drawBatch, netForUnit } from '../../src/engine/train/losses';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-parallel-'));

/** The data-parallel toy, as changes to the shared toy config. */
const TOY = {
  name: undefined,
  seed: 5,
  threads: 2,
  data: { n: 1024 },
  model: { hidden: 32, depth: 2 },
  teacher: { steps: 5, batch: 33, lr: 0.003, warmup: 2, ema: 0.9 },
  guided: { steps: 5, batch: 33 },
  progressive: { steps: 5, batch: 33 },
  checkpoint: { interval: 100, keep: 1 },
  log: { interval: 1 },
};
const toy = toyConfig(TOY);
/** Both stage-2 methods: the consistency students' stop-gradient pass runs in the workers on the weights they get. */
const BOTH_METHODS = {
  methods: ['progressive', 'consistency'],
  consistency: { steps: 5, batch: 33, lr: 0.001, teacherSteps: 8, studentSteps: [4, 2, 1] },
};
const unet = {
  ...toy,
  data: { kind: 'mnist', imageSize: 8 },
  model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16 },
  teacher: { steps: 5, batch: 6, lr: 0.003, warmup: 2, ema: 0.9 },
  guided: { steps: 3, batch: 6, lr: 0.001 },
  progressive: { n0: 4, targetSteps: 2, steps: 3, batch: 6, lr: 0.001 },
  sampling: { interval: 0, teacherSteps: 2, perClass: 1, classes: [0, 1] },
};

function writeConfig(name: string, cfg: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify({ name, ...cfg }, null, 2));
  return file;
}

const lossEvents = (events: RunEvent[]) => events.filter((e): e is LossEvent => e.type === 'loss');

async function run(name: string, cfg: Record<string, unknown>): Promise<string> {
  const runDir = await createRun({ configPath: writeConfig(name, cfg), runsDir: tmp, name });
  assert.equal(await runStages({ runDir, summary: false }), 'finished');
  return runDir;
}

function assertSameRun(a: string, b: string): void {
  const la = lossEvents(readEvents(a).events);
  const lb = lossEvents(readEvents(b).events);
  assert.deepEqual(
    lb.map((e) => `${e.unit}@${e.step}`),
    la.map((e) => `${e.unit}@${e.step}`),
  );
  for (let i = 0; i < la.length; i++) {
    const rel = Math.abs(la[i].loss - lb[i].loss) / Math.max(Math.abs(la[i].loss), 1e-12);
    assert.ok(rel < 1e-4, `${la[i].unit}@${la[i].step}: loss ${la[i].loss} (1 process) vs ${lb[i].loss} (2 workers)`);
  }
  for (const unit of new Set(la.map((e) => e.unit))) {
    const wa = readCheckpoint(path.join(a, listCheckpoints(a, unit).pop()!.file)).arrays;
    const wb = readCheckpoint(path.join(b, listCheckpoints(b, unit).pop()!.file)).arrays;
    for (const [name, x] of wa) {
      const y = wb.get(name)!.data;
      for (let i = 0; i < x.data.length; i++) {
        assert.ok(
          Math.abs(x.data[i] - y[i]) <= 1e-4 * Math.max(1, Math.abs(x.data[i])),
          `${unit} ${name}[${i}]: ${x.data[i]} vs ${y[i]}`,
        );
      }
    }
  }
}

const backendNote = (runDir: string) =>
  (readEvents(runDir).events.find((e) => e.type === 'backend') as BackendEvent).note ?? '';

before(async () => {
  await ensureBackend('wasm', 1);
});

describe('data-parallel training', () => {
  it('toy MLP, all three stages and the consistency students: 2 workers match 1 process (losses and weights within 1e-4)', async () => {
    const one = await run('toy-one', { ...toy, ...BOTH_METHODS, parallel: 'threads' });
    const two = await run('toy-two', { ...toy, ...BOTH_METHODS, parallel: 'workers' });
    assert.deepEqual([...new Set(lossEvents(readEvents(two).events).map((e) => e.unit))].slice(-3), [
      'consistency-4',
      'consistency-2',
      'consistency-1',
    ]);
    assert.match(backendNote(one), /training in this process/);
    assert.match(backendNote(two), /data-parallel on 2 worker threads/);
    assertSameRun(one, two);
  });

  it('tiny U-Net, all three stages and a consistency student: 2 workers match 1 process', async () => {
    const cons = {
      methods: ['progressive', 'consistency'],
      consistency: { steps: 3, batch: 6, lr: 0.001, teacherSteps: 4, studentSteps: [2] },
    };
    const one = await run('unet-one', { ...unet, ...cons, parallel: 'threads' });
    const two = await run('unet-two', { ...unet, ...cons, parallel: 'workers' });
    assertSameRun(one, two);
  });

  it('is deterministic and resumes exactly: a run stopped mid-teacher and mid-progressive reproduces the uninterrupted losses', async () => {
    const cfg = toyConfig(TOY, {
      parallel: 'workers',
      teacher: { steps: 30 },
      guided: { steps: 10 },
      progressive: { steps: 12 },
      checkpoint: { interval: 5, keep: 2 },
    });
    const file = writeConfig('dp-resume', cfg);
    const straight = await createRun({ configPath: file, runsDir: tmp, name: 'dp-straight' });
    await runStages({ runDir: straight, summary: false });
    const again = await createRun({ configPath: file, runsDir: tmp, name: 'dp-again' });
    await runStages({ runDir: again, summary: false });
    const broken = await createRun({ configPath: file, runsDir: tmp, name: 'dp-broken' });
    await runWithStops(broken, ['teacher@17', 'progressive-4-2@7']);
    const losses = (d: string) => lossEvents(readEvents(d).events).map((e) => `${e.unit}@${e.step}:${e.loss}`);
    assert.equal(losses(straight).length, 30 + 10 + 12);
    assert.deepEqual(losses(again), losses(straight));
    assert.deepEqual(losses(broken), losses(straight));
  });

  it("2 wasm workers give this process's whole-batch loss and gradients (unequal shards), and Trainer steps on them match trainStep", async () => {
    const cfg = loadConfigFile(writeConfig('dp-grads', { ...unet, parallel: 'workers' }));
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const spec = { stage: 'teacher' as const, exampleShape: data.shape };
    const opt = { lr: 1e-3, warmup: 0, anneal: false, clip: 1, ema: 0.9, totalSteps: 100 };
    const one = netForUnit(cfg, data, 'teacher');
    const two = netForUnit(cfg, data, 'teacher');
    const tOne = new Trainer(one, opt);
    const tTwo = new Trainer(two, opt);
    const rngOne = new Rng(3, 'grads');
    const rngTwo = new Rng(3, 'grads');
    const pg = await ParallelGradients.start(
      { workers: 2, backend: 'wasm' },
      { cfg, spec, numClasses: data.numClasses },
    );
    try {
      assert.deepEqual(
        pg.backends.map((b) => [b.name, b.threads]),
        [
          ['wasm', 1],
          ['wasm', 1],
        ],
      );
      // Batch 7: shards of 4 and 3 examples, each weighted by its share of the batch.
      const first = drawBatch(cfg, data, spec, 7, rngOne);
      const { lossFn, release } = buildStepLoss(cfg, spec, one, undefined, first);
      const ref = tOne.computeGradients(lossFn);
      release();
      const got = await pg.gradients(two, drawBatch(cfg, data, spec, 7, rngTwo));
      const refLoss = ref.loss.dataSync()[0];
      assert.ok(Math.abs(got.loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${got.loss} (workers) vs ${refLoss}`);
      assert.deepEqual([...got.grads.keys()], [...ref.grads.keys()]);
      for (const [name, g] of ref.grads) {
        const a = g.dataSync();
        const b = got.grads.get(name)!.dataSync();
        const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
        for (let i = 0; i < a.length; i++)
          assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * scale, `${name}[${i}]: ${a[i]} vs ${b[i]}`);
      }
      tOne.applyGradients(ref.grads, ref.loss);
      tTwo.applyGradients(got.grads, got.loss);
      for (let i = 0; i < 3; i++) {
        const inp = drawBatch(cfg, data, spec, 7, rngOne);
        const step = buildStepLoss(cfg, spec, one, undefined, inp);
        tOne.trainStep(step.lossFn);
        step.release();
        const g = await pg.gradients(two, drawBatch(cfg, data, spec, 7, rngTwo));
        tTwo.applyGradients(g.grads, g.loss);
      }
      const [la, lb] = [await tOne.flush(), await tTwo.flush()];
      assert.deepEqual(
        lb.map((r) => r.step),
        [1, 2, 3, 4],
      );
      for (let i = 0; i < 4; i++) {
        assert.ok(
          Math.abs(la[i].loss - lb[i].loss) <= 1e-4 * Math.abs(la[i].loss),
          `step ${i + 1}: loss ${la[i].loss} vs ${lb[i].loss}`,
        );
        assert.ok(
          Math.abs(la[i].gradNorm - lb[i].gradNorm) <= 1e-4 * la[i].gradNorm,
          `step ${i + 1}: gradient norm ${la[i].gradNorm} vs ${lb[i].gradNorm}`,
        );
      }
      const wb = new Map(two.params.list().map(({ name, variable }) => [name, variable.dataSync()]));
      for (const { name, variable } of one.params.list()) {
        const a = variable.dataSync();
        const b = wb.get(name)!;
        // Adam's first steps move each weight by about lr: a gradient near 0 may flip its sign between the two sums.
        for (let i = 0; i < a.length; i++)
          assert.ok(Math.abs(a[i] - b[i]) <= 2 * opt.lr * 4, `${name}[${i}]: ${a[i]} vs ${b[i]}`);
      }
    } finally {
      await pg.close();
      tOne.dispose();
      tTwo.dispose();
      one.dispose();
      two.dispose();
    }
  });

  it('does not leak tensors in the main thread or the workers, and a dead worker is a clear error', async () => {
    const file = writeConfig('dp-leak', { ...unet, parallel: 'workers' });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'dp-leak' });
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const spec = { stage: 'teacher' as const, exampleShape: data.shape };
    const net = netForUnit(cfg, data, 'teacher');
    const trainer = new Trainer(net, { lr: 1e-3, warmup: 0, anneal: false, clip: 1, ema: 0.9, totalSteps: 100 });
    const rng = new Rng(1, 'leak');
    const pg = await ParallelGradients.start(
      { workers: 2, backend: 'wasm' },
      { cfg, spec, numClasses: data.numClasses },
    );
    try {
      const counts: { main: number; workers: number[] }[] = [];
      for (let i = 0; i < 12; i++) {
        const g = await pg.gradients(net, drawBatch(cfg, data, spec, 6, rng));
        trainer.applyGradients(g.grads, g.loss);
        await trainer.flush();
        if (i === 2 || i === 11) counts.push({ main: tf.memory().numTensors, workers: pg.workerTensors });
      }
      assert.deepEqual(counts[1], counts[0]);
      await (
        pg as unknown as { handles: { worker: { terminate(): Promise<number> } }[] }
      ).handles[1].worker.terminate();
      await assert.rejects(pg.gradients(net, drawBatch(cfg, data, spec, 6, rng)), /worker exited/);
    } finally {
      await pg.close();
      trainer.dispose();
      net.dispose();
    }
  });

  it("the consistency loss does not leak in the main thread or the workers (the student's stop-gradient pass included)", async () => {
    const runDir = await run('dp-leak-consistency', {
      ...unet,
      methods: ['progressive', 'consistency'],
      consistency: { steps: 1, batch: 6, teacherSteps: 4, studentSteps: [2] },
      parallel: 'threads',
    });
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const spec = { stage: 'consistency' as const, toSteps: 2, exampleShape: data.shape };
    const net = netForUnit(cfg, data, 'consistency');
    const trainer = new Trainer(net, { lr: 1e-3, warmup: 0, anneal: false, clip: 1, ema: 0.9, totalSteps: 100 });
    const rng = new Rng(1, 'leak-consistency');
    const pg = await ParallelGradients.start(
      { workers: 2, backend: 'wasm' },
      {
        cfg,
        spec,
        numClasses: data.numClasses,
        frozen: { file: path.join(runDir, listCheckpoints(runDir, 'guided').pop()!.file), stage: 'guided' },
      },
    );
    try {
      const counts: { main: number; workers: number[] }[] = [];
      for (let i = 0; i < 12; i++) {
        const g = await pg.gradients(net, drawBatch(cfg, data, spec, 6, rng));
        trainer.applyGradients(g.grads, g.loss);
        await trainer.flush();
        if (i === 2 || i === 11) counts.push({ main: tf.memory().numTensors, workers: pg.workerTensors });
      }
      assert.deepEqual(counts[1], counts[0]);
    } finally {
      await pg.close();
      trainer.dispose();
      net.dispose();
    }
  });

  it('workers that never answer fail the start after the timeout (and are terminated) instead of stalling the run', async () => {
    const silent = path.join(tmp, 'silent-worker.js');
    fs.writeFileSync(silent, "require('worker_threads').parentPort.on('message', () => {});\n");
    const cfg = loadConfigFile(writeConfig('silent', toy));
    const t0 = Date.now();
    await assert.rejects(
      ParallelGradients.start(
        { workers: 2, backend: 'wasm' },
        { cfg, spec: { stage: 'teacher', toSteps: 0, exampleShape: [2] }, numClasses: 2 },
        { workerScript: silent, startTimeoutMs: 500 },
      ),
      /did not start within 1 s/,
    );
    assert.ok(Date.now() - t0 < 10_000, 'rejected promptly');
  });

  it('parallel "auto": workers for wasm with threads > 1 and batch ≥ 2 × threads; the default keeps old config hashes', async () => {
    const cfg = loadConfigFile(writeConfig('plan', toy));
    const wasm = { name: 'wasm', version: '', threads: 2, simd: true };
    assert.equal(planParallel({ ...cfg, parallel: 'auto' }, wasm, 2).plan?.workers, 2);
    assert.equal(planParallel({ ...cfg, parallel: 'auto' }, wasm, 1).plan, undefined);
    assert.equal(planParallel({ ...cfg, parallel: 'auto' }, wasm, 32).plan, undefined);
    assert.equal(planParallel({ ...cfg, parallel: 'auto' }, { ...wasm, name: 'tensorflow' }, 2).plan, undefined);
    assert.equal(planParallel({ ...cfg, parallel: 'threads' }, wasm, 2).plan, undefined);
    assert.throws(
      () => planParallel({ ...cfg, parallel: 'workers' }, { ...wasm, name: 'tensorflow' }, 2),
      /needs the wasm or cpu backend/,
    );
    // Decided before the backend starts too ('auto' backend counts as wasm), so the main thread of a
    // data-parallel run can start wasm with one thread and no pthread pool.
    assert.equal(wantsWorkers({ ...cfg, parallel: 'auto' }, 'auto', 2), true);
    assert.equal(wantsWorkers({ ...cfg, parallel: 'auto' }, 'cpu', 2), false);
    assert.equal(wantsWorkers({ ...cfg, parallel: 'auto' }, 'wasm', 1), false);
    assert.equal(wantsWorkers({ ...cfg, parallel: 'workers' }, 'cpu', 1), true);
    // a consistency section's batch counts like the other stages'
    const small = {
      ...cfg,
      parallel: 'auto' as const,
      consistency: { ...cfg.progressive, batch: 3, studentSteps: [1], teacherSteps: 2 },
    };
    assert.equal(wantsWorkers(small, 'wasm', 2), false);
    assert.match(planParallel(small, wasm, 2).note, /batch 3 < 2 × 2 threads/);
    const { parallel: _p, ...withoutField } = { ...cfg, parallel: 'auto' as const };
    assert.equal(configHash({ ...cfg, parallel: 'auto' }), configHash(withoutField as typeof cfg));
    assert.notEqual(configHash({ ...cfg, parallel: 'workers' }), configHash({ ...cfg, parallel: 'auto' }));
  });
});
