/**
 * The tree's rules, checked on the source: the engine imports neither `vscode` nor `child_process` (it runs in the
 * worker, the CLI and tests alike), and no module imports itself back through others at run time (type-only imports
 * are erased and do not count).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const SRC = path.resolve(__dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Specifiers of the run-time imports and re-exports of a module (not `import type` / `export type`). */
export function runtimeImports(code: string): string[] {
  const out: string[] = [];
  const re = /^(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (let m = re.exec(code); m; m = re.exec(code)) if (!m[1]) out.push(m[2]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

/** Specifiers of every import, type-only ones included (a layer may not even name a type from above it). */
function allImports(code: string): string[] {
  const out: string[] = [];
  const re = /^(?:import|export)\s+(?:type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (let m = re.exec(code); m; m = re.exec(code)) out.push(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, base, path.join(base, 'index.ts')].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

test('runtimeImports: reads imports, re-exports and import(); skips type-only ones', () => {
  const code = [
    "import * as fs from 'fs';",
    "import { a,\n  b } from './x';",
    "import type { T } from './types';",
    "export { c } from './y';",
    "export type { U } from './z';",
    "import './side-effect';",
    "const m = await import('./lazy');",
  ].join('\n');
  assert.deepEqual(runtimeImports(code), ['fs', './x', './y', './side-effect', './lazy']);
});

/**
 * The engine's layers, bottom first. A module may import from its own folder and from folders of a lower rank only;
 * `index.ts` (the engine's API) sits on top of all of them.
 */
export const ENGINE_LAYERS: Record<string, number> = {
  backend: 0,
  io: 0,
  random: 0,
  data: 1,
  nn: 1,
  method: 2,
  run: 3,
  train: 4,
  eval: 5,
  tasks: 6,
};

test('src/engine: its root holds only index.ts and the layer folders', () => {
  const root = fs.readdirSync(path.join(SRC, 'engine'), { withFileTypes: true });
  const files = root.filter((e) => !e.isDirectory()).map((e) => e.name);
  const dirs = root
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(files, ['index.ts']);
  assert.deepEqual(dirs, Object.keys(ENGINE_LAYERS).sort());
});

test('src/engine: each layer imports only from its own folder and the layers below it', () => {
  const layerOf = (f: string) => {
    const rel = path.relative(path.join(SRC, 'engine'), f).split(path.sep);
    return rel.length === 1 ? 'index' : rel[0];
  };
  const rank = (layer: string) => (layer === 'index' ? Infinity : ENGINE_LAYERS[layer]);
  const bad: string[] = [];
  for (const f of sources(path.join(SRC, 'engine'))) {
    const from = layerOf(f);
    for (const spec of allImports(fs.readFileSync(f, 'utf8'))) {
      const target = resolveLocal(f, spec);
      if (!target) continue;
      if (!target.startsWith(path.join(SRC, 'engine') + path.sep)) {
        bad.push(`${path.relative(SRC, f)} imports ${spec} (outside the engine)`);
        continue;
      }
      const to = layerOf(target);
      if (to !== from && !(rank(to) < rank(from)))
        bad.push(`${path.relative(SRC, f)} (${from}) imports ${path.relative(SRC, target)} (${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('file names are kebab-case across src/, webview/ and test/', () => {
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'README.md' && !/^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+)*$/.test(e.name))
        bad.push(path.relative(path.join(SRC, '..'), p));
    }
  };
  for (const d of ['src', 'webview', 'test']) walk(path.join(SRC, '..', d));
  assert.deepEqual(bad, []);
});

test('src/engine imports neither vscode nor child_process', () => {
  const bad: string[] = [];
  for (const f of sources(path.join(SRC, 'engine'))) {
    for (const spec of runtimeImports(fs.readFileSync(f, 'utf8'))) {
      if (spec === 'vscode' || spec === 'child_process' || spec === 'node:child_process')
        bad.push(`${path.relative(SRC, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no import cycles among the modules of src/', () => {
  const files = sources(SRC);
  const edges = new Map(
    files.map((f) => [
      f,
      runtimeImports(fs.readFileSync(f, 'utf8'))
        .map((s) => resolveLocal(f, s))
        .filter((x): x is string => !!x),
    ]),
  );
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of edges.get(f) ?? []) {
      if (state.get(g) === 'open')
        cycles.push([...stack.slice(stack.indexOf(g)), g].map((x) => path.relative(SRC, x)).join(' → '));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
