/**
 * Sweep files (schema errors naming the field, expansion, names, per-variant config validation), the local launcher
 * end to end through `distill sweep` (finish, never twice, Ctrl-C → checkpoints → resume to the same losses), and the
 * Slurm launcher's pure parts (batch script, recorded squeue/sacct/scontrol output).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeRun } from '../../src/engine/run/run-folder';
import { expandParams, loadSweepFile, readSweepManifest, resolveSweep, SweepError } from '../../src/engine/run/sweep';
import {
  arraySpec,
  batchScript,
  expandArraySpec,
  parseSacct,
  parseScontrolJob,
  parseSqueue,
  queryJobs,
} from '../../src/launcher/slurm';
import { planSweep } from '../../src/launcher/sweep';
import {
  assertFinished,
  distill,
  distillAsync,
  ensureCli,
  finalLosses,
  REPO,
  waitFor,
  writeToySweep,
} from '../helpers/sweeps';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-sweep-'));
const runs = path.join(tmp, 'runs');
before(() => ensureCli());
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function errorsOf(value: unknown): string[] {
  try {
    resolveSweep(value, '/x/bad.sweep.json');
  } catch (e) {
    assert.ok(e instanceof SweepError, String(e));
    return e.errors;
  }
  assert.fail('expected a SweepError');
}

describe('sweep files', () => {
  it("the schema is the editor's (contributes.jsonValidation) and the run-time validator", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    assert.ok(
      pkg.contributes.jsonValidation.some(
        (j: { fileMatch: string; url: string }) =>
          j.fileMatch === '*.sweep.json' && j.url === './src/engine/run/sweep.schema.json',
      ),
    );
  });

  it('bad sweep files give errors that name the field', () => {
    const errs = errorsOf({
      name: 'bad name!',
      base: 5,
      grid: { 'progressive.lr': [], 'not a path': [1] },
      random: {
        count: 0,
        params: { 'guided.lr': { logUniform: [0, 1] }, 'teacher.lr': { uniform: [1, 2], choice: [1] } },
      },
      seeds: [1, 1],
      slurm: { time: 'soon', cpus: 2, mem: '8 GB' },
      extra: true,
    });
    const want = [
      /^name: must match/,
      /^base: expected a path to a \*\.distill\.json or an inline config object$/,
      /^grid\["progressive\.lr"\]: must NOT have fewer than 1 items$/,
      /^grid\["not a path"\]: expected a dotted config path/,
      /^random\.count: must be >= 1$/,
      /^random\.params\["guided\.lr"\]\.logUniform\[0\]: must be > 0$/,
      /^random\.params\["teacher\.lr"\]: expected exactly one of uniform, logUniform, intUniform, choice$/,
      /^seeds: must NOT have duplicate items/,
      /^slurm\.time: must match/,
      /^slurm\.cpus: unknown field$/,
      /^slurm\.mem: must match/,
      /^extra: unknown field$/,
    ];
    for (const w of want)
      assert.ok(
        errs.some((e) => w.test(e)),
        `${w} in:\n${errs.join('\n')}`,
      );
    assert.deepEqual(errorsOf({ base: {} }), ['name: required field is missing']);
  });

  it("each variant's config is validated like a *.distill.json, naming the variant and the field", () => {
    const errs = errorsOf({
      name: 's',
      base: toyConfig(GAUSSIANS),
      grid: { 'model.kind': ['mlp', 'unet'], 'teacher.batch': [0] },
    });
    assert.ok(
      errs.some((e) =>
        /^variant 00-model\.kind=mlp-teacher\.batch=0: teacher\.batch: 0 is out of range; expected an integer from 1 to /.test(
          e,
        ),
      ),
      errs.join('\n'),
    );
    assert.ok(
      errs.some((e) => /^variant 01-model\.kind=unet-teacher\.batch=0: model\.kind: "unet" needs image data/.test(e)) ||
        errs.some((e) => /variant 01.*teacher\.batch/.test(e)),
      errs.join('\n'),
    );
    const base = path.join(tmp, 'missing.distill.json');
    assert.deepEqual(errorsOf({ name: 's', base: 'missing.distill.json' }), [
      `base: no such file ${path.join('/x', 'missing.distill.json')}`,
    ]);
    assert.ok(!fs.existsSync(base));
  });

  it('expands grid × random draws × seeds with names that show the varied values; random draws are seeded', () => {
    const spec = {
      name: 's',
      base: toyConfig(GAUSSIANS),
      grid: { 'progressive.lr': [0.0003, 0.001], 'guidance.wMax': [2, 4] },
      random: {
        count: 3,
        seed: 7,
        params: {
          'guided.lr': { logUniform: [1e-4, 1e-3] as [number, number] },
          'teacher.batch': { choice: [32, 64] },
        },
      },
      seeds: [0, 1],
    };
    const p = expandParams(spec);
    assert.equal(p.length, 2 * 2 * 3 * 2);
    assert.deepEqual(p, expandParams(spec), 'deterministic');
    for (const x of p) {
      assert.ok((x['guided.lr'] as number) >= 1e-4 && (x['guided.lr'] as number) <= 1e-3);
      assert.ok([32, 64].includes(x['teacher.batch'] as number));
    }
    assert.equal(new Set(p.map((x) => x['guided.lr'])).size, 3, 'three draws');
    const loaded = resolveSweep(spec, path.join(tmp, 's.sweep.json'));
    assert.equal(loaded.variants.length, 24);
    const v = loaded.variants[0];
    assert.match(
      v.name,
      /^00-progressive\.lr=0\.0003-guidance\.wMax=2-guided\.lr=0\.000\d+-teacher\.batch=(32|64)-seed=0$/,
    );
    assert.equal(v.config.progressive.lr, 0.0003);
    assert.equal(v.config.guidance.wMax, 2);
    assert.equal(v.config.seed, 0);
    assert.equal(loaded.variants[23].config.seed, 1);
    assert.equal(new Set(loaded.variants.map((x) => x.name)).size, 24);
  });

  it('a base given as a path is read relative to the sweep file (and the example sweep is valid)', () => {
    const ex = loadSweepFile(path.join(REPO, 'examples', 'toy2d.sweep.json'));
    assert.ok(ex.variants.length >= 2);
    assert.equal(ex.baseSource, path.join(REPO, 'examples', 'toy2d.distill.json'));
  });
});

describe('local launcher (distill sweep --launcher local)', () => {
  it('runs every variant, prints the table, and a second run starts nothing', () => {
    const file = writeToySweep(tmp, 'lr');
    const r = distill(['sweep', file, '--runs-dir', runs, '--max-parallel', '2'], { cwd: tmp });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /0 finished, 0 queued or running, starting 2 \(local\)/);
    assert.match(r.out, /variant\s+state\s+job\s+node\s+run\s+teacher loss\s+guided loss\s+progressive-4-2 loss/);
    assert.match(r.out, /00-progressive\.lr=0\.0003\s+COMPLETED/);
    assert.match(r.out, /all 2 variant\(s\) finished/);
    const m = readSweepManifest(path.join(runs, 'lr'))!;
    assert.equal(m.launcher, 'local');
    assert.equal(m.state, 'finished');
    assert.deepEqual(
      m.variants.map((v) => v.state),
      ['COMPLETED', 'COMPLETED'],
    );
    for (const v of m.variants) assertFinished(path.join(runs, 'lr', v.dir));
    const again = distill(['sweep', file, '--runs-dir', runs], { cwd: tmp });
    assert.equal(again.status, 0, again.out);
    assert.match(again.out, /2 finished, 0 queued or running, starting 0/);
    const list = distill(['list', runs], { cwd: tmp });
    assert.match(list.out, /lr\/00-progressive\.lr=0\.0003\s+finished/);
  });

  it('a changed base is refused for existing variants, even a changed progressive.targetSteps (they resume their own)', () => {
    const file = writeToySweep(tmp, 'lr', { base: toyConfig(GAUSSIANS, { progressive: { targetSteps: 1 } }) });
    assert.throws(
      () => planSweep(file, runs),
      (e: Error) =>
        e.message
          .split('\n')
          .filter((l) => /variant \d\d-progressive\.lr=.* was created from a different config/.test(l)).length === 2,
    );
    assert.equal(planSweep(writeToySweep(tmp, 'lr'), runs).variants.length, 2, 'the unchanged sweep plans both');
  });

  it('Ctrl-C stops every variant with a checkpoint; the same command resumes them to the losses of the uninterrupted sweep', async () => {
    const file = writeToySweep(tmp, 'lr2');
    const sweepDir = path.join(runs, 'lr2');
    const p = distillAsync(['sweep', file, '--runs-dir', runs, '--max-parallel', '2'], { cwd: tmp });
    await waitFor(
      () => {
        const m = readSweepManifest(sweepDir);
        return (
          !!m &&
          m.variants.every((v) => describeRun(path.join(sweepDir, v.dir)).summary.units.some((u) => u.step >= 60))
        );
      },
      120_000,
      'both variants to train',
    );
    p.child.kill('SIGINT');
    assert.equal(await p.done, 0, p.output());
    assert.match(p.output(), /Stopping the sweep: every running variant saves a checkpoint/);
    const m = readSweepManifest(sweepDir)!;
    for (const v of m.variants) {
      const s = describeRun(path.join(sweepDir, v.dir)).summary;
      assert.equal(s.status, 'stopped', `${v.name}: ${s.status}`);
      assert.ok(s.units[0].checkpoints.length >= 1);
    }
    const r = distill(['sweep', file, '--runs-dir', runs], { cwd: tmp });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /0 finished, 0 queued or running, starting 2/);
    for (const v of m.variants) {
      assertFinished(path.join(sweepDir, v.dir));
      assert.deepEqual(finalLosses(path.join(sweepDir, v.dir)), finalLosses(path.join(runs, 'lr', v.dir)), v.name);
    }
  });

  it('a bad sweep file is refused with the field named, exit 2, nothing created; --dry-run prints variants and the sbatch script', () => {
    fs.writeFileSync(
      path.join(tmp, 'bad.sweep.json'),
      JSON.stringify({ name: 'bad', base: toyConfig(GAUSSIANS), grid: { 'progressive.lr': 0.001 } }),
    );
    const r = distill(['sweep', 'bad.sweep.json', '--runs-dir', runs], { cwd: tmp });
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /bad\.sweep\.json: invalid sweep:\n {2}- grid\["progressive\.lr"\]: must be array/);
    assert.ok(!fs.existsSync(path.join(runs, 'bad')));
    const file = writeToySweep(tmp, 'dry', {
      seeds: [0, 1],
      slurm: { partition: 'gpu', gres: 'gpu:1', extra: ['#SBATCH --constraint=a100', 'module load nodejs'] },
    });
    const d = distill(['sweep', file, '--runs-dir', runs, '--launcher', 'slurm', '--dry-run', '--max-parallel', '2'], {
      cwd: tmp,
    });
    assert.equal(d.status, 0, d.out);
    assert.match(d.out, /sweep dry: 4 variant\(s\)/);
    assert.match(d.out, /03-progressive\.lr=0\.001-seed=1\n {6}progressive\.lr = 0\.001, seed = 1/);
    assert.match(d.out, /#SBATCH --array=0-3%2\n/);
    assert.match(d.out, /#SBATCH --partition=gpu\n/);
    assert.match(d.out, /#SBATCH --gres=gpu:1\n/);
    assert.match(d.out, /#SBATCH --constraint=a100\nset -u\nmodule load nodejs\n/);
    assert.ok(!fs.existsSync(path.join(runs, 'dry')), 'a dry run writes nothing');
  });
});

describe('Slurm launcher: script and parsers (recorded output)', () => {
  it('array specs and the batch script', () => {
    assert.equal(arraySpec([0, 1, 2, 3]), '0-3');
    assert.equal(arraySpec([5, 0, 2, 3, 7, 8]), '0,2-3,5,7-8');
    const s = batchScript({
      jobName: 'distill-x',
      runDirs: new Map([
        [0, "/r/it's"],
        [1, '/r/b'],
      ]),
      indices: [1],
      maxParallel: 4,
      logDir: '/r/slurm',
      slurm: { time: '1-00:00:00', cpusPerTask: 8, mem: '16G', account: 'lab', qos: 'long', signalSeconds: 300 },
      nodePath: '/usr/bin/node',
      cliPath: '/opt/distill/dist/cli.js',
    });
    for (const l of [
      '--array=1%4',
      '--output=/r/slurm/%A_%a.out',
      '--requeue',
      '--signal=B:USR1@300',
      '--time=1-00:00:00',
      '--cpus-per-task=8',
      '--mem=16G',
      '--account=lab',
      '--qos=long',
    ]) {
      assert.ok(s.includes(`#SBATCH ${l}\n`), l);
    }
    assert.ok(s.includes(`[0]='/r/it'\\''s'`), 'shell-quoted paths');
    assert.match(s, /scontrol requeue "\$\{SLURM_JOB_ID\}"/);
  });

  it("the batch script ends with distill's own exit code while SIGTERM reaches every process of the job over and over", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'term-storm-'));
    // stands in for distill: keeps running through SIGTERM, "saves" for 300 ms and exits with the code it is given
    const fake = path.join(dir, 'fake-distill.js');
    fs.writeFileSync(
      fake,
      "process.on('SIGTERM', () => {});\nprocess.stdout.write('ready\\n');\nsetTimeout(() => process.exit(Number(process.env.FAKE_EXIT)), 300);\n",
    );
    const script = path.join(dir, 'job.sh');
    fs.writeFileSync(
      script,
      batchScript({
        jobName: 'storm',
        runDirs: new Map([[0, dir]]),
        indices: [0],
        logDir: dir,
        slurm: {},
        nodePath: process.execPath,
        cliPath: fake,
      }),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLURM_ARRAY_TASK_ID: '0',
      SLURM_ARRAY_JOB_ID: '1',
      SLURM_JOB_ID: '1',
    };
    delete env.DISTILL_NODE;
    const ends: string[] = [];
    for (const code of [0, 3, 0, 3, 0, 3, 0, 3, 0, 3, 0, 3]) {
      // its own process group, as a job's processes are: Slurm's SIGTERM goes to the batch shell and distill alike
      const job = spawn('bash', [script], {
        env: { ...env, FAKE_EXIT: String(code) },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let storm: NodeJS.Timeout | undefined;
      const take = (d: Buffer) => {
        out += d;
        if (!storm && out.includes('ready')) {
          storm = setInterval(() => {
            try {
              process.kill(-job.pid!, 'SIGTERM');
            } catch {
              /* the group has just ended */
            }
          }, 1);
        }
      };
      job.stdout.on('data', take);
      job.stderr.on('data', take);
      const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        job.once('exit', (c, s) => r([c, s])),
      );
      clearInterval(storm);
      assert.ok(storm, `the fake distill never started:\n${out}`);
      ends.push(`${status} ${signal} ${/distill: exit code (\S+)/.exec(out)?.[1]}`);
    }
    assert.deepEqual(
      ends,
      [0, 3, 0, 3, 0, 3, 0, 3, 0, 3, 0, 3].map((c) => `${c} null ${c}`),
    );
  });

  it('parses squeue, sacct and scontrol output and asks them in that order', async () => {
    const squeue =
      '1234_0|RUNNING|node07|None\n1234_1|PENDING||Resources\n1234_[2-3%2]|PENDING||JobArrayTaskLimit\n99|COMPLETING|node01|None\n';
    assert.deepEqual(parseSqueue(squeue)[1], {
      jobId: '1234_1',
      state: 'PENDING',
      node: undefined,
      reason: 'Resources',
      source: 'squeue',
    });
    const sacct = '1234_4|COMPLETED|node02|0:0\n1234_5|CANCELLED by 0|node03|0:15\n1234_6|FAILED|node04|1:0\n';
    assert.deepEqual(parseSacct(sacct)[1], {
      jobId: '1234_5',
      state: 'CANCELLED',
      node: 'node03',
      exitCode: '0:15',
      source: 'sacct',
    });
    const sc =
      'JobId=1240 ArrayJobId=1234 ArrayTaskId=7 JobName=distill-x UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 ExitCode=0:0 NodeList=node09 BatchHost=node09\n';
    assert.deepEqual(parseScontrolJob(sc)[0], {
      jobId: '1234_7',
      state: 'TIMEOUT',
      node: 'node09',
      reason: 'TimeLimit',
      exitCode: '0:0',
      source: 'scontrol',
    });
    const calls: string[] = [];
    const exec = async (cmd: string, args: string[]) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      if (cmd === 'squeue') return { status: 0, stdout: squeue, stderr: '' };
      if (cmd === 'sacct') return { status: 1, stdout: '', stderr: 'Slurm accounting storage is disabled' };
      return { status: 0, stdout: sc, stderr: '' };
    };
    const jobs = await queryJobs(['1234_0', '1234_1', '1234_7'], { exec });
    assert.deepEqual(
      [...jobs.values()].map((j) => `${j.jobId} ${j.state} ${j.node ?? '-'} ${j.source}`),
      ['1234_0 RUNNING node07 squeue', '1234_1 PENDING - squeue', '1234_7 TIMEOUT node09 scontrol'],
    );
    assert.deepEqual(calls, [
      'squeue -h -r -o %i|%T|%N|%r',
      'sacct -n -P -X -o JobID,State,NodeList,ExitCode -j 1234_7',
      'scontrol show job -o 1234',
    ]);
    // tasks of an array that never started share one record
    const never =
      'JobId=1300 ArrayJobId=1300 ArrayTaskId=2-3,5%2 JobName=x JobState=CANCELLED Reason=None ExitCode=0:0 NodeList=(null)\n';
    assert.deepEqual(
      parseScontrolJob(never).map((j) => `${j.jobId} ${j.state} ${j.node ?? '-'}`),
      ['1300_2 CANCELLED -', '1300_3 CANCELLED -', '1300_5 CANCELLED -'],
    );
    assert.deepEqual(expandArraySpec('0-6:3,9%4'), [0, 3, 6, 9]);
    // recorded on the test cluster: a one-task array cancelled while pending leaves only the array's own record
    const meta =
      'JobId=2 ArrayJobId=2 ArrayTaskId=4294967294 JobName=wrap UserId=root(0) JobState=CANCELLED Reason=Resources Requeue=1 Restarts=0 ExitCode=0:0 NodeList=(null)\n';
    const q2 = await queryJobs(['2_0'], {
      exec: async (cmd, args) =>
        cmd === 'scontrol' && args[3] === '2'
          ? { status: 0, stdout: meta, stderr: '' }
          : cmd === 'squeue'
            ? { status: 0, stdout: '', stderr: '' }
            : { status: 1, stdout: 'Job 2_0 not found', stderr: '' },
    });
    assert.equal(q2.get('2_0')?.state, 'CANCELLED');
  });
});
