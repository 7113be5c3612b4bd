/**
 * The backends a user can choose are declared once (src/engine/backend/choices.ts). The JSON files that cannot
 * import it — the config schema and the `distill.backend` setting in package.json — list the same names in the same
 * order, and the CLI and the worker protocol accept exactly these.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BACKENDS, isBackendChoice } from '../../src/engine/backend/choices';
import { backendOption, parseArgs } from '../../src/cli/args';
import { asHostToWorker } from '../../src/protocol';

const REPO = path.resolve(__dirname, '..', '..');
const json = (file: string) => JSON.parse(fs.readFileSync(path.join(REPO, file), 'utf8'));

test('config.schema.json: the backend enum is BACKENDS', () => {
  assert.deepEqual(json('src/engine/run/config.schema.json').properties.backend.enum, [...BACKENDS]);
});

test('package.json: the distill.backend setting lists BACKENDS, each with a description', () => {
  const setting = json('package.json').contributes.configuration.properties['distill.backend'];
  assert.deepEqual(setting.enum, [...BACKENDS]);
  assert.equal(setting.enumDescriptions.length, BACKENDS.length);
  assert.equal(setting.default, 'auto');
});

test('the CLI and the worker protocol accept exactly BACKENDS', () => {
  for (const b of BACKENDS) {
    assert.equal(isBackendChoice(b), true);
    assert.equal(
      (parseArgs(['--backend', b], [], { backend: backendOption }) as { options: { backend?: string } }).options
        .backend,
      b,
    );
    assert.ok(asHostToWorker({ type: 'resume', id: 1, runDir: '/r', backend: b }), b);
  }
  for (const b of ['gpu', 'AUTO', '', 'tensorflow-gpu']) {
    assert.equal(isBackendChoice(b), false, b);
    assert.throws(() => parseArgs(['--backend', b], [], { backend: backendOption }), {
      message: `--backend: expected auto, webgpu, wasm, cpu, tensorflow, got "${b}"`,
    });
    assert.equal(asHostToWorker({ type: 'resume', id: 1, runDir: '/r', backend: b }), undefined, b);
  }
});
