/**
 * The `distill` command as a user runs it (the bundled dist/cli.js in a child process): run, Ctrl-C (SIGINT) saves
 * and exits 0, resume finishes, list, sample to .png and .npy, and usage errors.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { decodeNpy } from '../../src/engine/io/npy';
import { decodePng } from '../../src/engine/io/png';
import { readEvents } from '../../src/engine/runfolder';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cli-'));
const runs = path.join(tmp, 'runs');

function distill(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 240_000 });
}

before(() => {
  if (!fs.existsSync(CLI)) {
    const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  fs.writeFileSync(
    path.join(tmp, 'toy.distill.json'),
    JSON.stringify({
      name: 'toy',
      seed: 2,
      backend: 'wasm',
      threads: 1,
      data: { kind: 'toy2d', shape: 'gaussians', n: 1024 },
      model: { kind: 'mlp', hidden: 64, depth: 2, embedDim: 32 },
      teacher: { steps: 400, batch: 64, lr: 0.002 },
      guided: { steps: 40, batch: 64, lr: 0.001 },
      progressive: { n0: 4, targetSteps: 2, steps: 20, batch: 64, lr: 0.001 },
      sampling: { interval: 0, teacherSteps: 8 },
      checkpoint: { interval: 50, keep: 2 },
      log: { interval: 5 },
    }),
  );
});

describe('distill run / Ctrl-C / resume / list', () => {
  it('Ctrl-C saves a checkpoint and exits 0; resume finishes the run with the summary table', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'toy.distill.json', '--runs-dir', 'runs', '--name', 'a'], { cwd: tmp });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const runDir = path.join(runs, 'a');
    // interrupt once the teacher has logged a few losses
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const { events } = readEvents(runDir);
        if (events.some((e) => e.type === 'loss' && e.step >= 30)) {
          clearInterval(timer);
          child.kill('SIGINT');
          resolve();
        }
      }, 100);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error(`exited before it could be interrupted:\n${out}`));
      });
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 0, out);
    assert.match(out, /Stopping: saving a checkpoint/);
    assert.match(out, /Stopped and saved\. Continue with: distill resume/);
    const { events } = readEvents(runDir);
    assert.equal(events[events.length - 1].type, 'run_end');
    assert.equal((events[events.length - 1] as { status: string }).status, 'stopped');
    const ck = events.filter((e) => e.type === 'checkpoint');
    assert.ok(ck.length >= 1);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')), 'lock released');

    const list = distill(['list', 'runs']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^a\s+stopped\s+teacher\s+\d+\/400/m);

    const r = distill(['resume', 'runs/a']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /resuming at \d+/);
    assert.match(r.stdout, /Teacher vs student \(same seeds\)/);
    assert.match(r.stdout, /student\s+2\s+2\s/);
    assert.match(r.stdout, /backend: wasm/);
    assert.match(distill(['list', 'runs']).stdout, /^a\s+finished/m);
  });

  it('sample writes a PNG grid (rows = classes, cols = w) and .npy arrays with labels', () => {
    const png = distill(['sample', 'runs/a', '--stage', 'progressive', '--steps', '2', '--w', '0,2,4', '--classes', '0,3', '--out', 'g.png']);
    assert.equal(png.status, 0, png.stderr);
    assert.match(png.stdout, /2×3 grid/);
    const img = decodePng(fs.readFileSync(path.join(tmp, 'g.png')));
    assert.ok(img.width > img.height, `${img.width}×${img.height}`);

    const npy = distill(['sample', 'runs/a', '--stage', 'teacher', '--steps', '4', '--w', '1', '--classes', '1,2', '--per-class', '5', '--seed', '3', '--out', 'out/s.npy']);
    assert.equal(npy.status, 0, npy.stderr);
    const x = decodeNpy(fs.readFileSync(path.join(tmp, 'out', 's.npy')));
    const y = decodeNpy(fs.readFileSync(path.join(tmp, 'out', 's.labels.npy')));
    assert.deepEqual(x.shape, [10, 2]);
    assert.equal(x.dtype, '<f4');
    assert.ok(Array.from(x.data).every((v) => v >= -1 && v <= 1));
    assert.equal(y.dtype, '<i4');
    assert.deepEqual(Array.from(y.data), [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    assert.match(npy.stdout, /8 NFE/);
    // same seed, same samples
    distill(['sample', 'runs/a', '--stage', 'teacher', '--steps', '4', '--w', '1', '--classes', '1,2', '--per-class', '5', '--seed', '3', '--out', 'out/t.npy']);
    assert.deepEqual(fs.readFileSync(path.join(tmp, 'out', 't.npy')), fs.readFileSync(path.join(tmp, 'out', 's.npy')));
  });

  it('explains bad usage and bad input with exit codes 2 and 1', () => {
    const a = distill(['run']);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /expected 1 argument/);
    const b = distill(['sample', 'runs/a', '--stage', 'progressive', '--steps', '3', '--w', '1', '--out', 'x.png']);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /--steps 3: no progressive student has 3 steps; available: 2/);
    const c = distill(['sample', 'runs/a', '--stage', 'teacher', '--w', '1,2', '--out', 'x.npy']);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /a \.npy file holds one guidance weight/);
    fs.writeFileSync(path.join(tmp, 'bad.distill.json'), JSON.stringify({ data: { kind: 'mnist' }, model: { kind: 'unet' }, teacher: { batch: 0 } }));
    const d = distill(['run', 'bad.distill.json']);
    assert.equal(d.status, 2);
    assert.match(d.stderr, /teacher\.batch: 0 is out of range; expected an integer from 1 to 65,536/);
    const e = distill(['resume', 'nowhere']);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /not a run folder/);
  });
});
