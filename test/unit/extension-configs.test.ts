// Config pickers and New Config: example listing with the extension's descriptions, starter text that keeps the
// example's comments and drops or relativises "$schema", validation errors naming fields.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  describeConfig,
  EXAMPLE_DESCRIPTIONS,
  isConfigPath,
  listExamples,
  starterConfigText,
} from '../../src/extension/configs';
import { parseConfigText, validateConfigFile } from '../../src/engine/run/config';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cfg-'));

test("examples are listed with the description from the extension's table, not from the JSON", () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'toy2d.distill.json'), '{ "name": "toy" }\n');
  fs.writeFileSync(path.join(dir, 'mine.distill.json'), '{ "name": "mine" }\n');
  fs.writeFileSync(path.join(dir, 'notes.json'), '{}');
  assert.deepEqual(
    listExamples(dir).map((e) => [e.id, e.description]),
    [
      ['mine', ''],
      ['toy2d', EXAMPLE_DESCRIPTIONS.toy2d],
    ],
  );
  assert.match(EXAMPLE_DESCRIPTIONS.toy2d, /5 min/);
  assert.match(EXAMPLE_DESCRIPTIONS.quickstart, /10 min/);
  assert.deepEqual(listExamples(path.join(dir, 'missing')), []);
  // every bundled example has a description
  const bundled = listExamples(path.join(__dirname, '../../examples'));
  assert.ok(bundled.length >= 8);
  for (const e of bundled) assert.ok(e.description, `${e.id} has no description in EXAMPLE_DESCRIPTIONS`);
});

test('a starter keeps the example\'s text and comments; "$schema" is dropped, or relative when the schema is in the workspace', () => {
  const dir = tmp();
  const example = path.join(dir, 'toy.distill.json');
  const body =
    '  "name": "toy", // inline comment\n  "data": { "kind": "toy2d", "shape": "rings" },\n  "model": { "kind": "mlp" },\n}\n';
  fs.writeFileSync(example, `// a commented example\n{\n  "$schema": "../src/engine/run/config.schema.json",\n${body}`);
  const ws = tmp();
  const target = path.join(ws, 'configs', 'mine.distill.json');
  const plain = starterConfigText(example, target);
  assert.equal(plain, `// a commented example\n{\n${body}`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, plain);
  const v = validateConfigFile(target);
  assert.equal(v.ok, true, v.ok ? '' : v.errors.join('; '));
  const schema = path.join(ws, 'src', 'engine', 'run', 'config.schema.json');
  const rel = starterConfigText(example, target, schema);
  assert.equal(rel, `// a commented example\n{\n  "$schema": "../src/engine/run/config.schema.json",\n${body}`);
  assert.equal((parseConfigText(rel, target) as { $schema: string }).$schema, '../src/engine/run/config.schema.json');
  assert.equal(
    (
      parseConfigText(starterConfigText(example, path.join(ws, 'mine.distill.json'), schema), target) as {
        $schema: string;
      }
    ).$schema,
    './src/engine/run/config.schema.json',
  );
  // an example without "$schema" is copied unchanged
  const bare = path.join(dir, 'bare.distill.json');
  fs.writeFileSync(bare, `{\n${body}`);
  assert.equal(starterConfigText(bare, target, schema), `{\n${body}`);
  // every bundled example: comments kept, no "$schema", still a valid config
  for (const e of listExamples(path.join(__dirname, '../../examples'))) {
    const src = fs.readFileSync(e.file, 'utf8');
    const out = starterConfigText(e.file, target);
    assert.doesNotMatch(out, /"\$schema"/, e.id);
    assert.equal((out.match(/\/\//g) ?? []).length, (src.match(/\/\//g) ?? []).length, `${e.id}: comments kept`);
    const j = parseConfigText(out, e.file) as Record<string, unknown>;
    const k = parseConfigText(src, e.file) as Record<string, unknown>;
    delete k.$schema;
    assert.deepEqual(j, k, e.id);
  }
});

test('describeConfig lists trained stages, or the errors naming the field', () => {
  const dir = tmp();
  const good = path.join(dir, 'good.distill.json');
  fs.writeFileSync(
    good,
    JSON.stringify({
      data: { kind: 'toy2d', shape: 'moons' },
      model: { kind: 'mlp' },
      teacher: { steps: 10 },
      guided: { steps: 0 },
      progressive: { steps: 5 },
    }),
  );
  assert.deepEqual(describeConfig(good, 'good'), { path: good, label: 'good', stages: ['teacher', 'progressive'] });
  const bad = path.join(dir, 'bad.distill.json');
  fs.writeFileSync(
    bad,
    JSON.stringify({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, teacher: { lr: -1 } }),
  );
  const d = describeConfig(bad, 'bad');
  assert.deepEqual(d.stages, []);
  assert.match(d.error!, /teacher\.lr/);
  assert.equal(isConfigPath('/a/b.distill.json'), true);
  assert.equal(isConfigPath('/a/b.json'), false);
});
