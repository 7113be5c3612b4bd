/**
 * `distill export` end to end: a tiny toy run and a tiny image run (MNIST at 8×8, U-Net [8, 16]) are trained on the
 * wasm backend and exported; the exported student.mjs is then run (1) in Node on the same tfjs and (2) in headless
 * Chromium from a localhost HTTP server, driven through the demo page's controls, and its samples are compared with
 * the engine's Node sampler `sample()` for the same seed, class, w and steps.
 * Tolerances: Node cpu vs page cpu max |Δ| < 1e-4 (same kernels, same JS math: measured ≤ 3e-7); page wasm
 * max |Δ| < 1e-3.
 * The page must make no request outside the test's localhost server.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, BrowserContext } from 'playwright-core';
import {
  createRun,
  ensureBackend,
  exportStudent,
  loadDenoiser,
  loadRunConfig,
  resolveCheckpoint,
  runStages,
} from '../../src/engine';
import { sample } from '../../src/engine/method/samplers';
import { toyConfig } from '../helpers/toy-config';
import { hash32, Rng } from '../../src/engine/random/rng';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'export');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-export-'));

function writeConfig(name: string, cfg: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.distill.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        name,
        seed: 5,
        backend: 'wasm',
        threads: 1,
        sampling: { interval: 0, teacherSteps: 4 },
        checkpoint: { interval: 1000, keep: 1 },
        log: { interval: 5 },
        ...cfg,
      },
      null,
      2,
    ),
  );
  return file;
}

const TOY = toyConfig({
  name: undefined,
  seed: 5,
  backend: 'wasm',
  data: { n: 512 },
  model: { hidden: 32, depth: 2 },
  teacher: { steps: 30, batch: 64, lr: 0.003, warmup: 5, ema: 0.9 },
  guided: { steps: 10, batch: 64 },
  progressive: { n0: 8, steps: 8, batch: 64 },
  checkpoint: { interval: 1000, keep: 1 },
});
const IMAGE = {
  data: { kind: 'mnist', imageSize: 8, limit: 400 },
  model: { kind: 'unet', channels: [8, 16], groups: 4, embedDim: 16, attention: true },
  teacher: { steps: 12, batch: 16, lr: 0.002, warmup: 2, ema: 0.9 },
  guided: { steps: 4, batch: 16, lr: 0.001 },
  progressive: { n0: 4, targetSteps: 2, steps: 4, batch: 16, lr: 0.001 },
};

interface Exported {
  runDir: string;
  outDir: string;
  steps: number;
}
const runs: Record<'toy' | 'image', Exported> = {} as never;

/** The Node sampler's output for `count` samples of one class at one w. */
async function nodeSamples(
  e: Exported,
  {
    classId,
    w,
    seed,
    count,
    sampler = 'ddim' as 'ddim' | 'stochastic',
  }: { classId: number; w: number; seed: number; count: number; sampler?: 'ddim' | 'stochastic' },
) {
  const cfg = loadRunConfig(e.runDir);
  const { file } = resolveCheckpoint(e.runDir, cfg, { stage: 'progressive', steps: e.steps });
  const d = await loadDenoiser(e.runDir, cfg, file, 'progressive');
  try {
    return await sample(d, {
      classes: new Int32Array(count).fill(classId),
      w: new Float32Array(count).fill(w),
      steps: e.steps,
      sampler,
      seed,
    });
  } finally {
    d.net.dispose();
  }
}

/** What the demo page's `window.demo` holds for scripted use (src/engine/tasks/export/demo-page.ts). */
interface DemoResult {
  x: number[];
  shape: number[];
  backend: string;
}
type DemoWindow = {
  demo: {
    last: DemoResult;
    generate(o: { classId: number; w: number; seed: number; count: number }): Promise<DemoResult>;
  };
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'same number of values');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(async () => {
  for (const [key, cfg] of [
    ['toy', TOY],
    ['image', IMAGE],
  ] as const) {
    const runDir = await createRun({ configPath: writeConfig(key, cfg), runsDir: tmp, name: key });
    assert.equal(await runStages({ runDir, summary: false }), 'finished');
    const outDir = path.join(tmp, `${key}-export`);
    const r = await exportStudent({ runDir, stage: 'progressive', steps: 2, out: outDir });
    runs[key] = { runDir, outDir: r.outDir, steps: 2 };
  }
  // trained on wasm (quicker); sampled on cpu, the backend of the page's first comparison
  await ensureBackend('cpu', 1);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('export folder', () => {
  it('holds weights + manifest, student.mjs, demo page, README and the tfjs bundles (no CDN)', () => {
    for (const e of Object.values(runs)) {
      for (const f of [
        'manifest.json',
        'weights.bin',
        'student.mjs',
        'demo.mjs',
        'index.html',
        'README.md',
        'tfjs/tf-core.min.js',
        'tfjs/tf-backend-cpu.min.js',
      ]) {
        assert.ok(fs.existsSync(path.join(e.outDir, f)), `${f} in ${e.outDir}`);
      }
      const m = JSON.parse(fs.readFileSync(path.join(e.outDir, 'manifest.json'), 'utf8'));
      assert.equal(m.format, 'diffusion-distiller-student/1');
      assert.equal(m.steps, 2);
      assert.equal(m.unit, 'progressive-4-2');
      const n = m.tensors.reduce((s: number, t: { shape: number[] }) => s + t.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal(n, m.parameters);
      assert.equal(fs.statSync(path.join(e.outDir, 'weights.bin')).size, 4 * n);
      const html =
        fs.readFileSync(path.join(e.outDir, 'index.html'), 'utf8') +
        fs.readFileSync(path.join(e.outDir, 'demo.mjs'), 'utf8');
      assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL in the page');
    }
  });

  it('refuses a non-student stage, a missing step count and a foreign non-empty folder, naming the field', async () => {
    const e = runs.toy;
    await assert.rejects(
      exportStudent({ runDir: e.runDir, stage: 'teacher' as never, out: path.join(tmp, 'x') }),
      /--stage: the teacher is not a distilled student/,
    );
    await assert.rejects(
      exportStudent({ runDir: e.runDir, steps: 3, out: path.join(tmp, 'x') }),
      /--steps 3: no progressive student has 3 steps; available: 4, 2/,
    );
    const foreign = path.join(tmp, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await assert.rejects(exportStudent({ runDir: e.runDir, out: foreign }), /--out: .* is not empty/);
  });
});

describe('student.mjs in Node', () => {
  it('draws the same random numbers as src/engine/random/rng.ts (its self-contained sfc32 copy)', async () => {
    const mod = await import(pathToFileURL(path.join(runs.toy.outDir, 'student.mjs')).href);
    for (const text of ['', 'a', 'sample', 'train-teacher'])
      assert.equal(mod.hash32(text), hash32(text), `hash32(${JSON.stringify(text)})`);
    for (const seed of [0, 11, 123456789, 2 ** 40 + 3]) {
      for (const stream of ['', 'sample']) {
        const mine = new mod.Rng(seed, stream);
        const engine = new Rng(seed, stream);
        const what = `seed ${seed}, stream ${JSON.stringify(stream)}`;
        assert.deepEqual(
          Array.from({ length: 64 }, () => mine.nextUint32()),
          Array.from({ length: 64 }, () => engine.nextUint32()),
          `${what}: nextUint32`,
        );
        assert.deepEqual(
          [mine.uniform(), mine.normal(), mine.normal(), mine.normal()],
          [engine.uniform(), engine.normal(), engine.normal(), engine.normal()],
          `${what}: uniform, normal`,
        );
        // normals(n) drops the pending Box–Muller spare in both, so the next draw agrees after an odd n too.
        assert.deepEqual(Array.from(mine.normals(7)), Array.from(engine.normals(7)), `${what}: normals(7)`);
        assert.equal(mine.nextUint32(), engine.nextUint32(), `${what}: after normals(7)`);
      }
    }
    // Pinned: the first draws of the sampler's stream (seed 0, 'sample') never change, in either copy.
    for (const r of [new Rng(0, 'sample'), new mod.Rng(0, 'sample')]) {
      assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [3407576155, 1654767268, 1807015383]);
    }
  });

  it('reproduces the engine sampler exactly on the same tfjs (toy and image, ddim and stochastic)', async () => {
    for (const e of Object.values(runs)) {
      const mod = await import(pathToFileURL(path.join(e.outDir, 'student.mjs')).href);
      const student = await mod.loadStudent(tf, pathToFileURL(e.outDir + '/'));
      const before = tf.memory().numTensors;
      for (const sampler of ['ddim', 'stochastic'] as const) {
        const got = await student.sample({ classId: 1, w: 1.5, seed: 11, count: 6, sampler });
        const ref = await nodeSamples(e, { classId: 1, w: 1.5, seed: 11, count: 6, sampler });
        assert.deepEqual(got.shape.slice(1), e === runs.toy ? [2] : [8, 8, 1]);
        assert.equal(got.nfe, ref.nfe);
        const diff = maxAbsDiff(got.x, ref.x);
        assert.ok(diff < 1e-6, `${path.basename(e.runDir)} ${sampler}: max |Δ| ${diff}`);
      }
      assert.equal(tf.memory().numTensors, before, 'sampling leaks no tensors');
      student.dispose();
    }
  });
});

describe('demo page in headless Chromium', () => {
  let context: BrowserContext;
  let server: http.Server;
  let origin = '';
  const served: string[] = [];
  const requested: string[] = [];
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-export-chromium-'));

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const types: Record<string, string> = {
      '.html': 'text/html',
      '.mjs': 'text/javascript',
      '.js': 'text/javascript',
      '.json': 'application/json',
      '.wasm': 'application/wasm',
      '.bin': 'application/octet-stream',
      '.md': 'text/markdown',
    };
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const [, which, ...rest] = decodeURIComponent(url.pathname).split('/');
      served.push(url.pathname);
      const e = runs[which as 'toy' | 'image'];
      const file = e && path.join(e.outDir, ...rest);
      if (!file || !file.startsWith(e.outDir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end('not found');
        return;
      }
      res
        .writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' })
        .end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    context.on('request', (r) => requested.push(r.url()));
  });

  after(async () => {
    await context?.close();
    await new Promise((r) => server?.close(r));
    fs.rmSync(profileDir, { recursive: true, force: true });
  });

  for (const key of ['toy', 'image'] as const) {
    it(`${key}: the page's controls draw the same samples as the Node sampler (cpu and wasm backends)`, async () => {
      const e = runs[key];
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(`${origin}/${key}/index.html`);
      await page.waitForSelector('body[data-state=ready]', { timeout: 20000 });
      const count = key === 'toy' ? 64 : 9;
      const classId = 1;
      const w = 2.5;
      const seed = 1234;
      await page.selectOption('#class', String(classId));
      await page.fill('#w', String(w));
      await page.fill('#seed', String(seed));
      await page.fill('#count', String(count));
      await page.click('#generate');
      await page.waitForSelector('body[data-state=done]', { timeout: 20000 });
      const cpu = await page.evaluate(() => (window as unknown as DemoWindow).demo.last);
      assert.equal(cpu.backend, 'cpu');
      assert.deepEqual(cpu.shape, [count, ...(key === 'toy' ? [2] : [8, 8, 1])]);
      const ref = await nodeSamples(e, { classId, w, seed, count });
      const dCpu = maxAbsDiff(cpu.x, ref.x);
      assert.ok(dCpu < 1e-4, `page (cpu) vs Node: max |Δ| ${dCpu}`);
      assert.ok(
        await page
          .locator('#status')
          .textContent()
          .then((t) => /2 step\(s\) = 2 network evaluations/.test(t ?? '')),
      );
      await page.screenshot({ path: path.join(ARTIFACTS, `${key}-cpu.png`) });

      // the wasm backend, switched from the page's control, same seed
      await page.selectOption('#backend', 'wasm');
      await page.waitForSelector('body[data-state=ready]', { timeout: 20000 });
      await page.click('#generate');
      await page.waitForSelector('body[data-state=done]', { timeout: 20000 });
      const wasm = await page.evaluate(() => (window as unknown as DemoWindow).demo.last);
      assert.equal(wasm.backend, 'wasm');
      const dWasm = maxAbsDiff(wasm.x, ref.x);
      assert.ok(dWasm < 1e-3, `page (wasm) vs Node: max |Δ| ${dWasm}`);
      // a different seed gives different samples (the comparison above is not vacuous)
      const other = await page.evaluate(() =>
        (window as unknown as DemoWindow).demo.generate({ classId: 1, w: 2.5, seed: 99, count: 4 }),
      );
      assert.ok(maxAbsDiff(other.x, ref.x.subarray(0, other.x.length)) > 1e-3);
      assert.deepEqual(errors, []);
      console.log(
        `# ${key}: page cpu max |Δ| = ${dCpu.toExponential(2)}, page wasm max |Δ| = ${dWasm.toExponential(2)}`,
      );
      await page.close();
    });
  }

  it('the page made no request outside the localhost server', () => {
    assert.ok(requested.length > 5, 'requests were recorded');
    const outside = requested.filter(
      (u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'),
    );
    assert.deepEqual(outside, []);
    assert.ok(served.some((p) => p.endsWith('/tfjs/tf-core.min.js')));
  });
});
