/**
 * Training behaviour end to end on a tiny 2-D toy problem (wasm backend, one thread, seeded):
 * all three stages, exact resume, checkpoint corruption, no tensor leak, divergence handling, config errors, the lock.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { createRun, ensureBackend, loadDenoiser, loadRunConfig, runStages, validateConfigFile } from '../../src/engine';
import { readCheckpoint, writeCheckpoint } from '../../src/engine/run/checkpoint';
import { configHash } from '../../src/engine/run/config';
import { loadDataset } from '../../src/engine/data';
import { slicedWasserstein } from '../../src/engine/eval/metrics';
import { LossEvent, RunEvent } from '../../src/engine/run/events';
import { buildNet } from '../../src/engine/nn/net';
import { acquireLock, listCheckpoints, readEvents } from '../../src/engine/run/run-folder';
import { runWithStops } from '../helpers/runs';
import { toyConfig } from '../helpers/toy-config';
import { sample } from '../../src/engine/method/samplers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-train-'));

function writeConfig(name: string, overrides: Record<string, unknown> = {}): string {
  // `overrides` replace whole sections here
  const cfg = {
    ...toyConfig({
      name,
      data: { n: 2048 },
      model: { hidden: 64, depth: 2, embedDim: 32 },
      teacher: { steps: 40, batch: 64, lr: 0.002, warmup: 5, ema: 0.9 },
      guided: { batch: 64 },
      progressive: { steps: 20, batch: 64 },
      sampling: { teacherSteps: 8 },
      checkpoint: { interval: 10 },
      log: { interval: 1 },
    }),
    ...overrides,
  };
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

const losses = (events: RunEvent[]) =>
  events.filter((e): e is LossEvent => e.type === 'loss').map((e) => `${e.unit}@${e.step}:${e.loss}`);

before(async () => {
  await ensureBackend('wasm', 1);
});

describe('a tiny toy run through all three stages', () => {
  it('trains teacher → guided → progressive, and its 4-step student is closer to the 64-step guided teacher than an untrained student', async () => {
    const file = writeConfig('full', {
      teacher: { steps: 1000, batch: 128, lr: 0.003, warmup: 50, ema: 0.99 },
      guided: { steps: 300, batch: 128, lr: 0.001 },
      progressive: { n0: 16, targetSteps: 4, steps: 150, batch: 128, lr: 0.001 },
      checkpoint: { interval: 1000, keep: 1 },
      log: { interval: 50 },
    });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'full' });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const { events } = readEvents(runDir);
    const units = events.filter((e) => e.type === 'stage_end').map((e) => (e as { unit: string }).unit);
    assert.deepEqual(units, ['teacher', 'guided', 'progressive-16-8', 'progressive-8-4']);
    assert.ok(fs.existsSync(path.join(runDir, 'samples', 'progressive-8-4', 'step-0000150.png')));

    const cfg = loadRunConfig(runDir);
    const teacher = await loadDenoiser(
      runDir,
      cfg,
      path.join(runDir, listCheckpoints(runDir, 'teacher').pop()!.file),
      'teacher',
    );
    const student = await loadDenoiser(
      runDir,
      cfg,
      path.join(runDir, listCheckpoints(runDir, 'progressive-8-4').pop()!.file),
      'progressive',
    );
    const untrained = {
      net: buildNet({ model: cfg.model, exampleShape: [2], numClasses: 2, withW: true, seed: 123 }),
      param: 'v' as const,
      schedule: cfg.diffusion,
    };
    const n = 400;
    const classes = Int32Array.from({ length: n }, (_, i) => i % 2);
    const w = new Float32Array(n).fill(2);
    const ref = await sample(teacher, { classes, w, steps: 64, sampler: 'ddim', seed: 1 });
    const s4 = await sample(student, { classes, w, steps: 4, sampler: 'ddim', seed: 2 });
    const u4 = await sample(untrained, { classes, w, steps: 4, sampler: 'ddim', seed: 2 });
    const dStudent = slicedWasserstein(s4.x, ref.x, 2);
    const dUntrained = slicedWasserstein(u4.x, ref.x, 2);
    assert.ok(dStudent < 0.5 * dUntrained, `student SWD ${dStudent} vs untrained ${dUntrained}`);
    // and the teacher itself learnt the data
    const real = await loadDataset(cfg.data, { split: 'test', seed: cfg.seed });
    assert.ok(slicedWasserstein(ref.x, real.x, 2) < 0.15, 'teacher samples resemble the data');
    for (const d of [teacher, student, untrained]) d.net.dispose();
  });
});

describe('exact resume', () => {
  it('a run stopped mid-teacher and mid-progressive and resumed reproduces the uninterrupted losses', async () => {
    const file = writeConfig('resume');
    const straight = await createRun({ configPath: file, runsDir: tmp, name: 'straight' });
    await runStages({ runDir: straight, summary: false });

    const broken = await createRun({ configPath: file, runsDir: tmp, name: 'broken' });
    await runWithStops(broken, ['teacher@17', 'progressive-4-2@7']);
    const a = losses(readEvents(straight).events);
    const b = losses(readEvents(broken).events);
    assert.equal(a.length, 40 + 20 + 20);
    assert.deepEqual(b, a);
    const ends = readEvents(broken)
      .events.filter((e) => e.type === 'run_end')
      .map((e) => (e as { status: string }).status);
    assert.deepEqual(ends, ['stopped', 'stopped', 'finished']);
  });
});

describe('changing progressive.targetSteps of a run folder', () => {
  /** Every checkpoint file of a run, with its bytes. */
  const checkpointFiles = (runDir: string) =>
    new Map(
      fs
        .readdirSync(path.join(runDir, 'checkpoints'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ckpt'))
        .map((f) => [f, fs.readFileSync(path.join(runDir, 'checkpoints', f))]),
    );

  it('a finished run retargeted from 2 steps to 1 trains only the new halving, as a run made for 1 step would', async () => {
    const runDir = await createRun({ configPath: writeConfig('retarget'), runsDir: tmp, name: 'retarget' });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const kept = checkpointFiles(runDir);
    const seen = readEvents(runDir).events.length;
    const cfgFile = path.join(runDir, 'config.json');
    const raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    raw.progressive.targetSteps = 1;
    fs.writeFileSync(cfgFile, JSON.stringify(raw, null, 2));

    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const later = readEvents(runDir).events.slice(seen);
    assert.deepEqual([...new Set(later.flatMap((e) => (e.type === 'loss' ? [e.unit] : [])))], ['progressive-2-1']);
    const now = checkpointFiles(runDir);
    for (const [f, bytes] of kept) assert.ok(now.get(f)?.equals(bytes), `${f} is untouched`);

    // the new halving is the one a run created for 1 step trains: same losses, same final weights
    const direct = await createRun({
      configPath: writeConfig('direct', { progressive: { ...(raw.progressive as object) } }),
      runsDir: tmp,
      name: 'direct',
    });
    assert.equal(await runStages({ runDir: direct, summary: false }), 'finished');
    const lossesOf = (dir: string) => losses(readEvents(dir).events).filter((l) => l.startsWith('progressive-2-1@'));
    assert.equal(lossesOf(runDir).length, 20);
    assert.deepEqual(lossesOf(runDir), lossesOf(direct));
    const last = (dir: string) => {
      const list = listCheckpoints(dir, 'progressive-2-1');
      return readCheckpoint(path.join(dir, list[list.length - 1].file));
    };
    const [a, b] = [last(runDir), last(direct)];
    assert.equal(a.header.final, true);
    assert.equal(a.header.sha256, b.header.sha256, 'bit-identical final weights');
    assert.equal(a.header.configHash, JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).configHash);
  });

  it('any other change to the halvings is still refused, naming the file', async () => {
    const runDir = await createRun({ configPath: writeConfig('restep'), runsDir: tmp, name: 'restep' });
    const cfgFile = path.join(runDir, 'config.json');
    const raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    raw.progressive.steps = 40;
    fs.writeFileSync(cfgFile, JSON.stringify(raw, null, 2));
    assert.throws(() => loadRunConfig(runDir), /restep[/\\]config\.json was changed after the run was created/);
  });
});

describe('checkpoints', () => {
  it('keeps `keep` checkpoints per unit plus the final one, and detects corruption', async () => {
    const file = writeConfig('ckpt', { guided: { steps: 30, batch: 64, lr: 0.001 } });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'ckpt' });
    await runStages({ runDir, summary: false });
    assert.deepEqual(
      listCheckpoints(runDir, 'teacher').map((c) => c.step),
      [30, 40],
    );
    const g = listCheckpoints(runDir, 'guided').pop()!;
    const abs = path.join(runDir, g.file);
    const header = readCheckpoint(abs).header;
    assert.equal(header.final, true);
    assert.equal(header.step, 30);
    const buf = fs.readFileSync(abs);
    buf[buf.length - 5] ^= 0xff;
    fs.writeFileSync(abs, buf);
    assert.throws(() => readCheckpoint(abs), /checkpoint is corrupt \(checksum mismatch\)/);
    fs.writeFileSync(abs, buf.subarray(0, buf.length - 100));
    assert.throws(() => readCheckpoint(abs), /truncated/);
  });

  it('a stop during the end-of-run table skips the table only: the run is finished, nothing is lost', async () => {
    const file = writeConfig('stop-table');
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'stop-table' });
    const ac = new AbortController();
    const lines: string[] = [];
    // the last unit's end: training is complete, the table is about to start
    const status = await runStages({
      runDir,
      signal: ac.signal,
      onLog: (l) => lines.push(l),
      onEvent: (e) => e.type === 'stage_end' && e.unit === 'progressive-4-2' && ac.abort(),
    });
    assert.equal(status, 'finished');
    const { events } = readEvents(runDir);
    assert.ok(!events.some((e) => e.type === 'summary'), 'no table');
    assert.ok(!events.some((e) => e.type === 'error'), 'not an error');
    assert.deepEqual(events[events.length - 1], { ...events[events.length - 1], type: 'run_end', status: 'finished' });
    assert.ok(
      lines.some((l) => /stopped during the end-of-run table: training is complete and saved/.test(l)),
      lines.join('\n'),
    );
    assert.equal(listCheckpoints(runDir, 'progressive-4-2').pop()!.step, 20);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')), 'lock released');
  });

  it('a resume skips a corrupt newest checkpoint and continues from the previous one', async () => {
    const file = writeConfig('corrupt');
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'corrupt' });
    const ac = new AbortController();
    await runStages({
      runDir,
      summary: false,
      signal: ac.signal,
      onEvent: (e) => e.type === 'loss' && e.step === 25 && ac.abort(),
    });
    const list = listCheckpoints(runDir, 'teacher');
    assert.deepEqual(
      list.map((c) => c.step),
      [20, 25],
    );
    fs.writeFileSync(path.join(runDir, list[1].file), 'garbage');
    const seen: RunEvent[] = [];
    await runStages({ runDir, summary: false, onEvent: (e) => seen.push(e) });
    const start = seen.find((e) => e.type === 'stage_start' && e.unit === 'teacher');
    assert.equal((start as { startStep: number }).startStep, 20);
    assert.ok(seen.some((e) => e.type === 'error' && /bad magic|not a Diffusion Distiller checkpoint/.test(e.message)));
  });
});

describe('resources and failures', () => {
  it('does not leak tensors: tf.memory().numTensors is the same after step 10 and step 200', async () => {
    const file = writeConfig('leak', {
      teacher: { steps: 200, batch: 32, lr: 0.001 },
      sampling: { interval: 50, teacherSteps: 4 },
      checkpoint: { interval: 100, keep: 1 },
    });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'leak' });
    const counts = new Map<number, number>();
    const ac = new AbortController();
    await runStages({
      runDir,
      summary: false,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'loss' && e.unit === 'teacher' && (e.step === 10 || e.step === 200))
          counts.set(e.step, tf.memory().numTensors);
        if (e.type === 'stage_end') ac.abort();
      },
    });
    assert.equal(counts.size, 2);
    assert.equal(counts.get(200), counts.get(10));
  });

  it('a diverging loss stops the stage with a clear message and keeps the last good checkpoint', async () => {
    // The config bounds refuse the learning rates that once made this diverge (lr 1e30), and lr 1 with Adam stays
    // finite: stop at step 10, put NaN into the saved weights (a well-formed, checksummed checkpoint), resume.
    const file = writeConfig('nan', { teacher: { steps: 40, batch: 64, lr: 0.002, warmup: 0, ema: 0 } });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'nan' });
    const ac = new AbortController();
    const stopped = await runStages({
      runDir,
      summary: false,
      signal: ac.signal,
      onEvent: (e) => e.type === 'loss' && e.step === 10 && ac.abort(),
    });
    assert.equal(stopped, 'stopped');
    const ckpts = listCheckpoints(runDir, 'teacher');
    const last = path.join(runDir, ckpts[ckpts.length - 1].file);
    const { header, arrays } = readCheckpoint(last);
    for (const a of arrays.values()) a.data.fill(NaN);
    const { tensors: _t, sha256: _s, ...rest } = header;
    writeCheckpoint(last, rest, arrays);
    await assert.rejects(
      runStages({ runDir, summary: false }),
      /the loss became (NaN|Infinity|-Infinity) at step \d+; training stopped/,
    );
    const { events } = readEvents(runDir);
    assert.equal(events[events.length - 1].type, 'run_end');
    assert.equal((events[events.length - 1] as { status: string }).status, 'failed');
    for (const c of listCheckpoints(runDir, 'teacher')) readCheckpoint(path.join(runDir, c.file)); // all intact
  });

  it('refuses a second writer while the run is locked', async () => {
    const file = writeConfig('lock');
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'lock' });
    const release = acquireLock(runDir);
    await assert.rejects(runStages({ runDir, summary: false }), /is in use: process \d+ on .* has been writing it/);
    release();
  });

  it('refuses a plan with a zero-step stage before anything trains, naming the field', async () => {
    const file = writeConfig('zero-stage', { guided: { steps: 0, batch: 64 } });
    const runDir = await createRun({ configPath: file, runsDir: tmp, name: 'zero-stage' });
    await assert.rejects(
      runStages({ runDir, summary: false }),
      /^Error: guided\.steps: 0 would skip a stage that later stages depend on; set at least 1$/,
    );
    assert.deepEqual(listCheckpoints(runDir, 'teacher'), [], 'the teacher must not have trained');
  });

  it('rejects an existing run name instead of overwriting it', async () => {
    const file = writeConfig('dup');
    await createRun({ configPath: file, runsDir: tmp, name: 'dup' });
    await assert.rejects(
      createRun({ configPath: file, runsDir: tmp, name: 'dup' }),
      /already exists; continue it with `distill resume/,
    );
  });
});

describe('config validation', () => {
  const check = (overrides: Record<string, unknown>, pattern: RegExp) => {
    const r = validateConfigFile(writeConfig('bad', overrides));
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.ok(
        r.errors.some((e) => pattern.test(e)),
        `errors: ${r.errors.join(' | ')}`,
      );
  };
  it('names the field and what was expected', () => {
    check({ teacher: { lr: -1 } }, /^teacher\.lr: -1 is out of range; expected a number > 0 and ≤ 1$/);
    check({ teacher: { stepz: 3 } }, /^teacher\.stepz: unknown field/);
    check({ data: { kind: 'cifar' } }, /^data\.kind: expected one of "toy2d", "mnist", "idx", "folder"/);
    check(
      { data: { kind: 'toy2d', shape: 'hearts' } },
      /^data\.shape: expected one of "rings", "moons", "spirals", "gaussians"/,
    );
    check({ progressive: { n0: 12 } }, /^progressive\.n0: expected a power of two/);
    check({ backend: 'gpu' }, /^backend: expected one of "auto", "webgpu", "wasm", "cpu", "tensorflow"/);
    check({ model: { kind: 'unet' } }, /^model\.kind: "unet" needs image data/);
  });
  it('accepts comments in configs and every example in examples/', () => {
    const f = path.join(tmp, 'commented.distill.json');
    fs.writeFileSync(
      f,
      '{\n // a comment\n "data": {"kind": "toy2d", "shape": "rings"}, /* block */ "model": {"kind": "mlp"},\n}\n',
    );
    assert.equal(validateConfigFile(f).ok, true);
    const dir = path.join(__dirname, '..', '..', 'examples');
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.distill.json'))) {
      const r = validateConfigFile(path.join(dir, name));
      assert.ok(r.ok, `${name}: ${r.ok ? '' : r.errors.join('; ')}`);
    }
  });
});

describe("model.wFreqMax (the students' w embedding)", () => {
  it('new runs record 4; a run folder from before the setting loads with the legacy 50 and keeps its hash', async () => {
    const runDir = await createRun({ configPath: writeConfig('wfreq-new'), runsDir: tmp, name: 'wfreq-new' });
    assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')).model.wFreqMax, 4);
    assert.equal(loadRunConfig(runDir).model.wFreqMax, 4);

    // An old run folder: config.json without the field, run.json with the hash computed back then.
    const oldDir = await createRun({ configPath: writeConfig('wfreq-old'), runsDir: tmp, name: 'wfreq-old' });
    // the hash back then: the same canonical hash of the config with no wFreqMax key at all
    const created = loadRunConfig(oldDir);
    const { wFreqMax: _w, ...oldModel } = created.model;
    const oldHash = configHash({ ...created, model: oldModel as typeof created.model });
    const cfgFile = path.join(oldDir, 'config.json');
    const raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    delete raw.model.wFreqMax;
    fs.writeFileSync(cfgFile, JSON.stringify(raw, null, 2));
    const metaFile = path.join(oldDir, 'run.json');
    fs.writeFileSync(
      metaFile,
      JSON.stringify({ ...JSON.parse(fs.readFileSync(metaFile, 'utf8')), configHash: oldHash }),
    );
    assert.equal(loadRunConfig(oldDir).model.wFreqMax, 50);
  });

  it("changes only the students' output (the teacher has no w input)", () => {
    const model = {
      kind: 'mlp' as const,
      parameterization: 'v' as const,
      channels: [],
      blocksPerLevel: 1,
      attention: false,
      groups: 1,
      embedDim: 16,
      hidden: 16,
      depth: 1,
    };
    const out = (wFreqMax: number, withW: boolean) =>
      tf.tidy(() => {
        const net = buildNet({ model: { ...model, wFreqMax }, exampleShape: [2], numClasses: 3, withW, seed: 1 });
        // the w MLP's last layer starts at zero: give it weights so w reaches the output
        if (withW)
          for (const [name, v] of net.params.vars.entries())
            if (name.startsWith('wemb.1') || name.startsWith('blk0.fc1') || name === 'out.w')
              v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 7));
        const y = net
          .apply(
            tf.tensor2d([[0.3, -0.2]]),
            Float32Array.from([1.5]),
            Int32Array.from([1]),
            withW ? Float32Array.from([2]) : undefined,
          )
          .arraySync();
        net.dispose();
        return y as number[][];
      });
    assert.notDeepEqual(out(4, true), out(50, true));
    assert.deepEqual(out(4, false), out(50, false));
  });
});
