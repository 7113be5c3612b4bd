/**
 * Latent space (model.space "latent", src/engine/train/autoencoder-unit.ts): the autoencoder unit learns (its loss falls), its
 * latent scale is measured on the training data and saved with its final checkpoint, its resume is exact, a tiny
 * latent run goes through every stage with decoded grids, `sample`, `distill sample` and `distill edit` (with and
 * without a mask) give decoded images, memory stays flat over autoencoder steps, and bad configs name the field.
 * Data: a generated 8×8 RGB image folder (two classes), latents 4×4×2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import {
  createRun,
  ensureBackend,
  evaluateRun,
  exportStudent,
  loadDenoiser,
  loadRunConfig,
  runStages,
  sampleArrays,
} from '../../src/engine';
import { evaluateQuick } from '../../src/engine/tasks/quick-eval';
import { buildAutoencoder } from '../../src/engine/nn/autoencoder';
import { measureLatentScale } from '../../src/engine/method/latent-codec';
import { autoencoderLoss, loadCodec, trainAutoencoder } from '../../src/engine/train/autoencoder-unit';
import { readCheckpoint } from '../../src/engine/run/checkpoint';
import { ConfigError, configHash, legacyConfigHash, resolveConfig } from '../../src/engine/run/config';
import { loadDataset } from '../../src/engine/data';
import { edit } from '../../src/engine/method/sdedit';
import { latentMask } from '../../src/engine/tasks/edit';
import { LossEvent, RunEvent } from '../../src/engine/run/events';
import { decodeNpy } from '../../src/engine/io/npy';
import { decodePng, encodePng } from '../../src/engine/io/png';
import { listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { disposeDenoiser, sample } from '../../src/engine/method/samplers';
import { runWithStops } from '../helpers/runs';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-latent-'));
const folder = path.join(tmp, 'shapes');

/** Two classes of 8×8 RGB images: red diagonal ramps and blue stripes, each with a seeded variation. */
function writeImageFolder(): void {
  for (const [k, name] of ['ramps', 'stripes'].entries()) {
    fs.mkdirSync(path.join(folder, name), { recursive: true });
    for (let i = 0; i < 130; i++) {
      const px = new Uint8Array(8 * 8 * 3);
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const o = (y * 8 + x) * 3;
          const v = k === 0 ? ((x + y + i) * 16) % 256 : (y + i) % 4 < 2 ? 230 : 20;
          px[o] = k === 0 ? v : 30 + i;
          px[o + 1] = (i * 5 + x * 9) % 256;
          px[o + 2] = k === 0 ? 40 : v;
        }
      }
      fs.writeFileSync(path.join(folder, name, `${i}.png`), encodePng(px, 8, 8, 3));
    }
  }
}

const AE = {
  factor: 2,
  latentChannels: 2,
  channels: [8, 16],
  steps: 60,
  batch: 16,
  lr: 0.003,
  warmup: 5,
  klWeight: 1e-4,
};

function latentConfig(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    seed: 5,
    backend: 'wasm',
    threads: 1,
    data: { kind: 'folder', path: folder, imageSize: 8, channels: 3 },
    model: { kind: 'unet', space: 'latent', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16 },
    autoencoder: AE,
    teacher: { steps: 6, batch: 8, lr: 0.003, warmup: 2 },
    guided: { steps: 3, batch: 8, lr: 0.001 },
    progressive: { n0: 4, targetSteps: 2, steps: 3, batch: 8, lr: 0.001 },
    sampling: { interval: 0, teacherSteps: 4, perClass: 1 },
    checkpoint: { interval: 20, keep: 2 },
    log: { interval: 1 },
    eval: { w: [0, 2], teacherSteps: [4], studentSteps: [2], samples: 16, classifierSteps: 20 },
    ...overrides,
  };
}

async function newRun(name: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(latentConfig(name, overrides), null, 2));
  return createRun({ configPath: file, runsDir: path.join(tmp, 'runs'), name });
}

const losses = (events: RunEvent[], unit?: string) =>
  events.filter((e): e is LossEvent => e.type === 'loss' && (unit === undefined || e.unit === unit));

before(async () => {
  writeImageFolder();
  await ensureBackend('wasm', 1);
});

describe('latent config', () => {
  it('fills the autoencoder defaults and leaves pixel-space configs (and their hashes) as they were', () => {
    const cfg = resolveConfig({ data: { kind: 'mnist', imageSize: 32 }, model: { kind: 'unet', space: 'latent' } });
    assert.equal(cfg.model.space, 'latent');
    assert.deepEqual(
      {
        factor: cfg.autoencoder!.factor,
        latentChannels: cfg.autoencoder!.latentChannels,
        channels: cfg.autoencoder!.channels,
        klWeight: cfg.autoencoder!.klWeight,
      },
      { factor: 4, latentChannels: 4, channels: [16, 32, 64], klWeight: 1e-6 },
    );
    // the hashes run folders of these pixel-space configs recorded before model.space existed
    const pixel = resolveConfig({
      name: 'h',
      data: { kind: 'mnist', imageSize: 8 },
      model: { kind: 'unet', channels: [8, 16], groups: 4, embedDim: 16 },
      teacher: { steps: 5 },
    });
    assert.equal(pixel.model.space, 'pixel');
    assert.equal(pixel.autoencoder, undefined);
    assert.equal(legacyConfigHash(pixel), '0b3ca965734068b2');
    assert.equal(
      legacyConfigHash(
        resolveConfig({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, parallel: 'workers' }),
      ),
      '7151768e45f60cae',
    );
    // a latent config hashes differently from its pixel twin
    assert.notEqual(
      configHash(resolveConfig({ ...latentConfig('a') })),
      configHash(
        resolveConfig({
          ...latentConfig('a'),
          model: { kind: 'unet', channels: [8, 16], groups: 4, embedDim: 16 },
          autoencoder: undefined,
        }),
      ),
    );
  });

  it('rejects bad latent configs with errors naming the field', () => {
    const base = latentConfig('bad');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: { kind: 'unet', space: 'voxel' } }, /model\.space: expected one of "pixel", "latent"/],
      [
        { autoencoder: { ...AE, factor: 3, channels: [8, 8] } },
        /autoencoder\.factor: expected a power of two ≥ 2 \(e\.g\. 4\), got 3/,
      ],
      [
        { autoencoder: { ...AE, channels: [8, 16, 32] } },
        /autoencoder\.channels: factor 2 has 2 resolution levels .*expected 2 widths, got 3/,
      ],
      [{ autoencoder: { ...AE, channels: [12, 16] } }, /autoencoder\.channels\[0\]: 12 is not divisible by 8/],
      [
        { autoencoder: { ...AE, factor: 16, channels: [8, 8, 8, 8, 8] } },
        /autoencoder\.factor: the image size 8 \(data\.imageSize\) is not divisible by 16/,
      ],
      [
        { autoencoder: { ...AE, klWeight: 2 } },
        /autoencoder\.klWeight: 2 is out of range; expected a number from 0 to 1/,
      ],
      [
        { autoencoder: { ...AE, latentChannels: 0 } },
        /autoencoder\.latentChannels: 0 is out of range; expected an integer from 1 to 64/,
      ],
      [{ autoencoder: { ...AE, width: 3 } }, /autoencoder\.width: unknown field/],
      [
        { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp', space: 'latent' } },
        /model\.space: "latent" needs image data; data\.kind "toy2d"/,
      ],
      [{ model: { kind: 'unet' } }, /autoencoder: only used when model\.space is "latent" \(model\.space is "pixel"\)/],
    ];
    for (const [over, re] of cases) {
      assert.throws(
        () => resolveConfig({ ...base, ...over }),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
        `expected ${re}`,
      );
    }
  });
});

describe('the autoencoder', () => {
  it('its loss falls, the latent scale is 1/std of the encoder means and is saved in the final checkpoint; memory stays flat', async () => {
    const runDir = await newRun('ae', {
      autoencoder: { ...AE, steps: 200 },
      teacher: { steps: 1, batch: 4 },
      guided: { steps: 1, batch: 4 },
      progressive: { n0: 4, targetSteps: 2, steps: 1, batch: 4 },
    });
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    // the unit alone, with tf.memory() read at every loss event: flat after the first steps
    const mem: number[] = [];
    const events: RunEvent[] = [];
    const r = await trainAutoencoder({
      runDir,
      cfg,
      hash: configHash(cfg),
      data,
      emit: (e) => {
        events.push(e);
        if (e.type === 'loss') mem.push(tf.memory().numTensors);
      },
      log: () => {},
      shouldStop: () => false,
    });
    assert.equal(r, 'finished');
    const l = losses(events).map((e) => e.loss);
    assert.equal(l.length, 200);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(
      mean(l.slice(-10)) < 0.25 * mean(l.slice(0, 10)),
      `reconstruction loss ${mean(l.slice(0, 10))} → ${mean(l.slice(-10))}`,
    );
    assert.equal(new Set(mem.slice(2)).size, 1, `tensor count drifted: ${[...new Set(mem)].join(', ')}`);

    const final = listCheckpoints(runDir, 'autoencoder').pop()!;
    const { header, arrays } = readCheckpoint(path.join(runDir, final.file));
    assert.equal(header.final, true);
    assert.equal(header.step, 200);
    assert.ok(header.latentScale! > 0);
    // recompute: 1 / std of every encoder-mean value over the training images
    const ae = buildAutoencoder(cfg.autoencoder!, data.shape, 0);
    for (const { name, variable } of ae.params.list())
      variable.assign(tf.tensor(arrays.get('w/' + name)!.data, variable.shape));
    const { mean: mu } = ae.moments(tf.tensor(data.x, [data.n, ...data.shape]));
    const v = (await mu.data()) as Float32Array;
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
    assert.ok(Math.abs(header.latentScale! * std - 1) < 1e-4, `scale ${header.latentScale} vs 1/std ${1 / std}`);
    assert.equal(await measureLatentScale(ae, data), header.latentScale);
    mu.dispose();
    ae.dispose();
    // the scaled latents of the training set have unit variance; decode(encode(x)) reconstructs x
    const codec = loadCodec(runDir, cfg, data.shape);
    const z = await codec.encode(data.x, data.n);
    const zm = z.reduce((s, x) => s + x, 0) / z.length;
    assert.ok(Math.abs(Math.sqrt(z.reduce((s, x) => s + (x - zm) ** 2, 0) / (z.length - 1)) - 1) < 1e-3);
    const rec = await codec.decode(z, data.n);
    const mse = rec.reduce((s, x, i) => s + (x - data.x[i]) ** 2, 0) / rec.length;
    const dm = data.x.reduce((s, x) => s + x, 0) / data.x.length;
    const variance = data.x.reduce((s, x) => s + (x - dm) ** 2, 0) / data.x.length;
    assert.ok(mse < 0.3 * variance, `reconstruction MSE ${mse} vs the data's variance ${variance}`);
    codec.dispose();
    // grids: originals over reconstructions, two rows of 8 RGB images of 8×8 (at ×6)
    const grids = events.filter((e) => e.type === 'samples').map((e) => (e as { file: string }).file);
    // sampling.interval 0: only the stage end's grid
    assert.deepEqual(grids, ['samples/autoencoder/step-0000200.png']);
    const png = decodePng(fs.readFileSync(path.join(runDir, grids[0])));
    assert.deepEqual([png.width, png.height, png.channels], [8 * 48 + 9 * 2, 2 * 48 + 3 * 2, 3]);
  });

  it('the KL term pulls the posterior towards N(0, I): the loss with klWeight 1 exceeds the one without', () => {
    const ae = buildAutoencoder(AE, [8, 8, 3], 1);
    const x = tf.randomUniform([4, 8, 8, 3], -1, 1, 'float32', 3);
    const eps = tf.zeros([4, 4, 4, 2]);
    const a = autoencoderLoss(ae, x, eps, 0).dataSync()[0];
    const b = autoencoderLoss(ae, x, eps, 1).dataSync()[0];
    assert.ok(b > a, `${b} > ${a}`);
    tf.dispose([x, eps]);
    ae.dispose();
  });

  it('resumes exactly: a run stopped inside the autoencoder and inside the teacher reproduces the uninterrupted losses', async () => {
    const straight = await newRun('straight');
    assert.equal(await runStages({ runDir: straight, summary: false }), 'finished');
    const broken = await newRun('broken');
    await runWithStops(broken, ['autoencoder@27', 'teacher@3']);
    const a = losses(readEvents(straight).events).map((e) => `${e.unit}@${e.step}:${e.loss}`);
    const b = losses(readEvents(broken).events).map((e) => `${e.unit}@${e.step}:${e.loss}`);
    assert.equal(a.length, 60 + 6 + 3 + 3);
    assert.deepEqual(b, a);
    const scale = (dir: string) =>
      readCheckpoint(path.join(dir, listCheckpoints(dir, 'autoencoder').pop()!.file)).header.latentScale;
    assert.equal(scale(broken), scale(straight));
  });
});

describe('a tiny latent run', () => {
  let runDir = '';
  before(async () => {
    if (!fs.existsSync(CLI))
      assert.equal(spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' }).status, 0);
    runDir = await newRun('full');
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
  });

  it('trains autoencoder → teacher → guided → progressive and writes decoded grids of image shape', () => {
    const { events } = readEvents(runDir);
    const ends = events.filter((e) => e.type === 'stage_end').map((e) => (e as { unit: string }).unit);
    assert.deepEqual(ends, ['autoencoder', 'teacher', 'guided', 'progressive-4-2']);
    const model = events.find((e) => e.type === 'model') as { flopsPerExample: number };
    assert.ok(model.flopsPerExample > 0);
    // grids: 2 classes × 4 w, each cell an 8×8 RGB image at ×6 (a latent has 2 channels: a grid of latents cannot exist)
    for (const unit of ['teacher', 'guided', 'progressive-4-2']) {
      const g = events.filter((e) => e.type === 'samples' && e.unit === unit).pop() as { file: string };
      const png = decodePng(fs.readFileSync(path.join(runDir, g.file)));
      assert.deepEqual([png.width, png.height, png.channels], [4 * 48 + 5 * 2, 2 * 48 + 3 * 2, 3], unit);
    }
  });

  it('sample() decodes: the images are the decoder applied to the latent samples', async () => {
    const cfg = loadRunConfig(runDir);
    const file = path.join(runDir, listCheckpoints(runDir, 'progressive-4-2').pop()!.file);
    const d = await loadDenoiser(runDir, cfg, file, 'progressive');
    assert.ok(d.codec);
    assert.deepEqual(d.net.exampleShape, [4, 4, 2]);
    const req = {
      classes: Int32Array.of(0, 1, 1),
      w: Float32Array.of(0, 1, 2),
      steps: 2,
      sampler: 'ddim' as const,
      seed: 4,
    };
    const images = await sample(d, req);
    assert.equal(images.x.length, 3 * 8 * 8 * 3);
    const codec = d.codec!;
    const latents = await sample({ ...d, codec: undefined }, req);
    assert.equal(latents.x.length, 3 * 4 * 4 * 2);
    assert.deepEqual(images.x, await codec.decode(latents.x, 3));
    // an edit at strength 1 in latent space, decoded, is plain sampling with the same seed
    const x0 = await codec.encode(new Float32Array(8 * 8 * 3).fill(0.2), 1);
    const ed = await edit(
      { ...d, codec: undefined },
      { x0, classes: Int32Array.of(1), w: Float32Array.of(2), strength: 1, steps: 2, seed: 9 },
    );
    const plain = await sample(d, {
      classes: Int32Array.of(1),
      w: Float32Array.of(2),
      steps: 2,
      sampler: 'ddim',
      seed: 9,
    });
    assert.deepEqual(await codec.decode(ed.x, 1), plain.x);
    const arr = await sampleArrays({
      runDir,
      stage: 'progressive',
      steps: 2,
      sampler: 'ddim',
      classes: [1],
      perClass: 3,
      seed: 4,
      w: 1,
    });
    assert.deepEqual(arr.shape, [3, 8, 8, 3]);
    disposeDenoiser(d);
  });

  it('distill sample writes decoded .png and .npy images', () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'sample',
        runDir,
        '--stage',
        'progressive',
        '--steps',
        '2',
        '--w',
        '1',
        '--classes',
        '0,1',
        '--out',
        path.join(tmp, 's.npy'),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const npy = decodeNpy(fs.readFileSync(path.join(tmp, 's.npy')));
    assert.deepEqual(npy.shape.slice(1), [8, 8, 3]);
    const p = spawnSync(
      process.execPath,
      [CLI, 'sample', runDir, '--stage', 'teacher', '--steps', '3', '--w', '0,2', '--out', path.join(tmp, 's.png')],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(p.status, 0, p.stderr);
    const png = decodePng(fs.readFileSync(path.join(tmp, 's.png')));
    assert.equal(png.channels, 3);
  });

  it("distill edit encodes, edits in latent space and decodes; with a mask the kept pixels are the input's exactly", () => {
    const input = new Uint8Array(8 * 8 * 3).map((_, i) => (i * 29) % 256);
    fs.writeFileSync(path.join(tmp, 'in.png'), encodePng(input, 8, 8, 3));
    // repaint the left half (columns 0-3): on the 4×4 latent grid, columns 0-1
    const mask = new Uint8Array(64).map((_, p) => (p % 8 < 4 ? 255 : 0));
    fs.writeFileSync(path.join(tmp, 'mask.png'), encodePng(mask, 8, 8, 1));
    const edit = (args: string[]) =>
      spawnSync(
        process.execPath,
        [CLI, 'edit', runDir, '--image', 'in.png', '--class', 'stripes', '--w', '1', ...args],
        { cwd: tmp, encoding: 'utf8', timeout: 120_000 },
      );
    const plain = edit(['--strength', '0.7', '--out', 'e.png']);
    assert.equal(plain.status, 0, plain.stderr);
    const e = decodePng(fs.readFileSync(path.join(tmp, 'e.png')));
    assert.deepEqual([e.width, e.height, e.channels], [8, 8, 3]);
    assert.ok(e.data.some((v, i) => v !== input[i]));
    const inp = edit(['--strength', '1', '--mask', 'mask.png', '--out', 'i.png']);
    assert.equal(inp.status, 0, inp.stderr);
    const o = decodePng(fs.readFileSync(path.join(tmp, 'i.png'))).data;
    let keptSame = true;
    let repaintedDiffers = false;
    for (let p = 0; p < 64; p++) {
      for (let c = 0; c < 3; c++) {
        if (p % 8 >= 4) keptSame &&= o[p * 3 + c] === input[p * 3 + c];
        else repaintedDiffers ||= o[p * 3 + c] !== input[p * 3 + c];
      }
    }
    assert.ok(keptSame, 'kept pixels changed');
    assert.ok(repaintedDiffers, 'nothing repainted');
    // strength 0 without a mask: the autoencoder's reconstruction of the input (not the input itself, not noise)
    const zero = edit(['--strength', '0', '--out', 'z.png']);
    assert.equal(zero.status, 0, zero.stderr);
  });

  it('strength 0 gives the reconstruction; the mask goes to the latent grid cell by cell (any repainted pixel repaints its cell)', async () => {
    const cfg = loadRunConfig(runDir);
    const codec = loadCodec(runDir, cfg, [8, 8, 3]);
    const input = decodePng(fs.readFileSync(path.join(tmp, 'in.png')));
    const x = Float32Array.from(input.data, (v) => v / 127.5 - 1);
    const rec = await codec.decode(await codec.encode(x, 1), 1);
    const z = decodePng(fs.readFileSync(path.join(tmp, 'z.png'))).data;
    const toByte = (v: number) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
    let maxDiff = 0;
    for (let i = 0; i < z.length; i++) maxDiff = Math.max(maxDiff, Math.abs(z[i] - toByte(rec[i])));
    assert.ok(maxDiff <= 1, `strength 0 differs from the reconstruction by ${maxDiff}`);
    // one repainted pixel at (y 5, x 2) → latent cell (2, 1) only, all 2 channels
    const m = new Float32Array(8 * 8 * 3);
    m.fill(1, (5 * 8 + 2) * 3, (5 * 8 + 2) * 3 + 3);
    const lm = latentMask(m, codec);
    const ones = [...lm.keys()].filter((i) => lm[i] === 1);
    assert.deepEqual(ones, [(2 * 4 + 1) * 2, (2 * 4 + 1) * 2 + 1]);
    codec.dispose();
  });

  it('the end-of-run table and distill eval judge decoded images, and the report says what latent space buys', async () => {
    const cfg = loadRunConfig(runDir);
    const data = await loadDataset(cfg.data, { split: 'train', seed: cfg.seed });
    const { rows } = await evaluateQuick({ runDir, cfg, data, log: () => {}, samplesPerClass: 8 });
    assert.deepEqual(
      rows.map((r) => `${r.model}:${r.steps}:${r.w}`),
      ['teacher:4:0', 'teacher:2:0', 'student:2:0', 'teacher:4:2', 'teacher:2:2', 'student:2:2'],
    );
    for (const r of rows) assert.ok(r.metric === 'accuracy' && r.value >= 0 && r.value <= 1);
    const out = path.join(tmp, 'eval');
    const { data: rep } = await evaluateRun({ runDir, out });
    assert.deepEqual(rep.dataset.shape, [8, 8, 3]);
    assert.ok(rep.rows.length > 0 && rep.rows.every((r) => r.fid !== null && Number.isFinite(r.fid)));
    const c = rep.latent!;
    assert.deepEqual(
      [c.imageShape, c.latentShape],
      [
        [8, 8, 3],
        [4, 4, 2],
      ],
    );
    // the same U-Net on 4×4×2 latents vs 8×8×3 images: fewer FLOPs per evaluation and per training step
    assert.ok(c.flops.latentNfe < c.flops.pixelNfe / 2, `${c.flops.latentNfe} vs ${c.flops.pixelNfe}`);
    assert.equal(c.trainStep.pixelFlops, 3 * c.flops.pixelNfe * 8);
    assert.ok(
      c.ms.latentNfe > 0 && c.ms.pixelNfe > 0 && c.ms.decode > 0 && c.trainStep.latentMs > 0 && c.trainStep.pixelMs > 0,
    );
    const teacherRow = c.perSample.find((p) => p.label === 'guided teacher 4 steps')!;
    assert.equal(teacherRow.nfe, 8);
    assert.equal(teacherRow.latentFlops, 8 * c.flops.latentNfe + c.flops.decode);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /## What latent space buys \(same resolution, same network config\)/);
    assert.match(md, /\| per sample, student 2 steps \(2 NFE\): MFLOP \| /);
  });

  it('distill export includes the decoder: the browser student draws the same decoded images as the engine', async () => {
    const out = path.join(tmp, 'export');
    const r = await exportStudent({ runDir, out });
    const m = r.manifest;
    assert.deepEqual(
      [m.exampleShape, m.decoder!.latentShape, m.decoder!.imageShape],
      [
        [4, 4, 2],
        [4, 4, 2],
        [8, 8, 3],
      ],
    );
    const n = m.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(n, m.parameters);
    assert.ok(
      m.tensors.some((t) => t.name === 'decoder/dec.out.w') && !m.tensors.some((t) => t.name.startsWith('decoder/enc')),
    );
    assert.match(
      fs.readFileSync(path.join(out, 'README.md'), 'utf8'),
      /8×8×3 images .*sampled as 4×4×2 latents and decoded by the run's autoencoder/,
    );
    const mod = await import(pathToFileURL(path.join(out, 'student.mjs')).href);
    const student = await mod.loadStudent(tf, pathToFileURL(out + '/'));
    const before = tf.memory().numTensors;
    const got = await student.sample({ classId: 1, w: 1.5, seed: 11, count: 6 });
    assert.equal(tf.memory().numTensors, before, 'sampling leaks no tensors');
    assert.deepEqual(got.shape, [6, 8, 8, 3]);
    const cfg = loadRunConfig(runDir);
    const d = await loadDenoiser(
      runDir,
      cfg,
      path.join(runDir, listCheckpoints(runDir, 'progressive-4-2').pop()!.file),
      'progressive',
    );
    const ref = await sample(d, {
      classes: new Int32Array(6).fill(1),
      w: new Float32Array(6).fill(1.5),
      steps: 2,
      sampler: 'ddim',
      seed: 11,
    });
    disposeDenoiser(d);
    let diff = 0;
    for (let i = 0; i < ref.x.length; i++) diff = Math.max(diff, Math.abs(ref.x[i] - got.x[i]));
    assert.ok(diff < 1e-4, `exported vs engine: max |Δ| ${diff}`);
    student.dispose();
  });
});
