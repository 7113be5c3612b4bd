/**
 * The Runs view with sweeps and Slurm jobs (no VS Code): a sweep folder is the parent of its runs, each run shows the
 * state and node of its job as a recorded `squeue` output reports them, and its context value enables Stop/Cancel.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { createRunFolder } from '../../src/engine/run/create-run';
import { resolveSweep, writeSweepManifest } from '../../src/engine/run/sweep';
import { parseSqueue, parseScontrolJob, writeRunSlurm } from '../../src/launcher/slurm';
import { buildRunTree } from '../../src/extension/model/build-run-tree';
import { knownJobIds } from '../../src/extension/model/sweeps';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';

// `squeue -h -r -o '%i|%T|%N|%r'` recorded on the one-node test cluster while a 4-task array ran with %2
const SQUEUE = [
  '4_0|RUNNING|vm|None',
  '4_1|RUNNING|vm|None',
  '4_2|PENDING||JobArrayTaskLimit',
  '4_3|PENDING||JobArrayTaskLimit',
  '',
].join('\n');
// `scontrol show job -o` of a task that had already ended (no accounting storage on that cluster)
const SCONTROL =
  'JobId=9 ArrayJobId=8 ArrayTaskId=0 JobName=distill-solo UserId=root(0) GroupId=root(0) JobState=CANCELLED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=0:15 NodeList=vm BatchHost=vm';

test('sweeps are parents of their runs, with Slurm state and node per run from squeue', () => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-tree-'));
  const sweep = resolveSweep(
    { name: 'lr', base: toyConfig(GAUSSIANS), grid: { 'progressive.lr': [1e-4, 3e-4, 1e-3, 3e-3] } },
    path.join(runs, 'lr.sweep.json'),
  );
  const sweepDir = path.join(runs, 'lr');
  for (const v of sweep.variants) {
    createRunFolder(path.join(sweepDir, v.name), v.config, sweep.file);
    writeRunSlurm(path.join(sweepDir, v.name), { jobId: `4_${v.index}`, script: 'x.sbatch', submittedAt: 0 });
  }
  writeSweepManifest(sweepDir, {
    version: 1,
    name: 'lr',
    sweepFile: sweep.file,
    baseSource: 'inline',
    createdAt: 0,
    updatedAt: 0,
    launcher: 'slurm',
    submissions: [{ jobId: '4', script: 'slurm/submit.sbatch', variants: [0, 1, 2, 3], at: 0 }],
    variants: sweep.variants.map((v) => ({
      index: v.index,
      name: v.name,
      dir: v.name,
      params: v.params,
      jobId: `4_${v.index}`,
    })),
  });
  // a single run submitted with `distill run --launcher slurm`, already cancelled
  const solo = createRunFolder(path.join(runs, 'solo'), sweep.variants[0].config);
  writeRunSlurm(solo, { jobId: '8_0', script: 'y.sbatch', submittedAt: 0 });
  fs.writeFileSync(
    path.join(solo, 'events.jsonl'),
    [
      { type: 'run_start', t: 1, pid: 1, host: 'elsewhere', resumed: false, configHash: 'h' },
      { type: 'run_end', t: 2, status: 'stopped' },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n') + '\n',
  );

  assert.deepEqual(knownJobIds(runs).sort(), ['4_0', '4_1', '4_2', '4_3', '8_0']);
  const jobs = new Map([...parseSqueue(SQUEUE), ...parseScontrolJob(SCONTROL)].map((j) => [j.jobId, j]));
  const tree = buildRunTree(runs, { jobs });
  assert.equal(tree.length, 2);
  const [s, r] = tree;
  assert.equal(s.kind, 'sweep');
  assert.equal(s.label, 'lr');
  assert.equal(s.contextValue, 'sweep.active');
  assert.equal(s.description, 'slurm · 4 runs · 2 running, 2 pending');
  assert.equal(s.command?.command, 'distill.compareSweep');
  assert.deepEqual(
    s.children.map((c) => c.label),
    sweep.variants.map((v) => v.name),
  );
  assert.deepEqual(
    s.children.map((c) => c.description),
    [
      'RUNNING on vm · new',
      'RUNNING on vm · new',
      'PENDING (JobArrayTaskLimit) · new',
      'PENDING (JobArrayTaskLimit) · new',
    ],
  );
  assert.deepEqual(
    s.children.map((c) => c.icon),
    ['sync~spin', 'sync~spin', 'watch', 'watch'],
  );
  assert.deepEqual(
    s.children.map((c) => c.contextValue),
    ['run.new.slurm', 'run.new.slurm', 'run.new.slurm', 'run.new.slurm'],
  );
  assert.match(s.children[2].tooltip, /Slurm job 4_2: PENDING \(JobArrayTaskLimit\)/);
  assert.match(s.children[2].tooltip, /progressive\.lr = 0\.001/);
  // the ended job: Slurm's CANCELLED and node, and a run that can be resumed (no .slurm suffix)
  assert.equal(r.label, 'solo');
  assert.equal(r.description, 'CANCELLED on vm · stopped');
  assert.equal(r.contextValue, 'run.stopped');
  assert.equal(r.icon, 'circle-slash');
  assert.match(r.tooltip, /Slurm job 8_0: CANCELLED on vm, exit 0:15/);

  // the package.json menus that these context values enable
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const menus = pkg.contributes.menus['view/item/context'] as { command: string; when: string }[];
  const enabled = (command: string, ctx: string) =>
    menus.some((m) => {
      if (m.command !== command) return false;
      const re = /viewItem =~ \/(.*)\/$/.exec(m.when);
      return re ? new RegExp(re[1]).test(ctx) : m.when.includes(`viewItem == ${ctx}`);
    });
  assert.ok(enabled('distill.stopRun', 'run.new.slurm'));
  assert.ok(enabled('distill.cancelJob', 'run.new.slurm'));
  assert.ok(enabled('distill.cancelJob', 'sweep.active'));
  assert.ok(enabled('distill.stopSweep', 'sweep.active'));
  assert.ok(!enabled('distill.resumeRun', 'run.new.slurm'), 'a queued run is not resumed twice');
  assert.ok(enabled('distill.resumeRun', 'run.stopped'));
  assert.ok(enabled('distill.stopRun', 'run.running'));
  fs.rmSync(runs, { recursive: true, force: true });
});
