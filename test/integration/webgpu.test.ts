/**
 * The WebGPU backend on Dawn + SwiftShader (the real code path; no GPU needed): every op the MLP and the U-Net use,
 * forward and gradient, against cpu (every stage's loss, the consistency students' too); the student samplers against
 * wasm for the same seed; all three stages and a consistency student on webgpu with GPU memory flat and no read-back
 * between log intervals; checkpoints that cross backends both ways; and a
 * lost device that stops the stage without saving anything and resumes on another backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createRun, loadRunConfig } from '../../src/engine';
import { selectBackend } from '../../src/engine/backend/select';
import { gpuBytes, webgpuDevice } from '../../src/engine/backend/webgpu';
import { softwareKernelsActive, useSoftwareKernels } from '../../src/engine/backend/webgpu-software';
import { configHash, resolveConfig } from '../../src/engine/run/config';
import { Dataset, loadDataset } from '../../src/engine/data';
import { LossEvent, RunEvent } from '../../src/engine/run/events';
import { buildNet, Net } from '../../src/engine/nn/net';
import { Rng } from '../../src/engine/random/rng';
import { listCheckpoints } from '../../src/engine/run/run-folder';
import { sample } from '../../src/engine/method/samplers';
import { trainAll } from '../../src/engine/train/trainer';
import { buildStepLoss, drawBatch, LossSpec } from '../../src/engine/train/losses';
import { useSwiftShader } from '../helpers/gpu';
import { toyConfig } from '../helpers/toy-config';

useSwiftShader();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-webgpu-'));

/** ‖a − b‖ / ‖b‖ (0 when both are zero). */
function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

type ModelCase = { label: string; data: Record<string, unknown>; model: Record<string, unknown> };
const MLP: ModelCase = {
  label: 'MLP',
  data: { kind: 'toy2d', shape: 'moons', n: 512 },
  model: { kind: 'mlp', hidden: 32, depth: 2, embedDim: 16 },
};
// Every U-Net op: residual blocks, GroupNorm + SiLU, stride-2 down, nearest up, skip concat, attention.
const UNET: ModelCase = {
  label: 'U-Net',
  data: { kind: 'mnist', imageSize: 8 },
  model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16, attention: true },
};

const dataCache = new Map<string, Dataset>();
async function dataFor(c: ModelCase): Promise<Dataset> {
  if (!dataCache.has(c.label)) {
    const cfg = resolveConfig({ name: 'x', data: c.data, model: c.model });
    dataCache.set(c.label, await loadDataset(cfg.data, { split: 'train', seed: 0 }));
  }
  return dataCache.get(c.label)!;
}

type Stage = 'teacher' | 'guided' | 'progressive' | 'consistency';
/** The consistency stage's section: a 2-step student on an 8-step fine grid. */
const CONSISTENCY = { methods: ['progressive', 'consistency'], consistency: { teacherSteps: 8, studentSteps: [2] } };

/** Loss and every parameter gradient of one training step of `stage` on the current backend (seeded: same on any). */
async function stepGradients(
  c: ModelCase,
  stage: Stage,
): Promise<{ loss: number; grads: Map<string, Float32Array>; out: Float32Array }> {
  const cfg = resolveConfig({
    name: 'x',
    seed: 5,
    data: c.data,
    model: c.model,
    ...(stage === 'consistency' ? CONSISTENCY : {}),
  });
  const data = await dataFor(c);
  const build = (withW: boolean, seed: number): Net =>
    buildNet({ model: cfg.model, exampleShape: data.shape, numClasses: data.numClasses, withW, seed });
  const student = build(stage !== 'teacher', 5);
  // The frozen net of stage 1 is a teacher (guided x̂: both passes in one call), of stage 2 a w-student.
  const frozen = stage === 'teacher' ? undefined : build(stage !== 'guided', 6);
  // Trained-looking weights: the zero-initialised output layers would leave most gradients exactly zero.
  const noise = new Rng(21, 'perturb');
  for (const net of [student, frozen]) {
    for (const { variable } of net?.params.list() ?? []) {
      tf.tidy(() =>
        variable.assign(
          tf.add(
            variable,
            tf.tensor(
              noise.normals(variable.size).map((v) => 0.05 * v),
              variable.shape,
            ),
          ),
        ),
      );
    }
  }
  const spec: LossSpec = {
    stage,
    toSteps: stage === 'progressive' || stage === 'consistency' ? 2 : undefined,
    exampleShape: data.shape,
  };
  const inp = drawBatch(cfg, data, spec, 6, new Rng(11, 'parity'));
  const { lossFn, release } = buildStepLoss(cfg, spec, student, frozen, inp);
  const vars = student.params.list();
  const { value, grads } = tf.variableGrads(
    lossFn,
    vars.map((v) => v.variable),
  );
  const out = tf.tidy(() =>
    student.apply(tf.tensor(inp.x, [inp.b, ...data.shape]), inp.lambdaT, inp.cls, student.withW ? inp.w : undefined),
  );
  const result = {
    loss: (await value.data())[0],
    grads: new Map<string, Float32Array>(),
    out: (await out.data()) as Float32Array,
  };
  for (const { name, variable } of vars) result.grads.set(name, (await grads[variable.name].data()) as Float32Array);
  tf.dispose([value, out, ...Object.values(grads)]);
  release();
  student.dispose();
  frozen?.dispose();
  return result;
}

describe('webgpu (Dawn + SwiftShader) against the cpu and wasm backends', () => {
  // SwiftShader gets the barrier-free software kernels (matmul, transpose, sum, mean); a GPU gets tfjs's own. Both sets
  // are checked: every stage with the software set, and the stages that cover every op with tfjs's set.
  const cases: Array<{ c: ModelCase; stage: Stage; software: boolean }> = [
    ...(['teacher', 'guided', 'progressive', 'consistency'] as const).map((stage) => ({
      c: MLP,
      stage,
      software: true,
    })),
    { c: UNET, stage: 'teacher', software: true },
    { c: UNET, stage: 'progressive', software: true },
    { c: UNET, stage: 'consistency', software: true },
    { c: MLP, stage: 'guided', software: false },
    { c: UNET, stage: 'progressive', software: false },
  ];
  for (const { c, stage, software } of cases) {
    const kernels = software ? 'software kernels' : "tfjs's GPU kernels";
    it(`${c.label} ${stage} step (${kernels}): forward output, loss and every gradient match cpu (relative error ≤ 1e-4)`, async () => {
      await selectBackend({ backend: 'cpu' });
      const want = await stepGradients(c, stage);
      const info = await selectBackend({ backend: 'webgpu' });
      assert.equal(info.name, 'webgpu');
      assert.equal(
        softwareKernelsActive(),
        true,
        'SwiftShader is a software adapter: its kernels should be the barrier-free ones',
      );
      useSoftwareKernels(software);
      const got = await stepGradients(c, stage).finally(() => useSoftwareKernels(true));
      assert.ok(relErr(got.out, want.out) <= 1e-4, `forward: ${relErr(got.out, want.out)}`);
      assert.ok(Math.abs(got.loss - want.loss) <= 1e-4 * Math.abs(want.loss), `loss ${got.loss} vs ${want.loss}`);
      let nonZero = 0;
      for (const [name, g] of want.grads) {
        const e = relErr(got.grads.get(name)!, g);
        assert.ok(e <= 1e-4, `gradient of ${name}: relative error ${e}`);
        if (g.some((v) => v !== 0)) nonZero++;
      }
      assert.ok(nonZero >= want.grads.size - 2, `only ${nonZero} of ${want.grads.size} gradients are non-zero`);
    });
  }

  it('student samplers (DDIM and stochastic) give the same samples on webgpu as on wasm for the same seed', async () => {
    const cfg = resolveConfig({ name: 'x', data: UNET.data, model: UNET.model });
    const data = await dataFor(UNET);
    const draw = async (backend: 'wasm' | 'webgpu', sampler: 'ddim' | 'stochastic') => {
      await selectBackend({ backend, threads: 1 });
      const net = buildNet({
        model: cfg.model,
        exampleShape: data.shape,
        numClasses: data.numClasses,
        withW: true,
        seed: 9,
      });
      try {
        return (
          await sample(
            { net, param: 'v', schedule: cfg.diffusion },
            { classes: Int32Array.from([0, 1, 2, 3]), w: Float32Array.from([0, 1, 2, 4]), steps: 4, sampler, seed: 42 },
          )
        ).x;
      } finally {
        net.dispose();
      }
    };
    for (const sampler of ['ddim', 'stochastic'] as const) {
      const want = await draw('wasm', sampler);
      const got = await draw('webgpu', sampler);
      assert.ok(relErr(got, want) <= 1e-4, `${sampler}: relative error ${relErr(got, want)}`);
    }
  });

  const toy = (name: string, overrides: Record<string, unknown> = {}) => {
    const file = path.join(tmp, `${name}.distill.json`);
    // no backend in the file (each test picks it in-process); `overrides` replace whole sections
    const config = toyConfig({
      name,
      seed: 2,
      backend: undefined,
      data: { n: 1024 },
      model: { hidden: 32, depth: 2 },
      teacher: { steps: 20, lr: 0.002, warmup: 5, ema: 0.9 },
      guided: { steps: 5 },
      progressive: { steps: 5 },
      sampling: { perClass: 1 },
      checkpoint: { interval: 1000 },
    });
    fs.writeFileSync(file, JSON.stringify({ ...config, ...overrides }));
    return createRun({ configPath: file, runsDir: tmp, name });
  };

  /** Trains the run's stages on `backend` in this process (the engine's own loop); stops after `stopAt` of `unit`. */
  async function train(
    runDir: string,
    backend: 'wasm' | 'webgpu',
    stop?: { unit: string; step: number },
    onEvent?: (e: RunEvent) => void,
  ): Promise<{ status: string; events: RunEvent[] }> {
    await selectBackend({ backend, threads: 1 });
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const events: RunEvent[] = [];
    let stopNow = false;
    const status = await trainAll({
      runDir,
      cfg,
      hash: configHash(cfg),
      data,
      log: () => undefined,
      emit: (e) => {
        events.push(e);
        onEvent?.(e);
        if (stop && e.type === 'loss' && e.unit === stop.unit && e.step >= stop.step) stopNow = true;
      },
      shouldStop: () => stopNow,
    });
    return { status, events };
  }
  const lossesOf = (events: RunEvent[]) =>
    new Map(events.filter((e): e is LossEvent => e.type === 'loss').map((e) => [`${e.unit}@${e.step}`, e.loss]));

  it('all three stages and a consistency student on webgpu: GPU memory flat over 50 steps, one read-back per log interval and no synchronous read', async () => {
    const runDir = await toy('gpu-full', {
      teacher: { steps: 50, batch: 32, lr: 0.002, warmup: 5, ema: 0.9 },
      methods: CONSISTENCY.methods,
      consistency: { ...CONSISTENCY.consistency, steps: 40, batch: 32 },
      log: { interval: 10 },
    });
    await selectBackend({ backend: 'webgpu' });
    // Count the reads that copy from the GPU (kernels also call readSync on small tensors whose values are on the CPU).
    const backend = tf.backend() as unknown as {
      read: (id: object) => Promise<unknown>;
      readSync: (id: object) => unknown;
      tensorMap: { get(id: object): { values?: unknown } };
    };
    let reads = 0;
    let syncReads = 0;
    const onGpu = (id: object) => backend.tensorMap.get(id).values == null;
    const read = backend.read.bind(backend);
    const readSync = backend.readSync.bind(backend);
    backend.read = (id) => ((reads += onGpu(id) ? 1 : 0), read(id));
    backend.readSync = (id) => ((syncReads += onGpu(id) ? 1 : 0), readSync(id));
    const atLoss: { unit: string; step: number; reads: number; gpu: number; tensors: number }[] = [];
    try {
      const { status } = await train(runDir, 'webgpu', undefined, (e) => {
        if (e.type === 'loss')
          atLoss.push({ unit: e.unit, step: e.step, reads, gpu: gpuBytes(), tensors: tf.memory().numTensors });
      });
      assert.equal(status, 'finished');
    } finally {
      backend.read = read;
      backend.readSync = readSync;
    }
    assert.equal(syncReads, 0);
    for (const [unit, steps] of [
      ['teacher', [10, 20, 30, 40, 50]],
      ['consistency-2', [10, 20, 30, 40]],
    ] as const) {
      const logs = atLoss.filter((r) => r.unit === unit);
      assert.deepEqual(
        logs.map((r) => r.step),
        steps,
      );
      for (let i = 1; i < logs.length; i++)
        assert.equal(
          logs[i].reads - logs[i - 1].reads,
          1,
          `${unit}: read-backs between steps ${logs[i - 1].step} and ${logs[i].step}`,
        );
      assert.ok(logs[0].gpu > 0);
      for (const r of logs) {
        assert.equal(r.gpu, logs[0].gpu, `${unit}: GPU bytes at step ${r.step}`);
        assert.equal(r.tensors, logs[0].tensors, `${unit}: tensors at step ${r.step}`);
      }
    }
    const cfg = loadRunConfig(runDir);
    for (const [unit, step] of [
      ['teacher', 50],
      ['guided', 5],
      ['progressive-4-2', 5],
      ['consistency-2', 40],
    ] as const) {
      const last = listCheckpoints(runDir, unit).pop();
      assert.ok(last && last.step === step, `${unit}: ${JSON.stringify(last)}`);
    }
    assert.ok(fs.existsSync(path.join(runDir, 'samples', 'progressive-4-2', 'step-0000005.png')));
    assert.ok(fs.existsSync(path.join(runDir, 'samples', 'consistency-2', 'step-0000040.png')));
    assert.equal(cfg.backend, 'auto');
  });

  it('checkpoints cross backends both ways: wasm → webgpu and webgpu → wasm continue with the same losses', async () => {
    const ref = lossesOf((await train(await toy('x-ref'), 'wasm')).events);
    for (const [first, second] of [
      ['wasm', 'webgpu'],
      ['webgpu', 'wasm'],
    ] as const) {
      const runDir = await toy(`x-${first}-${second}`);
      const a = await train(runDir, first, { unit: 'teacher', step: 10 });
      assert.equal(a.status, 'stopped');
      assert.equal(listCheckpoints(runDir, 'teacher').pop()!.step, 10);
      const b = await train(runDir, second);
      assert.equal(b.status, 'finished');
      const got = new Map([...lossesOf(a.events), ...lossesOf(b.events)]);
      assert.deepEqual([...got.keys()], [...ref.keys()]);
      for (const [k, v] of ref) {
        const g = got.get(k)!;
        assert.ok(Math.abs(g - v) <= 1e-3 * Math.abs(v) + 1e-6, `${first} → ${second}, ${k}: ${g} vs ${v} (wasm only)`);
      }
    }
  });

  it('a lost device stops the stage like a NaN: nothing after it is saved, and the run resumes on wasm', async () => {
    const runDir = await toy('lost', { checkpoint: { interval: 10, keep: 5 }, log: { interval: 10 } });
    await selectBackend({ backend: 'webgpu' });
    let destroyedAfter = -1;
    await assert.rejects(
      train(runDir, 'webgpu', undefined, (e) => {
        if (e.type === 'checkpoint' && e.unit === 'teacher' && e.step === 10 && destroyedAfter < 0) {
          destroyedAfter = e.step;
          webgpuDevice()!.destroy();
        }
      }),
      /the GPU device was lost \(destroyed.*resume the run \(on any backend\)/,
    );
    assert.equal(destroyedAfter, 10);
    assert.deepEqual(
      listCheckpoints(runDir, 'teacher').map((c) => c.step),
      [10],
    );
    const resumed = await train(runDir, 'wasm');
    assert.equal(resumed.status, 'finished');
    assert.equal(listCheckpoints(runDir, 'progressive-4-2').pop()!.step, 5);
  });
});
