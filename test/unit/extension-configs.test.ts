// Config pickers and New Config: example listing (JSONC examples), starter text with "$schema", validation errors naming fields.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeConfig, isConfigPath, listExamples, starterConfigText } from '../../src/extension/configs';
import { validateConfigFile } from '../../src/engine/run/config';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cfg-'));

test('examples are listed with a description, and a starter is plain JSON with "$schema" that still validates', () => {
  const dir = tmp();
  fs.writeFileSync(
    path.join(dir, 'toy.distill.json'),
    '// a commented example\n{\n  "name": "toy", // inline comment\n  "data": { "kind": "toy2d", "shape": "rings" },\n  "model": { "kind": "mlp" },\n}\n',
  );
  fs.writeFileSync(path.join(dir, 'notes.json'), '{}');
  const ex = listExamples(dir);
  assert.deepEqual(ex.map((e) => e.id), ['toy']);
  assert.equal(ex[0].description, 'data: toy2d (rings) · model: mlp');
  const text = starterConfigText(ex[0].file, 'file:///ext/src/engine/run/config.schema.json');
  const json = JSON.parse(text); // plain JSON: no comments left
  assert.equal(Object.keys(json)[0], '$schema');
  assert.equal(json.$schema, 'file:///ext/src/engine/run/config.schema.json');
  const out = path.join(tmp(), 'mine.distill.json');
  fs.writeFileSync(out, text);
  const v = validateConfigFile(out);
  assert.equal(v.ok, true, v.ok ? '' : v.errors.join('; '));
  assert.deepEqual(listExamples(path.join(dir, 'missing')), []);
});

test('describeConfig lists trained stages, or the errors naming the field', () => {
  const dir = tmp();
  const good = path.join(dir, 'good.distill.json');
  fs.writeFileSync(good, JSON.stringify({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, teacher: { steps: 10 }, guided: { steps: 0 }, progressive: { steps: 5 } }));
  assert.deepEqual(describeConfig(good, 'good'), { path: good, label: 'good', stages: ['teacher', 'progressive'] });
  const bad = path.join(dir, 'bad.distill.json');
  fs.writeFileSync(bad, JSON.stringify({ data: { kind: 'toy2d', shape: 'moons' }, model: { kind: 'mlp' }, teacher: { lr: -1 } }));
  const d = describeConfig(bad, 'bad');
  assert.deepEqual(d.stages, []);
  assert.match(d.error!, /teacher\.lr/);
  assert.equal(isConfigPath('/a/b.distill.json'), true);
  assert.equal(isConfigPath('/a/b.json'), false);
});
