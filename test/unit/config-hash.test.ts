/**
 * configHash is recorded in run.json and in every checkpoint; a run resumes only while its config.json hashes to the
 * same value. Run folders made by 0.1.0 recorded legacyConfigHash (progressive.targetSteps included) and resume under
 * it. Those hashes are pinned (computed before the hash's neutral-field table existed), so a change that would
 * stop existing run folders from resuming fails here first. Fields listed in HASH_NEUTRAL are left out of the hash
 * at their neutral value, which is what lets a new field join the config without changing any older hash.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  configHash,
  HASH_NEUTRAL,
  legacyConfigHash,
  parseConfigText,
  resolveConfig,
  ResolvedConfig,
  runHash,
  unitHash,
} from '../../src/engine/run/config';
import { loadSweepFile } from '../../src/engine/run/sweep';

const examples = path.join(__dirname, '..', '..', 'examples');

/** An example resolved as a run folder records it, with its data paths under /examples (so the hash is the same on every checkout). */
function example(name: string): ResolvedConfig {
  return resolveConfig(parseConfigText(fs.readFileSync(path.join(examples, name), 'utf8'), name), {
    file: name,
    baseDir: '/examples',
  });
}

const resolve = (name: string, raw: Record<string, unknown>) =>
  resolveConfig(raw, { file: `${name}.distill.json`, baseDir: '/base' });

const CHANGED =
  'a field resolveConfig fills in changed the hash of existing run folders: give it a HASH_NEUTRAL entry (the value that reproduces runs made before it)';

describe('configHash of existing run folders', () => {
  it('every example config keeps its hash', () => {
    const pinned: Record<string, string> = {
      'digits.distill.json': '2e74164323f310de',
      'emoji-latent.distill.json': 'de4adf99c45e3b17',
      'emoji.distill.json': 'a8b558946c9d513e',
      'fashion.distill.json': '0132106070cd179e',
      'gpu-cifar-like.distill.json': '87ca4a4ca52dc839',
      'images.distill.json': '516cb18827269c57',
      'quickstart.distill.json': '4b5c438e2298c6dc',
      'toy2d.distill.json': '9fef04683577e4fe',
    };
    for (const [name, hash] of Object.entries(pinned))
      assert.equal(legacyConfigHash(example(name)), hash, `${name}: ${CHANGED}`);
  });

  it('the example sweep keeps the hashes of its variants', () => {
    const sweep = loadSweepFile(path.join(examples, 'toy2d.sweep.json'));
    assert.deepEqual(
      sweep.variants.map((v) => legacyConfigHash(v.config)),
      ['14b6db8522c0610d', '9fef04683577e4fe'],
      CHANGED,
    );
  });

  it('minimal configs of every data kind, latent space and fully specified configs keep their hashes', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['toyMin', { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' } }, 'a6108071e1a41217'],
      ['mnistMin', { data: { kind: 'mnist' }, model: { kind: 'unet' } }, '1581e4929a06897c'],
      ['idxMin', { data: { kind: 'idx', images: 'a', labels: 'b' }, model: { kind: 'unet' } }, '36b80a7fd8c489f5'],
      [
        'folderMin',
        { data: { kind: 'folder', path: 'x', imageSize: 16 }, model: { kind: 'unet' } },
        '0b1759c3cba42d70',
      ],
      ['emojiMin', { data: { kind: 'emoji' }, model: { kind: 'unet' } }, 'e95e0ff90e02a929'],
      [
        'emojiPart',
        { data: { kind: 'emoji', vendor: 'twitter', imageSize: 16 }, model: { kind: 'unet' } },
        'd4ed2593db78552b',
      ],
      [
        'latentMin',
        { data: { kind: 'mnist', imageSize: 16 }, model: { kind: 'unet', space: 'latent' } },
        '3ae6360b3bdb11a9',
      ],
      [
        'latentF8',
        {
          data: { kind: 'mnist', imageSize: 32 },
          model: { kind: 'unet', space: 'latent' },
          autoencoder: { factor: 8, steps: 5 },
        },
        '08f8b0aeebb89e7a',
      ],
      [
        'nonNeutral',
        {
          parallel: 'workers',
          data: { kind: 'toy2d', shape: 'moons' },
          model: { kind: 'mlp', wFreqMax: 50 },
          guidance: { wPower: 3 },
        },
        '1413f32524b1b5e7',
      ],
      ['legacyW', { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp', wFreqMax: 4 } }, 'd78cc8bfd6fdf718'],
      [
        'full',
        {
          name: 'f',
          seed: 9,
          backend: 'cpu',
          threads: 2,
          parallel: 'threads',
          data: { kind: 'folder', path: 'p', imageSize: 16, channels: 1, limit: 5 },
          model: {
            kind: 'unet',
            parameterization: 'x',
            channels: [8, 16],
            blocksPerLevel: 2,
            attention: true,
            groups: 4,
            embedDim: 16,
            wFreqMax: 8,
            hidden: 32,
            depth: 2,
            space: 'latent',
          },
          autoencoder: {
            factor: 2,
            latentChannels: 2,
            channels: [8, 16],
            klWeight: 0.1,
            steps: 3,
            batch: 4,
            lr: 0.01,
            warmup: 1,
            anneal: true,
            clip: 2,
            ema: 0.5,
          },
          diffusion: { logSnrMin: -10, logSnrMax: 10, pUncond: 0.2 },
          guidance: { wMin: 1, wMax: 3, wPower: 2, sampleW: [1] },
          teacher: { steps: 1, batch: 2, lr: 0.1, warmup: 1, anneal: true, clip: 3, ema: 0.1 },
          guided: { steps: 1, batch: 2, lr: 0.1, warmup: 1, anneal: false, clip: 3, ema: 0.1 },
          progressive: {
            steps: 1,
            batch: 2,
            lr: 0.1,
            warmup: 1,
            anneal: false,
            clip: 3,
            ema: 0.1,
            n0: 8,
            targetSteps: 1,
          },
          sampling: { interval: 3, teacherSteps: 5, classes: [0], perClass: 2 },
          checkpoint: { interval: 7, keep: 2 },
          log: { interval: 3 },
          eval: { w: [1], teacherSteps: [2], studentSteps: [1], samples: 10, classifierSteps: 2 },
        },
        'bf1bb8084eb073e4',
      ],
    ];
    for (const [name, raw, hash] of cases)
      assert.equal(legacyConfigHash(resolve(name, raw)), hash, `${name}: ${CHANGED}`);
  });

  it('a run folder config.json (the resolved config, resolved again on resume) hashes as its source did', () => {
    for (const name of fs.readdirSync(examples).filter((n) => n.endsWith('.distill.json'))) {
      const cfg = example(name);
      const again = resolveConfig(JSON.parse(JSON.stringify(cfg)), {
        file: path.join('/run', 'config.json'),
        baseDir: '/run',
      });
      assert.equal(configHash(again), configHash(cfg), name);
    }
  });
});

describe('hash-neutral fields', () => {
  /** Another value of each neutral field, which must count. */
  const other: Record<string, unknown> = {
    parallel: 'workers',
    'model.space': 'latent',
    'model.wFreqMax': 4,
    'guidance.wPower': 3,
    'teacher.kind': 'exact',
  };
  const set = (cfg: ResolvedConfig, field: string, value: unknown): ResolvedConfig => {
    type Node = Record<string, unknown>;
    const copy = structuredClone(cfg) as unknown as Node;
    const keys = field.split('.');
    const last = keys.pop()!;
    const parent = keys.reduce((o, k) => o[k] as Node, copy);
    if (value === undefined) delete parent[last];
    else parent[last] = value;
    return copy as unknown as ResolvedConfig;
  };

  it('lists the five fields added after run folders existed, with the values older runs had', () => {
    assert.deepEqual(
      HASH_NEUTRAL.map(([f, v]) => `${f}=${v}`),
      ['parallel=auto', 'model.space=pixel', 'model.wFreqMax=50', 'guidance.wPower=1', 'teacher.kind=trained'],
    );
  });

  it('a field at its neutral value hashes as if the config had no such field; any other value changes the hash', () => {
    const base = example('toy2d.distill.json');
    for (const [field, neutral] of HASH_NEUTRAL) {
      const absent = configHash(set(base, field, undefined));
      assert.equal(configHash(set(base, field, neutral)), absent, `${field} = ${JSON.stringify(neutral)}`);
      assert.notEqual(configHash(set(base, field, other[field])), absent, `${field} = ${JSON.stringify(other[field])}`);
    }
  });

  it('leaves out the stage-2 methods and their sections; a consistency unit hashes its own section', () => {
    const base = example('toy2d.distill.json');
    const both = resolveConfig(
      { ...JSON.parse(JSON.stringify(base)), methods: ['progressive', 'consistency'] },
      { file: '/run/config.json', baseDir: '/run' },
    );
    assert.equal(configHash(both), configHash(base), 'adding a method keeps the other units resumable');
    assert.equal(unitHash(both, 'teacher'), configHash(base));
    assert.equal(unitHash(both, 'progressive'), configHash(base));
    const changed = structuredClone(both);
    changed.consistency!.lr *= 2;
    assert.equal(configHash(changed), configHash(both));
    assert.notEqual(unitHash(changed, 'consistency'), unitHash(both, 'consistency'));
    assert.notEqual(unitHash(both, 'consistency'), configHash(both));
  });

  it('leaves out progressive.targetSteps, and still accepts a 0.1.0 folder under its legacy hash', () => {
    const base = example('digits.distill.json');
    const to = (n: 1 | 2 | 4) => {
      const c = structuredClone(base);
      c.progressive.targetSteps = n;
      return c;
    };
    assert.equal(configHash(to(4)), configHash(to(1)), 'a changed target keeps the finished halvings resumable');
    assert.notEqual(legacyConfigHash(to(4)), legacyConfigHash(to(1)));
    const steps = structuredClone(base);
    steps.progressive.steps *= 2;
    assert.notEqual(configHash(steps), configHash(base), 'the halvings themselves are still hashed');
    // a folder created now: any target resumes under its recorded hash
    assert.equal(runHash(to(1), configHash(to(4))), configHash(to(4)));
    assert.equal(runHash(steps, configHash(base)), undefined);
    // a 0.1.0 folder keeps its legacy hash, so its checkpoints still match, and its target cannot change
    assert.equal(runHash(base, legacyConfigHash(base)), legacyConfigHash(base));
    assert.equal(runHash(to(4), legacyConfigHash(to(1))), undefined);
    assert.equal(unitHash(base, 'progressive', legacyConfigHash(base)), legacyConfigHash(base));
    assert.notEqual(unitHash(base, 'consistency', legacyConfigHash(base)), unitHash(base, 'consistency'));
    assert.equal(base.progressive.targetSteps, 1, 'the argument is not modified');
  });

  it('is independent of key order and does not modify its argument', () => {
    const cfg = example('emoji-latent.distill.json');
    const before = JSON.stringify(cfg);
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v;
    assert.equal(configHash(reversed(cfg) as ResolvedConfig), configHash(cfg));
    assert.equal(JSON.stringify(cfg), before);
    assert.ok(Object.isFrozen(HASH_NEUTRAL));
  });
});
