/**
 * Everything after training runs on webgpu too, through the `distill` command a user types (dist/cli.js in a child
 * process, Dawn + SwiftShader underneath): `sample` (teacher and student, .npy), `edit` (SDEdit towards a class),
 * `export` (the browser student) and `eval` (the quality report). A tiny digits U-Net is trained once on wasm, then
 * each command runs with `--backend wasm` and with `--backend webgpu`, and their outputs are compared.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeNpy } from '../../src/engine/io/npy';
import { decodePng, encodePng } from '../../src/engine/io/png';
import { useSwiftShader } from '../helpers/gpu';

useSwiftShader();
const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-webgpu-cli-'));
const RUN = path.join(tmp, 'runs', 'tiny');

function distill(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `distill ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs `args` (with {B} standing for the backend's output folder) on wasm and on webgpu. */
function onBoth(args: string[]): { wasm: string; webgpu: string; stdout: Record<string, string> } {
  const stdout: Record<string, string> = {};
  for (const b of ['wasm', 'webgpu']) {
    fs.mkdirSync(path.join(tmp, b), { recursive: true });
    stdout[b] = distill([...args.map((a) => a.replace('{B}', b)), '--backend', b, '--threads', '1']).stdout;
  }
  return { wasm: path.join(tmp, 'wasm'), webgpu: path.join(tmp, 'webgpu'), stdout };
}

/** Samples per row of the eval comparison: the fewest the report accepts for 10 classes (6 per class). */
const EVAL_SAMPLES = 60;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(() => {
  assert.ok(fs.existsSync(CLI), 'run npm run build first (npm test does)');
  fs.writeFileSync(
    path.join(tmp, 'tiny.distill.json'),
    JSON.stringify({
      name: 'tiny',
      seed: 4,
      backend: 'wasm',
      threads: 1,
      data: { kind: 'mnist', imageSize: 8 },
      model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16, attention: true },
      teacher: { steps: 30, batch: 16, lr: 0.002 },
      guided: { steps: 8, batch: 16, lr: 0.001 },
      progressive: { n0: 4, targetSteps: 2, steps: 4, batch: 16, lr: 0.001 },
      sampling: { interval: 0, teacherSteps: 4 },
      eval: { classifierSteps: 30 },
      checkpoint: { interval: 100, keep: 1 },
      log: { interval: 10 },
    }),
  );
  distill(['run', 'tiny.distill.json', '--runs-dir', 'runs', '--name', 'tiny']);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('distill sample / edit / export / eval with --backend webgpu (SwiftShader) give what wasm gives', {
  timeout: 900_000,
}, () => {
  it('sample: the teacher (CFG, 2 NFE per step) and the 2-step student, same seed → the same samples (≤ 1e-4)', () => {
    for (const [stage, steps] of [
      ['teacher', '4'],
      ['progressive', '2'],
    ]) {
      const r = onBoth([
        'sample',
        RUN,
        '--stage',
        stage,
        '--steps',
        steps,
        '--w',
        '2',
        '--classes',
        '0,3,7',
        '--per-class',
        '3',
        '--seed',
        '9',
        '--out',
        `{B}/${stage}.npy`,
      ]);
      assert.match(
        r.stdout.webgpu,
        new RegExp(
          `float32 \\[9, 8, 8, 1\\].*${stage === 'teacher' ? 8 : 2} NFE, [\\d.]+ ms per sample on webgpu [\\d.]+ · SwiftShader.* \\(software adapter, emulated on the CPU\\)`,
        ),
      );
      assert.match(r.stdout.wasm, /ms per sample on wasm [\d.]+ \(1 thread, SIMD\)/);
      const a = decodeNpy(fs.readFileSync(path.join(r.wasm, `${stage}.npy`)));
      const b = decodeNpy(fs.readFileSync(path.join(r.webgpu, `${stage}.npy`)));
      assert.deepEqual(b.shape, a.shape);
      const d = maxAbsDiff(b.data as Float32Array, a.data as Float32Array);
      assert.ok(d <= 1e-4, `${stage}: largest difference ${d}`);
      assert.ok(
        Array.from(a.data as Float32Array).some((v) => Math.abs(v) > 0.1),
        'samples should not be blank',
      );
    }
  });

  it('edit: SDEdit of a digit towards class 3 with the student, the same image on both (±1 of 255)', () => {
    const px = new Uint8Array(8 * 8);
    for (let y = 1; y < 7; y++)
      for (let x = 2; x < 6; x++) px[y * 8 + x] = y === 1 || y === 6 || x === 2 || x === 5 ? 255 : 0; // a 0
    fs.writeFileSync(path.join(tmp, 'zero.png'), encodePng(px, 8, 8, 1));
    const r = onBoth([
      'edit',
      RUN,
      '--image',
      'zero.png',
      '--class',
      '3',
      '--strength',
      '0.6',
      '--w',
      '2',
      '--seed',
      '2',
      '--out',
      '{B}/edit.png',
    ]);
    assert.match(r.stdout.webgpu, /NFE · [\d.]+ ms on webgpu .*SwiftShader/);
    const a = decodePng(fs.readFileSync(path.join(r.wasm, 'edit.png')));
    const b = decodePng(fs.readFileSync(path.join(r.webgpu, 'edit.png')));
    assert.deepEqual([b.width, b.height], [a.width, a.height]);
    assert.ok(maxAbsDiff(b.data, a.data) <= 1, `largest pixel difference ${maxAbsDiff(b.data, a.data)}`);
  });

  it('export: the same browser student (same files, same weights) whichever backend exports it', () => {
    const r = onBoth(['export', RUN, '--out', '{B}/exported']);
    const files = (d: string) => fs.readdirSync(d).sort();
    const wa = path.join(r.wasm, 'exported');
    const wg = path.join(r.webgpu, 'exported');
    assert.deepEqual(files(wg), files(wa));
    for (const f of files(wa)) {
      if (f.endsWith('.bin'))
        assert.ok(fs.readFileSync(path.join(wg, f)).equals(fs.readFileSync(path.join(wa, f))), `${f} differs`);
    }
    assert.ok(
      files(wa).some((f) => f.endsWith('.bin')),
      `no weights in ${files(wa).join(', ')}`,
    );
  });

  it('eval: the report on webgpu matches wasm row by row (same judge; accuracy ±2 samples, classifier-FID to 1 %)', () => {
    const r = onBoth([
      'eval',
      RUN,
      '--w',
      '0,2',
      '--samples',
      String(EVAL_SAMPLES),
      '--teacher-steps',
      '2',
      '--student-steps',
      '2',
      '--seed',
      '5',
      '--out',
      '{B}/eval',
    ]);
    const rows = (d: string) => {
      const rep = JSON.parse(fs.readFileSync(path.join(d, 'eval', 'report.json'), 'utf8')) as {
        rows: Array<Record<string, unknown>>;
      };
      return rep.rows;
    };
    const a = rows(r.wasm);
    const b = rows(r.webgpu);
    assert.equal(b.length, a.length);
    assert.equal(
      a.length,
      10,
      'teacher 2 steps, the guided and the progressive student by DDIM and stochastic, at 2 w',
    );
    for (let i = 0; i < a.length; i++) {
      for (const k of ['model', 'steps', 'w', 'nfe']) assert.equal(b[i][k], a[i][k], `row ${i} ${k}`);
      const acc = (row: Record<string, unknown>) => row.accuracy as number;
      assert.ok(
        Math.abs(acc(b[i]) - acc(a[i])) <= 2 / EVAL_SAMPLES + 1e-9,
        `row ${i} accuracy ${acc(b[i])} vs ${acc(a[i])}`,
      );
      const fid = (row: Record<string, unknown>) => row.fid as number;
      assert.ok(
        Number.isFinite(fid(a[i])) && Math.abs(fid(b[i]) - fid(a[i])) <= 0.01 * fid(a[i]),
        `row ${i} FID ${fid(b[i])} vs ${fid(a[i])}`,
      );
    }
  });
});
