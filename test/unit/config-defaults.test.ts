/**
 * Every default is written once, in config.schema.json (which the editor shows): this walks the schema and checks each
 * default is what a config without the field resolves to — or, for data fields resolveConfig does not record, what
 * the data loader uses — and, the other way round, that every value resolveConfig fills in is a schema default unless it
 * is computed from other fields.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { AUTOENCODER_DEFAULTS, configSchema, resolveConfig, ResolvedConfig } from '../../src/engine/run/config';
import { loadDataset } from '../../src/engine/data';
import { encodePng } from '../../src/engine/io/png';
import { W_FREQ_MAX_DEFAULT } from '../../src/engine/nn/w-embedding';

interface Node {
  $ref?: string;
  default?: unknown;
  properties?: Record<string, Node>;
  oneOf?: Node[];
  const?: unknown;
}

/** One schema default: the config field (data fields also name their data kind) and its value. */
interface SchemaDefault {
  field: string;
  kind?: string;
  value: unknown;
}

const schema = configSchema as unknown as Node & { definitions: Record<string, Node> };
const deref = (n: Node): Node => (n.$ref ? schema.definitions[n.$ref.replace('#/definitions/', '')] : n);

function schemaDefaults(): SchemaDefault[] {
  const out: SchemaDefault[] = [];
  const visit = (node: Node, field: string, kind?: string) => {
    if (node.default !== undefined) out.push({ field, kind, value: node.default });
    const target = deref(node);
    for (const [k, child] of Object.entries(target.properties ?? {})) visit(child, `${field}.${k}`, kind);
    for (const branch of target.oneOf ?? []) {
      const k = branch.properties?.kind?.const as string;
      for (const [key, child] of Object.entries(branch.properties ?? {})) visit(child, `${field}.${key}`, k);
    }
  };
  for (const [k, child] of Object.entries(schema.properties!)) visit(child, k);
  return out;
}

/** The smallest valid config that exercises `field` (data fields: of their kind; autoencoder fields: latent space). */
function minimalFor(field: string, kind?: string): Record<string, unknown> {
  if (kind) {
    const data: Record<string, Record<string, unknown>> = {
      toy2d: { kind, shape: 'moons' },
      mnist: { kind },
      idx: { kind, images: 'train-images.idx', labels: 'train-labels.idx' },
      folder: { kind, path: 'images', imageSize: 16 },
      emoji: { kind },
      mixture: { kind, preset: 'blobs' },
    };
    return { data: data[kind], model: { kind: kind === 'toy2d' || kind === 'mixture' ? 'mlp' : 'unet' } };
  }
  if (field.startsWith('autoencoder'))
    return { data: { kind: 'mnist', imageSize: 16 }, model: { kind: 'unet', space: 'latent' } };
  if (field.startsWith('consistency'))
    return { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, methods: ['consistency'] };
  return { data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' } };
}

const at = (obj: unknown, field: string): unknown =>
  field === ''
    ? obj
    : field
        .split('.')
        .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
const has = (obj: unknown, field: string): boolean => {
  const keys = field.split('.');
  const last = keys.pop()!;
  const parent = at(obj, keys.join('.'));
  return !!parent && typeof parent === 'object' && last in parent;
};
const resolve = (raw: Record<string, unknown>): ResolvedConfig =>
  resolveConfig(raw, { file: 'defaults.distill.json', baseDir: '/base' });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-defaults-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Data fields the loader fills in when a config leaves them out (config.json records only what the user wrote). */
const loaderDefaults: Record<string, () => Promise<unknown>> = {
  'toy2d data.n': async () => (await loadDataset({ kind: 'toy2d', shape: 'moons' }, { split: 'train', seed: 0 })).n,
  'mixture data.n': async () =>
    (await loadDataset({ kind: 'mixture', preset: 'blobs' }, { split: 'train', seed: 0 })).n,
  'mnist data.imageSize': async () =>
    (await loadDataset({ kind: 'mnist', limit: 4 }, { split: 'train', seed: 0 })).shape[0],
  'folder data.channels': async () => {
    const root = path.join(tmp, 'folder');
    for (const cls of ['a', 'b']) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (let i = 0; i < 3; i++)
        fs.writeFileSync(path.join(root, cls, `${i}.png`), encodePng(new Uint8Array(4 * 4 * 3).fill(40 * i), 4, 4, 3));
    }
    return (await loadDataset({ kind: 'folder', path: root, imageSize: 4 }, { split: 'train', seed: 0 })).shape[2];
  },
};

describe('config defaults', () => {
  const defaults = schemaDefaults();

  it('the schema declares the defaults of every section', () => {
    const fields = defaults.map((d) => (d.kind ? `${d.kind} ${d.field}` : d.field));
    assert.ok(defaults.length >= 60, `only ${defaults.length} defaults found`);
    for (const f of [
      'seed',
      'parallel',
      'model.wFreqMax',
      'teacher',
      'guided',
      'teacher.batch',
      'progressive.steps',
      'progressive.n0',
      'autoencoder.klWeight',
      'eval.samples',
      'toy2d data.n',
      'emoji data.categories',
    ]) {
      assert.ok(fields.includes(f), `no schema default for ${f}`);
    }
  });

  it('each schema default is what a config without the field resolves to (or what the data loader uses)', async () => {
    let checked = 0;
    for (const { field, kind, value } of defaults) {
      const label = kind ? `${field} (data.kind "${kind}")` : field;
      const cfg = resolve(minimalFor(field, kind));
      if (has(cfg, field)) {
        const got = at(cfg, field);
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          // an object-level default (teacher, guided): the fields it names
          for (const [k, v] of Object.entries(value))
            assert.deepEqual(at(got, k), v, `${label}.${k}: the schema says ${JSON.stringify(v)}`);
        } else
          assert.deepEqual(
            got,
            value,
            `${label}: the schema says ${JSON.stringify(value)}, resolveConfig gives ${JSON.stringify(got)}`,
          );
      } else {
        const loader = loaderDefaults[`${kind} ${field}`];
        assert.ok(
          loader,
          `${label}: the schema default ${JSON.stringify(value)} is neither filled in by resolveConfig nor checked against the data loader`,
        );
        assert.deepEqual(
          await loader(),
          value,
          `${label}: the data loader's default differs from the schema's ${JSON.stringify(value)}`,
        );
      }
      checked++;
    }
    assert.equal(checked, defaults.length);
  });

  it('every value resolveConfig fills in is a schema default, unless it is computed from other fields', () => {
    /** Filled in from other fields: the run name (from the file name), the autoencoder widths (from its factor), a mixture's components per class (from its preset). */
    const computed = new Set(['name', 'autoencoder.channels', 'data.components']);
    const expected = (field: string, kind: string): unknown => {
      const own = defaults.find((d) => d.field === field && (!d.kind || d.kind === kind));
      if (own) return own.value;
      const parent = field.slice(0, field.lastIndexOf('.'));
      const section = defaults.find((d) => d.field === parent && !d.kind);
      return section && typeof section.value === 'object'
        ? (section.value as Record<string, unknown>)[field.slice(parent.length + 1)]
        : undefined;
    };
    const leaves = (v: unknown, field: string): string[] =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v).flatMap(([k, x]) => leaves(x, field ? `${field}.${k}` : k))
        : [field];
    for (const kind of ['toy2d', 'mnist', 'idx', 'folder', 'emoji', 'mixture', 'latent']) {
      const raw = kind === 'latent' ? minimalFor('autoencoder') : minimalFor('', kind);
      const dataKind = (raw.data as { kind: string }).kind;
      const cfg = resolve(raw);
      for (const field of leaves(cfg, '')) {
        if (has(raw, field) || computed.has(field)) continue;
        const value = expected(field, dataKind);
        assert.notEqual(
          value,
          undefined,
          `${field} (${kind}): resolveConfig fills in ${JSON.stringify(at(cfg, field))} but the schema declares no default`,
        );
        assert.deepEqual(at(cfg, field), value, `${field} (${kind})`);
      }
    }
  });

  it('the computed defaults: run name from the file, autoencoder widths from the factor', () => {
    assert.equal(resolveConfig(minimalFor('seed'), { file: '/x/my-run.distill.json' }).name, 'my-run');
    const latent = (factor: number) =>
      resolve({ ...minimalFor('autoencoder'), data: { kind: 'mnist', imageSize: 32 }, autoencoder: { factor } })
        .autoencoder!.channels;
    assert.deepEqual(latent(2), [16, 32]);
    assert.deepEqual(latent(4), [16, 32, 64]);
    assert.deepEqual(latent(16), [16, 32, 64, 128, 128]);
  });

  it('the constants the network and the autoencoder fall back on are the schema defaults', () => {
    const props = schema.properties!;
    assert.equal(W_FREQ_MAX_DEFAULT, props.model.properties!.wFreqMax.default);
    for (const [k, v] of Object.entries(AUTOENCODER_DEFAULTS))
      assert.deepEqual(v, props.autoencoder.properties![k].default, `autoencoder.${k}`);
  });

  it('defaults are fresh copies: changing one resolved config leaves the next alone', () => {
    const a = resolve(minimalFor('guidance'));
    a.guidance.sampleW.push(9);
    a.eval.w.length = 0;
    a.model.channels[0] = 1;
    const b = resolve(minimalFor('guidance'));
    assert.deepEqual(b.guidance.sampleW, [0, 1, 2, 4]);
    assert.deepEqual(b.eval.w, [0, 1, 2, 4]);
    assert.deepEqual(b.model.channels, [32, 64]);
  });
});
