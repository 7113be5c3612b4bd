/**
 * Config bounds: every numeric field of THE config schema (the one the editor validates with, through
 * contributes.jsonValidation, and `distill run` validates with at run time) has a range, states it in its description
 * (the editor's hover) and its error; absurd values are refused, large legitimate ones (long runs, GPU batches) are not.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { configSchema, rangeLabel, resolveConfig, validateConfigFile } from '../../src/engine/run/config';

const root = path.join(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-bounds-'));
const base = () => ({ data: { kind: 'mnist', imageSize: 16 }, model: { kind: 'unet', channels: [24, 48] } });

/** Errors of a config made of `base()` with `patch` merged in one level deep (or [] when it is valid). */
function errorsOf(patch: Record<string, unknown>, make: () => Record<string, unknown> = base): string[] {
  const cfg: Record<string, unknown> = make();
  for (const [k, v] of Object.entries(patch)) {
    cfg[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cfg[k] && typeof cfg[k] === 'object' ? { ...cfg[k], ...v } : v;
  }
  const file = path.join(tmp, `c${Math.random().toString(36).slice(2)}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  const r = validateConfigFile(file);
  return r.ok ? [] : r.errors;
}

/** Every schema node with type integer/number, with its JSON path. */
function numericNodes(node: unknown, at = '#'): Array<{ at: string; s: Record<string, unknown> }> {
  if (Array.isArray(node)) return node.flatMap((v, i) => numericNodes(v, `${at}/${i}`));
  if (!node || typeof node !== 'object') return [];
  const s = node as Record<string, unknown>;
  const here = s.type === 'integer' || s.type === 'number' ? [{ at, s }] : [];
  return [...here, ...Object.entries(s).flatMap(([k, v]) => numericNodes(v, `${at}/${k}`))];
}

describe('config bounds', () => {
  it('the editor and the run time use the same schema file', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const urls = pkg.contributes.jsonValidation
      .filter((j: { fileMatch: string }) => j.fileMatch === '*.distill.json')
      .map((j: { url: string }) => path.resolve(root, j.url));
    assert.deepEqual(urls, [path.join(root, 'src', 'engine', 'run', 'config.schema.json')]);
    assert.deepEqual(JSON.parse(fs.readFileSync(urls[0], 'utf8')), configSchema);
  });

  it('every numeric field has a lower and an upper bound, stated in its description', () => {
    const nodes = numericNodes(configSchema);
    assert.ok(nodes.length >= 45, `only ${nodes.length} numeric fields found`);
    for (const { at, s } of nodes) {
      assert.ok(s.minimum !== undefined || s.exclusiveMinimum !== undefined, `${at}: no lower bound`);
      assert.ok(s.maximum !== undefined || s.exclusiveMaximum !== undefined, `${at}: no upper bound`);
      assert.ok(
        String(s.description ?? '').endsWith(`Range: ${rangeLabel(s)}.`),
        `${at}: description "${s.description}" does not end with "Range: ${rangeLabel(s)}."`,
      );
    }
    assert.equal(rangeLabel({ type: 'integer', minimum: 1, maximum: 100000 }), 'an integer from 1 to 100,000');
    assert.equal(rangeLabel({ type: 'number', exclusiveMinimum: 0, maximum: 1 }), 'a number > 0 and ≤ 1');
    assert.equal(rangeLabel({ type: 'number', minimum: 0, exclusiveMaximum: 1 }), 'a number ≥ 0 and < 1');
  });

  it('rejects absurd values, each with the field, the value and the range', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ teacher: { lr: 1e12 } }, 'teacher.lr: 1000000000000 is out of range; expected a number > 0 and ≤ 1'],
      [
        { log: { interval: 1e12 } },
        'log.interval: 1000000000000 is out of range; expected an integer from 1 to 100,000',
      ],
      [
        { checkpoint: { interval: 1e12 } },
        'checkpoint.interval: 1000000000000 is out of range; expected an integer from 1 to 10,000,000',
      ],
      [
        { checkpoint: { keep: 1e12 } },
        'checkpoint.keep: 1000000000000 is out of range; expected an integer from 1 to 1,000',
      ],
      [
        { guidance: { sampleW: [0, 1e12] } },
        'guidance.sampleW[1]: 1000000000000 is out of range; expected a number from 0 to 20',
      ],
      [{ guidance: { wMax: 1e12 } }, 'guidance.wMax: 1000000000000 is out of range; expected a number from 0 to 20'],
      [{ guidance: { wPower: 0.5 } }, 'guidance.wPower: 0.5 is out of range; expected a number from 1 to 4'],
      [
        { teacher: { steps: 1e12 } },
        'teacher.steps: 1000000000000 is out of range; expected an integer from 0 to 10,000,000',
      ],
      [
        { progressive: { batch: 1e12 } },
        'progressive.batch: 1000000000000 is out of range; expected an integer from 1 to 65,536',
      ],
      [{ guided: { clip: 1e12 } }, 'guided.clip: 1000000000000 is out of range; expected a number > 0 and ≤ 1,000,000'],
      [
        { sampling: { perClass: 1e12 } },
        'sampling.perClass: 1000000000000 is out of range; expected an integer from 1 to 100',
      ],
      [
        { model: { kind: 'unet', channels: [24, 1e12] } },
        'model.channels[1]: 1000000000000 is out of range; expected an integer from 4 to 1,024',
      ],
      [
        { eval: { samples: 1e12 } },
        'eval.samples: 1000000000000 is out of range; expected an integer from 10 to 1,000,000',
      ],
      [{ teacher: { lr: 0 } }, 'teacher.lr: 0 is out of range; expected a number > 0 and ≤ 1'],
      [{ teacher: { batch: 0 } }, 'teacher.batch: 0 is out of range; expected an integer from 1 to 65,536'],
      [{ teacher: { steps: 2.5 } }, 'teacher.steps: expected an integer from 0 to 10,000,000, got 2.5'],
      [{ log: { interval: '10' } }, 'log.interval: expected an integer from 1 to 100,000, got "10"'],
    ];
    for (const [patch, message] of cases)
      assert.ok(errorsOf(patch).includes(message), `${JSON.stringify(patch)} → ${JSON.stringify(errorsOf(patch))}`);
    // all at once: one line per field, nothing else
    const all = errorsOf({
      teacher: { lr: 1e12 },
      log: { interval: 1e12 },
      checkpoint: { interval: 1e12, keep: 1e12 },
      guidance: { sampleW: [1e12] },
    });
    assert.deepEqual(all.map((e) => e.split(':')[0]).sort(), [
      'checkpoint.interval',
      'checkpoint.keep',
      'guidance.sampleW[0]',
      'log.interval',
      'teacher.lr',
    ]);
    // toy data's fields too (inside the data union, only the toy branch speaks)
    const toy = () => ({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' } });
    assert.deepEqual(errorsOf({ data: { kind: 'toy2d', shape: 'moons', n: 1e12 } }, toy), [
      'data.n: 1000000000000 is out of range; expected an integer from 16 to 10,000,000',
    ]);
  });

  it('keeps what a user may legitimately want: long runs, GPU-sized batches and models, the bounds themselves', () => {
    const ok = (patch: Record<string, unknown>) => assert.deepEqual(errorsOf(patch), [], JSON.stringify(patch));
    ok({ teacher: { steps: 1_000_000, batch: 4096, lr: 1, warmup: 10_000, clip: 1e6, ema: 0.9999 } });
    ok({
      guided: { steps: 10_000_000, batch: 65536 },
      progressive: { steps: 500_000, batch: 2048, n0: 4096, targetSteps: 1 },
    });
    ok({
      checkpoint: { interval: 10_000_000, keep: 1000 },
      log: { interval: 100_000 },
      sampling: { interval: 10_000_000, teacherSteps: 4096, perClass: 100 },
    });
    ok({
      model: { kind: 'unet', channels: [128, 256, 512, 1024], blocksPerLevel: 4, groups: 32, embedDim: 1024 },
      seed: 2 ** 53 - 1,
    });
    ok({
      guidance: { wMin: 0, wMax: 20, sampleW: [0, 0.5, 1, 2, 4, 8, 15, 20] },
      eval: { w: [0, 20], samples: 50_000, teacherSteps: [1024], studentSteps: [1] },
    });
    // one past the bound is refused
    assert.match(errorsOf({ log: { interval: 100_001 } }).join('\n'), /^log\.interval: 100001 is out of range/);
    assert.match(errorsOf({ guided: { batch: 65537 } }).join('\n'), /^guided\.batch: 65537 is out of range/);
  });

  it('every example config and every config.json the examples resolve to still validate', () => {
    const dir = path.join(root, 'examples');
    const names = fs.readdirSync(dir).filter((n) => n.endsWith('.distill.json'));
    assert.ok(names.length >= 5);
    for (const name of names) {
      const r = validateConfigFile(path.join(dir, name));
      assert.ok(r.ok, `${name}: ${r.ok ? '' : r.errors.join('; ')}`);
      // a run folder's config.json is the resolved config: it must validate again on resume
      const again = resolveConfig(JSON.parse(JSON.stringify(r.config)), { file: `${name} (resolved)` });
      assert.deepEqual(again, r.config);
    }
  });
});
