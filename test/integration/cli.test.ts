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
import { readEvents } from '../../src/engine/run/run-folder';
import { formatSummary } from '../../src/cli/summary';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';

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
    JSON.stringify(toyConfig(GAUSSIANS, { teacher: { steps: 400 } })),
  );
});

describe('distill run / Ctrl-C / resume / list', () => {
  it('Ctrl-C saves a checkpoint and exits 0; resume finishes the run with the summary table', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'toy.distill.json', '--runs-dir', 'runs', '--name', 'a'], {
      cwd: tmp,
    });
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
    // the final table: w = 0 and w = 2, the quality metric with recall and diversity ÷ real beside it, real data last
    assert.match(r.stdout, / w = 0 +w = 2\n/);
    assert.match(
      r.stdout,
      /model\s+steps\s+NFE\s+ms\/sample\s+SWD to data ↓\s+recall\s+diversity ÷ real\s+SWD to data ↓\s+recall\s+diversity ÷ real/,
    );
    assert.match(r.stdout, /real held-out data\s+–\s+\d\.\d{3}\s+1\.000/);
    const summary = readEvents(path.join(runs, 'a')).events.find((e) => e.type === 'summary') as {
      rows: { w: number; model: string; recall?: number; diversity?: number }[];
      real?: { recall: number; perClass: number };
    };
    assert.deepEqual(
      summary.rows.map((x) => `${x.w} ${x.model}`),
      ['0 teacher', '0 teacher', '0 student', '2 teacher', '2 teacher', '2 student'],
    );
    for (const x of summary.rows) assert.ok(x.recall! >= 0 && x.recall! <= 1 && x.diversity! > 0, JSON.stringify(x));
    assert.ok(
      summary.real && summary.real.recall > 0.5 && summary.real.perClass > 10 && summary.real.perClass <= 200,
      JSON.stringify(summary.real),
    );
    assert.match(r.stdout, /backend: wasm/);
    assert.match(distill(['list', 'runs']).stdout, /^a\s+finished/m);
  });

  it('SIGTERM sent over and over (as Slurm and kill loops do) still saves once and exits 0, never dies by the signal', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'toy.distill.json', '--runs-dir', 'runs', '--name', 'term'], {
      cwd: tmp,
    });
    let out = '';
    let storm: NodeJS.Timeout | undefined;
    const take = (d: Buffer) => {
      out += d;
      // from the first logged loss until the process is gone: a SIGTERM every 2 ms, through the save and the exit
      if (!storm && /loss/.test(out))
        storm = setInterval(() => child.exitCode === null && child.signalCode === null && child.kill('SIGTERM'), 1);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      child.once('exit', (c, s) => r([c, s])),
    );
    clearInterval(storm);
    assert.equal(signal, null, out);
    assert.equal(code, 0, out);
    assert.equal(out.match(/SIGTERM: saving a checkpoint/g)?.length, 1, out);
    assert.match(out, /Stopped and saved\. Continue with: distill resume/);
    const { events } = readEvents(path.join(runs, 'term'));
    assert.equal((events[events.length - 1] as { status?: string }).status, 'stopped');
  });

  it('sample writes a PNG grid (rows = classes, cols = w) and .npy arrays with labels', () => {
    const png = distill([
      'sample',
      'runs/a',
      '--stage',
      'progressive',
      '--steps',
      '2',
      '--w',
      '0,2,4',
      '--classes',
      '0,3',
      '--out',
      'g.png',
    ]);
    assert.equal(png.status, 0, png.stderr);
    assert.match(png.stdout, /2×3 grid/);
    const img = decodePng(fs.readFileSync(path.join(tmp, 'g.png')));
    assert.ok(img.width > img.height, `${img.width}×${img.height}`);

    const npy = distill([
      'sample',
      'runs/a',
      '--stage',
      'teacher',
      '--steps',
      '4',
      '--w',
      '1',
      '--classes',
      '1,2',
      '--per-class',
      '5',
      '--seed',
      '3',
      '--out',
      'out/s.npy',
    ]);
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
    distill([
      'sample',
      'runs/a',
      '--stage',
      'teacher',
      '--steps',
      '4',
      '--w',
      '1',
      '--classes',
      '1,2',
      '--per-class',
      '5',
      '--seed',
      '3',
      '--out',
      'out/t.npy',
    ]);
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
    fs.writeFileSync(
      path.join(tmp, 'bad.distill.json'),
      JSON.stringify({ data: { kind: 'mnist' }, model: { kind: 'unet' }, teacher: { batch: 0 } }),
    );
    const d = distill(['run', 'bad.distill.json']);
    assert.equal(d.status, 2);
    assert.match(d.stderr, /teacher\.batch: 0 is out of range; expected an integer from 1 to 65,536/);
    const e = distill(['resume', 'nowhere']);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /not a run folder/);
  });
});

describe('the final table of distill run', () => {
  const row = (
    model: string,
    steps: number,
    w: number,
    value: number,
    ms: number,
    recall?: number,
    diversity?: number,
  ) => ({
    model,
    steps,
    nfe: model === 'teacher' ? 2 * steps : steps,
    msPerSample: ms,
    w,
    metric: 'accuracy',
    value,
    recall,
    diversity,
  });
  it('shows recall and diversity ÷ real beside accuracy, per w, and the real data last', () => {
    const lines = formatSummary(
      [
        row('teacher', 64, 0, 0.85, 200, 0.71, 0.98),
        row('teacher', 4, 0, 0.6, 12, 0.4, 1.3),
        row('student', 4, 0, 0.93, 5, 0.52, 0.81),
        row('teacher', 64, 2, 0.97, 198, 0.55, 0.7),
        row('teacher', 4, 2, 0.9, 12, 0.3, 0.9),
        row('student', 4, 2, 0.96, 4, 0.5, 0.68),
      ],
      { accuracy: 0.971, recall: 0.77, diversity: 1, perClass: 20 },
    );
    // a line per model and step count, w across: the w of each group of columns above its header
    const table = lines.filter((l) => l.startsWith('  ') && !l.includes('─'));
    assert.match(table[0], /^ +w = 0 +w = 2$/);
    assert.match(
      table[1],
      /^ {2}model\s+steps\s+NFE\s+ms\/sample\s+accuracy\s+recall\s+diversity ÷ real\s+accuracy\s+recall\s+diversity ÷ real$/,
    );
    assert.match(table[4], /^ {2}student\s+4\s+4\s+4\.50\s+93\.0 %\s+0\.520\s+0\.810\s+96\.0 %\s+0\.500\s+0\.680$/);
    assert.match(table[5], /^ {2}real held-out data\s+97\.1 %\s+0\.770\s+1\.000\s+97\.1 %\s+0\.770\s+1\.000$/);
    assert.ok(
      lines.some((l) =>
        /w = 0: speed-up of the 4-step student over the 64-step guided teacher: 40\.0× per sample/.test(l),
      ),
    );
    assert.ok(lines.some((l) => /w = 2: speed-up .* 49\.5× per sample/.test(l)));
    assert.ok(lines.some((l) => /20 held-out rows per class/.test(l)));
  });
  it("prints classifier-FID beside accuracy and, per w, the student's gap to the teacher in per cent with a verdict", () => {
    const f = (r: ReturnType<typeof row>, fid: number) => ({ ...r, fid });
    const lines = formatSummary(
      [
        f(row('teacher', 64, 0, 0.85, 200, 0.71, 0.98), 26.5),
        f(row('teacher', 4, 0, 0.6, 12, 0.4, 1.3), 44),
        f(row('student', 4, 0, 0.93, 5, 0.52, 0.81), 28.1),
        f(row('teacher', 64, 2, 0.97, 198, 0.55, 0.7), 100),
        f(row('teacher', 4, 2, 0.9, 12, 0.3, 0.9), 150),
        f(row('student', 4, 2, 0.96, 4, 0.5, 0.68), 111.7),
      ],
      { accuracy: 0.971, recall: 0.77, diversity: 1, perClass: 20, fid: 8.24 },
    );
    const table = lines.filter((l) => l.startsWith('  ') && !l.includes('─'));
    assert.match(
      table[1],
      /^ {2}model\s+steps\s+NFE\s+ms\/sample\s+accuracy\s+cFID ↓\s+recall\s+diversity ÷ real\s+accuracy\s+cFID ↓/,
    );
    assert.match(table[4], /^ {2}student\s+4\s+4\s+4\.50\s+93\.0 %\s+28\.1\s+0\.520\s+0\.810\s+96\.0 %\s+111\.7/);
    assert.match(table[5], /^ {2}real held-out data\s+97\.1 %\s+8\.2\s+0\.770\s+1\.000\s+97\.1 %\s+8\.2/);
    assert.ok(
      lines.includes("  w = 0: the student's gap to the teacher: classifier-FID 28.1 vs 26.5 (+6.0 %: within 10 %)"),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        "  w = 2: the student's gap to the teacher: classifier-FID 111.7 vs 100.0 (+11.7 %: more than 10 % worse)",
      ),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => /real held-out half vs half: 8\.2/.test(l)));
    // a student better than its teacher: a negative gap; toy data: the SWD
    const better = formatSummary([f(row('teacher', 64, 0, 0.85, 200), 30), f(row('student', 4, 0, 0.9, 5), 27)]);
    assert.ok(
      better.some((l) => l.endsWith('classifier-FID 27.0 vs 30.0 (−10.0 %: within 10 %)')),
      better.join('\n'),
    );
    const toy = formatSummary([
      { ...row('teacher', 64, 2, 0.2067, 9), metric: 'swd' },
      { ...row('student', 4, 2, 0.208, 1), metric: 'swd' },
    ]);
    assert.ok(
      toy.some((l) => l.endsWith('SWD 0.2080 vs 0.2067 (+0.6 %: within 10 %)')),
      toy.join('\n'),
    );
  });
  it('an old summary event (no recall) prints the old columns', () => {
    const lines = formatSummary([row('teacher', 64, 2, 0.9, 100), row('student', 4, 2, 0.9, 2)]);
    assert.match(lines[2], /^ +w = 2$/);
    assert.match(lines[3], /^ {2}model\s+steps\s+NFE\s+ms\/sample\s+accuracy$/);
    assert.ok(!lines.some((l) => /recall|real held-out|cFID|gap/.test(l)));
    assert.deepEqual(formatSummary([]), []);
  });
  it('two stage-2 methods: a line per method and step count, and each student’s speed-up and gap per w', () => {
    const f = (r: ReturnType<typeof row>, fid: number) => ({ ...r, fid });
    const lines = formatSummary([
      f(row('teacher', 64, 0, 0.85, 200, 0.71, 0.98), 26.5),
      f(row('teacher', 2, 0, 0.5, 6, 0.3, 1.2), 60),
      f(row('progressive', 4, 0, 0.93, 5, 0.52, 0.81), 28.1),
      f(row('progressive', 2, 0, 0.9, 2.5, 0.5, 0.8), 35),
      f(row('consistency', 2, 0, 0.92, 2.5, 0.55, 0.85), 27),
    ]);
    const table = lines.filter((l) => l.startsWith('  ') && !l.includes('─'));
    assert.match(lines[1], /^Teacher vs students \(same seeds\):$/);
    assert.deepEqual(
      table.slice(2, 7).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' ')),
      ['teacher 64 128', 'teacher 2 4', 'progressive 4 4', 'progressive 2 2', 'consistency 2 2'],
    );
    assert.ok(
      lines.includes(
        '  w = 0, progressive 2 steps: 80.0× faster per sample than the 64-step teacher; gap: classifier-FID 35.0 vs 26.5 (+32.1 %: more than 10 % worse)',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        '  w = 0, consistency 2 steps: 80.0× faster per sample than the 64-step teacher; gap: classifier-FID 27.0 vs 26.5 (+1.9 %: within 10 %)',
      ),
      lines.join('\n'),
    );
    assert.equal(lines.filter((l) => l.startsWith('  w = 0, ')).length, 3, 'a line per student');
  });
});
