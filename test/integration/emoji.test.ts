/**
 * The `emoji` data kind against the real emoji-datasource-google package (`npm test` and CI install it first; when it is
 * missing these tests fail with the install command, they never skip), plus a small synthetic Twemoji package for the
 * vendor/attribution path, the resolver and the on-demand installer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { loadDataset } from '../../src/engine/data';
import {
  EmojiPackageMissing,
  emojiInstallDir,
  emojiItems,
  emojiSplit,
  findEmojiPackage,
  loadEmoji,
  toolRoot,
} from '../../src/engine/data/emoji';
import { EMOJI_DEFAULT_CATEGORIES, EMOJI_PACKAGE_VERSION, emojiInstallCommand } from '../../src/engine/data/emoji-meta';
import { resolveConfig } from '../../src/engine/run/config';
import { ensureDataPackage } from '../../src/launcher/data-package';

const REPO = path.join(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-emoji-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The installed Google package (a failure here prints the exact install command). */
const google = () => findEmojiPackage('google');
const emojiJson = () =>
  JSON.parse(fs.readFileSync(path.join(google().dir, 'emoji.json'), 'utf8')) as Array<Record<string, unknown>>;

test('real sprites: 32×32 RGB in [-1, 1], the nine default categories as classes, vendor and licence named', async () => {
  const ds = await loadDataset({ kind: 'emoji' }, { split: 'train' });
  assert.deepEqual(ds.shape, [32, 32, 3]);
  assert.equal(ds.kind, 'image');
  assert.equal(ds.x.length, ds.n * 32 * 32 * 3);
  assert.deepEqual(ds.classNames, EMOJI_DEFAULT_CATEGORIES);
  assert.equal(ds.numClasses, 9);
  let lo = Infinity;
  let hi = -Infinity;
  let sum = 0;
  for (const v of ds.x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    sum += v;
  }
  assert.ok(lo >= -1 && hi <= 1, `range ${lo}..${hi}`);
  assert.ok(lo < -0.9 && hi === 1, 'dark strokes and the white background both present');
  assert.ok(sum / ds.x.length > 0.2, 'mostly white background');
  // colour: the channels differ (not grey images copied three times)
  let chroma = 0;
  for (let p = 0; p < ds.x.length; p += 3) chroma += Math.abs(ds.x[p] - ds.x[p + 2]);
  assert.ok(chroma / (ds.x.length / 3) > 0.05, 'RGB, not grey');
  assert.match(ds.source, /Noto Emoji \(emoji-datasource-google \d+\.\d+\.\d+\)/);
  assert.match(ds.source, /Apache-2\.0/);
  assert.match(ds.source, /on white/);
  assert.match(ds.source, new RegExp(`^emoji: ${ds.n} train sprites of 9 categories`));
});

test('class counts per category match emoji.json; the held-out split is disjoint, 10% per class and deterministic', async () => {
  const cats = ['Smileys & Emotion', 'Activities', 'Flags', 'Component'];
  const expected = cats.map((c) => emojiJson().filter((e) => e.category === c && e.has_img_google === true).length);
  assert.ok(expected[0] > 100 && expected[3] === 5, `counts ${expected}`);
  const cfg = { kind: 'emoji' as const, categories: cats, imageSize: 8 };
  const train = await loadDataset(cfg, { split: 'train' });
  const test = await loadDataset(cfg, { split: 'test' });
  const count = (labels: Int32Array) => cats.map((_, k) => labels.filter((l) => l === k).length);
  const [tr, te] = [count(train.labels), count(test.labels)];
  assert.deepEqual(
    tr.map((n, k) => n + te[k]),
    expected,
    'train + test = every sprite of each category',
  );
  assert.equal(
    train.n + test.n,
    expected.reduce((a, b) => a + b),
  );
  // 10% overall, up to the one held-out sprite every class keeps (Component: 5 sprites, 1 held out)
  const tenth = Math.round(0.1 * (train.n + test.n));
  assert.ok(test.n === tenth || test.n === tenth + 1, `${test.n} of ${train.n + test.n} held out`);
  te.forEach((n, k) =>
    assert.ok(n >= 1 && Math.abs(n - expected[k] / 10) <= 1, `${cats[k]}: ${n} held out of ${expected[k]}`),
  );
  assert.deepEqual(train.classNames, cats);

  const items = emojiItems(google().dir, 'google', cats);
  const a = emojiSplit(items, cats.length, 'train').map((it) => it.unified);
  const b = emojiSplit(items, cats.length, 'test').map((it) => it.unified);
  assert.equal(new Set([...a, ...b]).size, a.length + b.length, 'disjoint');
  assert.equal(a.length, train.n);
  // the held-out emoji do not depend on which other categories are chosen (order is a hash of each emoji's code)
  const smileysAlone = emojiSplit(emojiItems(google().dir, 'google', ['Smileys & Emotion']), 1, 'test').map(
    (it) => it.unified,
  );
  assert.deepEqual(
    smileysAlone,
    emojiSplit(items, cats.length, 'test')
      .filter((it) => it.label === 0)
      .map((it) => it.unified),
  );
  // ... and span the category's sub-categories instead of its last one
  const sub = new Map(emojiJson().map((e) => [e.unified, e.subcategory]));
  assert.ok(
    new Set(smileysAlone.map((u) => sub.get(u))).size >= 5,
    'held-out smileys come from several sub-categories',
  );
  const again = await loadDataset(cfg, { split: 'test' });
  assert.deepEqual(again.labels, test.labels);
  assert.deepEqual(again.x, test.x);
});

test('alpha is composited over the background: every pixel of the 😀 sprite at 64×64, and its area average at 32×32', async () => {
  const sprite = PNG.sync.read(fs.readFileSync(path.join(google().dir, 'img', 'google', '64', '1f600.png')));
  assert.equal(sprite.width, 64);
  let partial = 0;
  for (let p = 0; p < 64 * 64; p++) if (sprite.data[4 * p + 3] > 0 && sprite.data[4 * p + 3] < 255) partial++;
  assert.ok(partial > 50, `the sprite has anti-aliased edges (${partial} partly transparent pixels)`);
  const cats = ['Smileys & Emotion'];
  const items = emojiItems(google().dir, 'google', cats);
  const split = emojiSplit(items, 1, 'train').some((it) => it.unified === '1F600') ? 'train' : 'test';
  const row = emojiSplit(items, 1, split).findIndex((it) => it.unified === '1F600');
  const composite = (bg: number[]) => {
    const out = new Float64Array(64 * 64 * 3);
    for (let p = 0; p < 64 * 64; p++) {
      const a = sprite.data[4 * p + 3] / 255;
      for (let c = 0; c < 3; c++) out[3 * p + c] = Math.round(sprite.data[4 * p + c] * a + bg[c] * (1 - a));
    }
    return out;
  };
  for (const [background, bg] of [
    ['white', [255, 255, 255]],
    ['black', [0, 0, 0]],
    ['#336699', [0x33, 0x66, 0x99]],
  ] as const) {
    const want = composite([...bg]);
    const ds = await loadDataset({ kind: 'emoji', categories: cats, imageSize: 64, background }, { split });
    const x = ds.x.subarray(row * 64 * 64 * 3, (row + 1) * 64 * 64 * 3);
    for (let i = 0; i < want.length; i++)
      assert.ok(
        Math.abs(x[i] - (want[i] / 127.5 - 1)) < 1e-6,
        `${background} [${i}]: ${x[i]} vs ${want[i] / 127.5 - 1}`,
      );
    assert.deepEqual(
      [...x.subarray(0, 3)],
      bg.map((v) => v / 127.5 - 1).map(Math.fround),
      `${background}: the transparent corner is the background`,
    );
    const small = await loadDataset({ kind: 'emoji', categories: cats, imageSize: 32, background }, { split });
    const y = small.x.subarray(row * 32 * 32 * 3, (row + 1) * 32 * 32 * 3);
    for (const [i, j] of [
      [16, 16],
      [5, 20],
      [28, 9],
    ]) {
      for (let c = 0; c < 3; c++) {
        const at = (r: number, q: number) => want[3 * (r * 64 + q) + c];
        const mean = (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1)) / 4;
        assert.ok(
          Math.abs(y[3 * (i * 32 + j) + c] - (mean / 127.5 - 1)) < 1e-5,
          `${background} 32×32 (${i}, ${j}, ${c})`,
        );
      }
    }
  }
});

/** A tiny emoji-datasource-<vendor> package: 4 px sprites, one per entry. */
function fakePackage(
  root: string,
  vendor: 'google' | 'twitter',
  entries: Array<{ unified: string; category: string; has?: boolean; rgba: number[] }>,
): string {
  const dir = path.join(root, 'node_modules', `emoji-datasource-${vendor}`);
  fs.mkdirSync(path.join(dir, 'img', vendor, '64'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: `emoji-datasource-${vendor}`, version: '99.1.0' }),
  );
  const json = entries.map((e) => {
    const png = new PNG({ width: 2, height: 2 });
    for (let p = 0; p < 4; p++) png.data.set(e.rgba, 4 * p);
    const image = `${e.unified.toLowerCase()}.png`;
    fs.writeFileSync(path.join(dir, 'img', vendor, '64', image), PNG.sync.write(png));
    return { unified: e.unified, image, category: e.category, subcategory: 'x', [`has_img_${vendor}`]: e.has ?? true };
  });
  fs.writeFileSync(path.join(dir, 'emoji.json'), JSON.stringify(json));
  return dir;
}

test("Twemoji: the vendor's folder and has_img flag, categories → classes in the config's order, CC-BY attribution", () => {
  const root = path.join(tmp, 'twitter');
  const red = [255, 0, 0, 255];
  const halfBlue = [0, 0, 255, 128];
  fakePackage(root, 'twitter', [
    { unified: 'A1', category: 'Flags', rgba: red },
    { unified: 'A2', category: 'Flags', rgba: red },
    { unified: 'A3', category: 'Flags', rgba: red, has: false },
    { unified: 'B1', category: 'Objects', rgba: halfBlue },
    { unified: 'B2', category: 'Objects', rgba: halfBlue },
    { unified: 'C1', category: 'Symbols', rgba: red },
  ]);
  const pkg = findEmojiPackage('twitter', [root], root);
  assert.equal(pkg.version, '99.1.0');
  const cfg = { vendor: 'twitter' as const, categories: ['Objects', 'Flags'], imageSize: 2, background: 'black' };
  const tr = loadEmoji(cfg, 'train', pkg);
  const te = loadEmoji(cfg, 'test', pkg);
  assert.deepEqual(tr.classNames, ['Objects', 'Flags']);
  assert.equal(tr.n + te.n, 4, 'A3 has no Twemoji sprite; Symbols not chosen');
  assert.deepEqual([...tr.labels].sort(), [0, 1]);
  const objects = [...tr.labels].indexOf(0);
  // half-transparent blue over black: round(255 · 128/255) = 128
  assert.deepEqual([...tr.x.subarray(objects * 12, objects * 12 + 3)], [-1, -1, Math.fround(128 / 127.5 - 1)]);
  assert.match(tr.source, /Twemoji \(emoji-datasource-twitter 99\.1\.0\), images CC-BY 4\.0/);
  assert.match(tr.source, /attribution: Twemoji graphics by Twitter, Inc\. and other contributors/);
  assert.match(tr.source, /on black/);
  assert.throws(
    () => loadEmoji({ vendor: 'twitter', categories: ['Symbols'] }, 'train', pkg),
    /emoji\.categories\[0\]: "Symbols" has 1 twitter sprite\(s\).*at least 2/,
  );
});

test('bad values are refused naming the field: by the schema (data.…) and by the loader (emoji.…)', async () => {
  const errs = (data: Record<string, unknown>) => {
    try {
      resolveConfig({ data: { kind: 'emoji', ...data }, model: { kind: 'unet' } });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(errs({ vendor: 'apple' }), /data\.vendor: expected one of "google", "twitter"/);
  assert.match(errs({ categories: ['Animals'] }), /data\.categories\[0\]: expected one of "Smileys & Emotion"/);
  assert.match(errs({ categories: [] }), /data\.categories: must NOT have fewer than 1 items/);
  assert.match(errs({ categories: ['Flags', 'Flags'] }), /data\.categories: must NOT have duplicate items/);
  assert.match(errs({ imageSize: 128 }), /data\.imageSize: 128 is out of range; expected an integer from 4 to 64/);
  assert.match(errs({ background: 'red' }), /data\.background: "red" is not valid; expected a string matching/);
  assert.match(errs({ backgroud: 'white' }), /data\.backgroud: unknown field/);
  assert.equal(errs({ background: '#A0b1C2', vendor: 'twitter', categories: ['Flags'] }), '');
  // defaults are written into the resolved config (a run folder keeps its data if they change)
  const cfg = resolveConfig({ data: { kind: 'emoji' }, model: { kind: 'unet' } }, { file: 'emoji.distill.json' });
  assert.deepEqual(cfg.data, {
    kind: 'emoji',
    vendor: 'google',
    imageSize: 32,
    background: 'white',
    categories: EMOJI_DEFAULT_CATEGORIES,
  });
  assert.deepEqual(resolveConfig(JSON.parse(JSON.stringify(cfg))).data, cfg.data);
  const load = (data: Record<string, unknown>) => loadDataset({ kind: 'emoji', ...data } as never, { split: 'train' });
  await assert.rejects(
    load({ background: 'grey' }),
    /emoji\.background: expected "white", "black" or a colour "#rrggbb", got "grey"/,
  );
  await assert.rejects(load({ categories: ['Flags', 'Nope'] }), /emoji\.categories\[1\]: expected one of/);
  await assert.rejects(load({ categories: ['Flags', 'Flags'] }), /emoji\.categories\[1\]: "Flags" is listed twice/);
  await assert.rejects(load({ imageSize: 0 }), /emoji\.imageSize must be a positive integer/);
  await assert.rejects(load({ vendor: 'apple' }), /emoji\.vendor: expected one of "google", "twitter"/);
  await assert.rejects(load({ limit: -3 }), /emoji\.limit must be a positive integer/);
});

test('missing package: one error naming the package and the exact command; the launcher installs it once, with a message', async () => {
  const empty = path.join(tmp, 'empty');
  const installDir = path.join(tmp, 'install');
  fs.mkdirSync(empty, { recursive: true });
  const cmd = emojiInstallCommand('google', installDir);
  assert.equal(
    cmd.text,
    `npm install --no-save --no-audit --no-fund --prefix ${installDir} emoji-datasource-google@${EMOJI_PACKAGE_VERSION}`,
  );
  assert.throws(
    () => findEmojiPackage('google', [empty], installDir),
    (e: Error) => {
      assert.ok(e instanceof EmojiPackageMissing);
      assert.match(e.message, /needs the npm package emoji-datasource-google \(Noto Emoji sprites, a 74 MB download/);
      assert.ok(e.message.includes(`Install it with:\n  ${cmd.text}\n`), e.message);
      assert.ok(e.message.includes(empty), 'names where it looked');
      return true;
    },
  );

  // the launcher: installs with exactly that command, under a lock, then finds it
  const calls: string[][] = [];
  const lines: string[] = [];
  const npm = async (args: string[]) => {
    calls.push(args);
    assert.ok(fs.existsSync(path.join(installDir, '.emoji-datasource-google.install-lock')), 'installs under the lock');
    fakePackage(installDir, 'google', [{ unified: 'A', category: 'Flags', rgba: [1, 2, 3, 255] }]);
    return { code: 0, output: 'added 1 package' };
  };
  const opts = { log: (l: string) => lines.push(l), npm, roots: [empty], installDir };
  const dir = await ensureDataPackage({ kind: 'emoji' }, opts);
  assert.equal(dir, path.join(installDir, 'node_modules', 'emoji-datasource-google'));
  assert.deepEqual(calls, [cmd.args]);
  assert.match(
    lines[0],
    /emoji-datasource-google \(74 MB download, not installed by default\); installing it once into/,
  );
  assert.equal(lines[1], `  ${cmd.text}`);
  assert.ok(!fs.existsSync(path.join(installDir, '.emoji-datasource-google.install-lock')), 'lock released');
  // found now: no second install; kinds without a package never call npm
  assert.equal(await ensureDataPackage({ kind: 'emoji' }, opts), dir);
  assert.equal(await ensureDataPackage({ kind: 'toy2d', shape: 'moons' }, opts), undefined);
  assert.equal(calls.length, 1);

  // npm failing: the error carries npm's output and the command to run by hand
  const failing = async () => ({ code: 1, output: 'npm error code ENOTFOUND\nnpm error network request failed' });
  await assert.rejects(
    ensureDataPackage(
      { kind: 'emoji', vendor: 'twitter' },
      { log: () => {}, npm: failing, roots: [empty], installDir },
    ),
    (e: Error) => {
      assert.match(e.message, /installing emoji-datasource-twitter failed \(npm exit code 1\)/);
      assert.match(e.message, /ENOTFOUND/);
      assert.ok(e.message.endsWith(emojiInstallCommand('twitter', installDir).text));
      return true;
    },
  );
});

test("where the package is looked for and installed: the tool's folder (this checkout), else beside the bundles", () => {
  assert.equal(toolRoot(), path.resolve(REPO));
  assert.equal(toolRoot(path.join(REPO, 'dist')), path.resolve(REPO));
  assert.equal(emojiInstallDir(REPO), path.resolve(REPO), 'a checkout with node_modules: npm install --no-save in it');
  const ext = path.join(tmp, 'extension');
  fs.mkdirSync(path.join(ext, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(ext, 'package.json'), JSON.stringify({ name: 'diffusion-distiller' }));
  assert.equal(toolRoot(path.join(ext, 'dist')), ext);
  assert.equal(
    emojiInstallDir(ext),
    path.join(ext, 'dist'),
    'a packaged extension (no node_modules): next to its bundles',
  );
  // and the resolver finds an install there
  fakePackage(path.join(ext, 'dist'), 'twitter', [{ unified: 'A', category: 'Flags', rgba: [0, 0, 0, 255] }]);
  assert.equal(
    findEmojiPackage('twitter', [path.join(ext, 'dist')], ext).dir,
    path.join(ext, 'dist', 'node_modules', 'emoji-datasource-twitter'),
  );
});

test('CI installs the version distill installs (.ci/run after npm ci)', () => {
  const ci = fs.readFileSync(path.join(REPO, '.ci', 'run'), 'utf8');
  const at = ci.indexOf(
    `npm install --no-save --no-audit --no-fund emoji-datasource-google@${EMOJI_PACKAGE_VERSION}\n`,
  );
  assert.ok(
    at > ci.indexOf('npm ci --no-audit --no-fund\n') && at < ci.indexOf('npm test'),
    'after npm ci, before the tests',
  );
});

/** The bundles as the installed extension holds them (package.json + dist/, no node_modules), a work folder with no
 * node_modules above it, a tiny emoji config, and a fake npm whose "install" links the checkout's package. */
function extensionLayout() {
  const ext = path.join(tmp, 'ext-layout');
  const work = path.join(tmp, 'work');
  const config = path.join(work, 'tiny.distill.json');
  const fakeNpm = path.join(tmp, 'fake-npm.js');
  if (fs.existsSync(ext)) return { ext, work, config, fakeNpm };
  for (const f of ['cli.js', 'worker.js'])
    assert.ok(fs.existsSync(path.join(REPO, 'dist', f)), `dist/${f} is missing: run \`npm run build\` first`);
  fs.mkdirSync(path.join(ext, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(ext, 'package.json'));
  for (const f of ['cli.js', 'worker.js', 'data-parallel-worker.js'])
    fs.copyFileSync(path.join(REPO, 'dist', f), path.join(ext, 'dist', f));
  for (const d of ['wasm', 'mnist', 'tfjs']) fs.symlinkSync(path.join(REPO, 'dist', d), path.join(ext, 'dist', d));
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(
    config,
    JSON.stringify({
      backend: 'cpu',
      threads: 1,
      data: { kind: 'emoji', categories: ['Flags', 'Objects'], imageSize: 8, limit: 64 },
      model: { kind: 'unet', channels: [8], groups: 4, embedDim: 16 },
      teacher: { steps: 1000, batch: 8 },
      sampling: { interval: 0 },
      log: { interval: 1 },
    }),
  );
  fs.writeFileSync(
    fakeNpm,
    `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(path.join(tmp, 'npm-calls.txt'))}, JSON.stringify(args) + '\\n');
if (process.env.FAKE_NPM_FAIL) { console.error('npm error code E404\\nnpm error 404 Not Found'); process.exit(1); }
const prefix = args[args.indexOf('--prefix') + 1];
fs.mkdirSync(path.join(prefix, 'node_modules'), { recursive: true });
fs.symlinkSync(${JSON.stringify(google().dir)}, path.join(prefix, 'node_modules', 'emoji-datasource-google'));
console.log('added 1 package');
`,
  );
  fs.chmodSync(fakeNpm, 0o755);
  return { ext, work, config, fakeNpm };
}

/**
 * The real `distill` bundle in the extension layout, run from a folder with no node_modules above it: the CLI
 * installs the package itself. $DISTILL_NPM stands in for npm (no download), once failing, once succeeding.
 */
test('distill run installs the package on demand (extension layout), and a failed install leaves no run folder', {
  timeout: 120_000,
}, async () => {
  const { spawn } = await import('node:child_process');
  const { ext, work, config, fakeNpm } = extensionLayout();
  const run = (env: Record<string, string>, until?: RegExp) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ext, 'dist', 'cli.js'), 'run', config, '--runs-dir', 'runs'], {
        cwd: work,
        env: { ...process.env, DISTILL_NPM: fakeNpm, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let sent = false;
      const take = (d: Buffer) => {
        out += d;
        if (!sent && until && until.test(out)) sent = child.kill('SIGTERM');
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('close', (code) => resolve({ code, out }));
    });
  const cmd = emojiInstallCommand('google', path.join(ext, 'dist'));

  const failed = await run({ FAKE_NPM_FAIL: '1' });
  assert.equal(failed.code, 1, failed.out);
  assert.match(failed.out, /installing emoji-datasource-google failed \(npm exit code 1\):\n {2}npm error code E404/);
  assert.ok(failed.out.includes(`Install it yourself with:\n  ${cmd.text}`), failed.out);
  assert.ok(!fs.existsSync(path.join(work, 'runs')), 'no run folder was created');

  const ok = await run({}, /loss/);
  assert.ok(
    ok.out.includes(`installing it once into ${path.join(ext, 'dist', 'node_modules')}:\n  ${cmd.text}\n`),
    ok.out,
  );
  assert.match(ok.out, /data: installed emoji-datasource-google in \d+ s/);
  assert.match(
    ok.out,
    /data: emoji: 64 train sprites of 2 categories .* 64×64 → 8×8 RGB on white; Noto Emoji \(emoji-datasource-google/,
  );
  assert.equal(ok.code, 0, ok.out);
  const calls = fs
    .readFileSync(path.join(tmp, 'npm-calls.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(calls, [cmd.args, cmd.args]);
});

test("the extension's worker installs it too and logs what it does", { timeout: 120_000 }, async () => {
  const { RunManager } = await import('../../src/extension/model/manager');
  const { ext, work, config, fakeNpm } = extensionLayout();
  fs.rmSync(path.join(ext, 'dist', 'node_modules'), { recursive: true, force: true });
  const logs: string[] = [];
  const m = new RunManager({
    workerPath: path.join(ext, 'dist', 'worker.js'),
    env: { ...process.env, DISTILL_NPM: fakeNpm },
    log: (_l, t) => logs.push(t),
  });
  const cwd = process.cwd();
  // the worker inherits the cwd (no emoji package above it) and this process's --import tsx, resolved from there
  fs.mkdirSync(path.join(work, 'node_modules'), { recursive: true });
  if (!fs.existsSync(path.join(work, 'node_modules', 'tsx')))
    fs.symlinkSync(path.join(REPO, 'node_modules', 'tsx'), path.join(work, 'node_modules', 'tsx'));
  process.chdir(work);
  try {
    const loss = new Promise<void>((resolve) => m.onRunEvent((_d, e) => e.type === 'loss' && resolve()));
    const { runDir, done } = await m.start(config, path.join(work, 'worker-runs')).catch((e) => {
      throw new Error(`${e.message}\n${logs.join('\n')}`);
    });
    process.chdir(cwd);
    await loss;
    await m.stop(runDir);
    assert.equal((await done).status, 'stopped');
    const text = logs.join('\n');
    const cmd = emojiInstallCommand('google', path.join(ext, 'dist'));
    assert.ok(
      text.includes(`installing it once into ${path.join(ext, 'dist', 'node_modules')}:`) &&
        text.includes(`  ${cmd.text}`),
      text,
    );
    assert.match(text, /data: installed emoji-datasource-google/);
    assert.ok(text.indexOf('data: installed') < text.indexOf('data: emoji: 64 train sprites'), text);
    assert.ok(fs.existsSync(path.join(ext, 'dist', 'node_modules', 'emoji-datasource-google', 'emoji.json')));
  } finally {
    process.chdir(cwd);
    await m.dispose();
  }
});

test("the install lock: a live installer is waited for (no second npm), a crashed one's lock is taken over", async () => {
  const { spawnSync } = await import('node:child_process');
  const empty = path.join(tmp, 'empty-lock');
  fs.mkdirSync(empty, { recursive: true });
  const calls: string[][] = [];
  const npm = (dir: string) => async (args: string[]) => {
    calls.push(args);
    fakePackage(dir, 'twitter', [{ unified: 'A', category: 'Flags', rgba: [1, 2, 3, 255] }]);
    return { code: 0, output: '' };
  };
  const lockOf = (dir: string) => path.join(dir, '.emoji-datasource-twitter.install-lock');

  // another process on this host (this one: alive) holds the lock and finishes the install meanwhile
  const busy = path.join(tmp, 'lock-busy');
  fs.mkdirSync(busy, { recursive: true });
  fs.writeFileSync(lockOf(busy), `${os.hostname()} ${process.pid}`);
  setTimeout(() => fakePackage(busy, 'twitter', [{ unified: 'A', category: 'Flags', rgba: [1, 2, 3, 255] }]), 300);
  const got = await ensureDataPackage(
    { kind: 'emoji', vendor: 'twitter' },
    { log: () => {}, npm: npm(busy), roots: [empty], installDir: busy },
  );
  assert.equal(got, path.join(busy, 'node_modules', 'emoji-datasource-twitter'));
  assert.equal(calls.length, 0, 'waited for the other install');

  // the lock of a process that has exited: taken over at once, installed, released
  const stale = path.join(tmp, 'lock-stale');
  fs.mkdirSync(stale, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  fs.writeFileSync(lockOf(stale), `${os.hostname()} ${dead}`);
  const t0 = Date.now();
  await ensureDataPackage(
    { kind: 'emoji', vendor: 'twitter' },
    { log: () => {}, npm: npm(stale), roots: [empty], installDir: stale },
  );
  assert.equal(calls.length, 1);
  assert.ok(Date.now() - t0 < 5000, 'no long wait');
  assert.ok(!fs.existsSync(lockOf(stale)));
});
