/**
 * The Slurm launcher against a real one-node Slurm 22.05 cluster (started here as root in a temporary folder, ports
 * 6817/6818; .ci/run installs slurm-wlm and munge). Not skipped when Slurm is missing: the helper fails with a message.
 * A 2-variant sweep through sbatch; a task requeued mid-run (scontrol requeue, SIGUSR1 as before a time limit, and a
 * real preemption by a higher-tier partition) ends with exactly the losses of an uninterrupted run of the same seed;
 * scancel leaves a resumable run.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSweepManifest } from '../../src/engine/run/sweep';
import { describeRun, readEvents } from '../../src/engine/run/run-folder';
import { queryJobs } from '../../src/launcher/slurm';
import { runStatus, stopSlurmRun, sweepStatus } from '../../src/launcher/sweep';
import { startSlurmCluster, SlurmCluster } from '../helpers/slurm-cluster';
import {
  assertFinished,
  distill,
  ensureCli,
  finalLosses,
  lastLossStep,
  lossesByStep,
  waitFor,
  writeToySweep,
} from '../helpers/sweeps';
import { GAUSSIANS, toyConfig } from '../helpers/toy-config';

let cluster: SlurmCluster;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-slurm-test-'));
const runs = path.join(tmp, 'runs');

before(async () => {
  ensureCli();
  cluster = await startSlurmCluster();
  fs.writeFileSync(path.join(tmp, 'toy.distill.json'), JSON.stringify(toyConfig(GAUSSIANS)));
});

after(async () => {
  await cluster?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function jobState(jobId: string): Promise<string | undefined> {
  return (await queryJobs([jobId], { env: cluster.env })).get(jobId)?.state;
}

describe('Slurm launcher on a real one-node cluster', () => {
  it('a 2-variant sweep goes through sbatch as one job array and finishes with two valid runs; running it again starts nothing', async () => {
    const file = writeToySweep(tmp, 'lr');
    const r = distill(['sweep', file, '--runs-dir', runs, '--launcher', 'slurm', '--time', '10:00'], {
      cwd: tmp,
      env: cluster.env,
    });
    assert.equal(r.status, 0, `${r.out}\n${cluster.logs()}`);
    assert.match(r.out, /submitted job array (\d+) \(2 task\(s\)\)/);
    assert.match(r.out, /all 2 variant\(s\) finished/);
    const sweepDir = path.join(runs, 'lr');
    const m = readSweepManifest(sweepDir)!;
    assert.equal(m.launcher, 'slurm');
    assert.equal(m.state, 'finished');
    assert.equal(m.submissions.length, 1);
    const arrayId = m.submissions[0].jobId;
    assert.deepEqual(
      m.variants.map((v) => v.jobId),
      [`${arrayId}_0`, `${arrayId}_1`],
    );
    for (const v of m.variants) assertFinished(path.join(sweepDir, v.dir));
    const script = fs.readFileSync(path.join(sweepDir, m.submissions[0].script), 'utf8');
    assert.match(script, /#SBATCH --array=0-1\n/);
    assert.match(script, /#SBATCH --requeue/);
    assert.match(script, /#SBATCH --signal=B:USR1@120/);
    assert.match(script, /#SBATCH --time=10:00/);
    // Slurm's own record: both tasks COMPLETED on this node, exit 0
    const st = await sweepStatus(sweepDir, { env: cluster.env });
    assert.deepEqual(
      st.map((s) => [s.state, s.node, s.exitCode, s.run]),
      [
        ['COMPLETED', cluster.host, '0:0', 'finished'],
        ['COMPLETED', cluster.host, '0:0', 'finished'],
      ],
    );
    // different lr → different stage-2 losses; the same teacher (same seed)
    const [a, b] = m.variants.map((v) => finalLosses(path.join(sweepDir, v.dir)));
    assert.equal(a.teacher, b.teacher);
    assert.notEqual(a['progressive-4-2'], b['progressive-4-2']);
    const again = distill(['sweep', file, '--runs-dir', runs, '--launcher', 'slurm'], { cwd: tmp, env: cluster.env });
    assert.equal(again.status, 0, again.out);
    assert.match(again.out, /2 finished, 0 queued or running, starting 0/);
    assert.equal(readSweepManifest(sweepDir)!.submissions.length, 1, 'no second submission');
  });

  it('a task requeued mid-run three ways (scontrol requeue, SIGUSR1 before a "time limit", preemption) resumes and ends with the losses of an uninterrupted run', async () => {
    // a longer teacher than the other tests, so that three interruptions fit before the run ends
    fs.writeFileSync(
      path.join(tmp, 'long.distill.json'),
      JSON.stringify(toyConfig(GAUSSIANS, { teacher: { steps: 600 } })),
    );
    const ref = distill(['run', 'long.distill.json', '--runs-dir', runs, '--name', 'reference-long'], { cwd: tmp });
    assert.equal(ref.status, 0, ref.out);
    const r = distill(
      ['run', 'long.distill.json', '--runs-dir', runs, '--name', 'requeued', '--launcher', 'slurm', '--detach'],
      { cwd: tmp, env: cluster.env },
    );
    assert.equal(r.status, 0, r.out);
    const runDir = path.join(runs, 'requeued');
    const jobId = JSON.parse(fs.readFileSync(path.join(runDir, 'slurm.json'), 'utf8')).jobId as string;
    assert.match(jobId, /^\d+_0$/);
    const ends = () => readEvents(runDir).events.filter((e) => e.type === 'run_end').length;
    const trainedSince = (n: number) => () => {
      const ev = readEvents(runDir).events;
      let k = 0;
      let losses = 0;
      for (const e of ev) {
        if (e.type === 'run_end') k++;
        else if (e.type === 'loss' && k === n) losses++;
      }
      return losses >= 4;
    };
    // 1. scontrol requeue while the teacher trains: SIGTERM → checkpoint and exit 0; Slurm requeues the job
    await waitFor(() => lastLossStep(runDir, 'teacher') >= 60, 120_000, 'the teacher to reach step 60');
    assert.equal(cluster.run('scontrol', ['requeue', jobId]).status, 0);
    await waitFor(() => ends() === 1, 60_000, 'the requeued task to save and stop');
    assert.equal(describeRun(runDir).summary.status, 'stopped');
    assert.ok(lastLossStep(runDir, 'teacher') < 600, 'stopped mid-teacher');
    // 2. the time-limit warning (what --signal=B:USR1@S sends the batch shell): checkpoint, exit 75, self-requeue
    await waitFor(trainedSince(1), 120_000, 'the task to resume and train on');
    assert.equal(cluster.run('scancel', ['--signal=USR1', '--batch', jobId]).status, 0);
    await waitFor(() => ends() === 2, 60_000, 'the task to save and requeue itself');
    // 3. preemption: an exclusive job in the higher-tier partition takes the node; Slurm requeues ours (PreemptMode=REQUEUE)
    await waitFor(trainedSince(2), 120_000, 'the task to resume again');
    const urgent = cluster.run('sbatch', [
      '--parsable',
      '--partition=urgent',
      '--exclusive',
      `--output=${tmp}/urgent-%j.out`,
      '--wrap',
      'sleep 2',
    ]);
    assert.equal(urgent.status, 0, urgent.stderr);
    await waitFor(() => ends() === 3, 60_000, 'the preempted task to save and stop');
    await waitFor(
      () => describeRun(runDir).summary.status === 'finished',
      300_000,
      'the run to finish after three requeues',
      500,
    );
    await waitFor(async () => (await jobState(jobId)) === 'COMPLETED', 30_000, 'the job to complete');
    const log = fs.readFileSync(
      fs
        .readdirSync(path.join(runDir, 'slurm'))
        .filter((f) => f.endsWith('.out'))
        .map((f) => path.join(runDir, 'slurm', f))[0],
      'utf8',
    );
    assert.match(log, /restart 0\) on .*: run /);
    for (const k of [1, 2, 3]) assert.match(log, new RegExp(`restart ${k}\\) on .*: resume `));
    assert.match(log, /DUE TO JOB REQUEUE/);
    assert.match(log, /SIGUSR1 \(time limit near\)/);
    assert.match(log, /exit code 75/);
    assert.match(log, /DUE TO PREEMPTION/);
    const restarts = /Restarts=(\d+)/.exec(cluster.run('scontrol', ['show', 'job', jobId]).stdout)?.[1];
    assert.equal(restarts, '3');
    assertFinished(runDir);
    assert.deepEqual(finalLosses(runDir), finalLosses(path.join(runs, 'reference-long')));
    // and every logged step, not only the last ones
    const a = lossesByStep(runDir);
    const b = lossesByStep(path.join(runs, 'reference-long'));
    assert.equal(a.size, b.size);
    for (const [k, v] of b) assert.equal(a.get(k), v, k);
  });

  it('scancel saves a checkpoint and leaves a run that resumes to the same result', async () => {
    const ref = distill(['run', 'toy.distill.json', '--runs-dir', runs, '--name', 'reference'], { cwd: tmp });
    assert.equal(ref.status, 0, ref.out);
    const r = distill(
      ['run', 'toy.distill.json', '--runs-dir', runs, '--name', 'cancelled', '--launcher', 'slurm', '--detach'],
      { cwd: tmp, env: cluster.env },
    );
    assert.equal(r.status, 0, r.out);
    const runDir = path.join(runs, 'cancelled');
    const jobId = JSON.parse(fs.readFileSync(path.join(runDir, 'slurm.json'), 'utf8')).jobId as string;
    await waitFor(() => lastLossStep(runDir, 'teacher') >= 60, 120_000, 'the teacher to reach step 60');
    assert.equal(cluster.run('scancel', [jobId]).status, 0);
    await waitFor(async () => (await jobState(jobId)) === 'CANCELLED', 60_000, 'CANCELLED');
    await waitFor(() => describeRun(runDir).summary.status === 'stopped', 60_000, 'the run to be stopped');
    const s = await runStatus(runDir, { env: cluster.env });
    assert.equal(s.state, 'CANCELLED');
    assert.equal(s.run, 'stopped');
    assert.ok(describeRun(runDir).summary.units[0].checkpoints.length >= 1);
    assert.ok(!fs.existsSync(path.join(runDir, 'run.lock')), 'lock released');
    const res = distill(['resume', runDir], { cwd: tmp });
    assert.equal(res.status, 0, res.out);
    assertFinished(runDir);
    assert.deepEqual(finalLosses(runDir), finalLosses(path.join(runs, 'reference')));
  });

  it("Stop (the Runs view's, via the launcher): a stop request ends a running task with a checkpoint; a pending job is scancelled", async () => {
    const run = (name: string) => {
      const r = distill(
        [
          'run',
          'toy.distill.json',
          '--runs-dir',
          runs,
          '--name',
          name,
          '--launcher',
          'slurm',
          '--detach',
          '--cpus-per-task',
          String(os.cpus().length),
        ],
        { cwd: tmp, env: cluster.env },
      );
      assert.equal(r.status, 0, r.out);
      const dir = path.join(runs, name);
      return { dir, jobId: JSON.parse(fs.readFileSync(path.join(dir, 'slurm.json'), 'utf8')).jobId as string };
    };
    // the first takes every CPU of the node, so the second waits in the queue
    const a = run('stop-running');
    const b = run('stop-pending');
    await waitFor(() => lastLossStep(a.dir, 'teacher') >= 30, 120_000, 'the first run to train');
    assert.equal(await jobState(b.jobId), 'PENDING');
    assert.equal(await stopSlurmRun(b.dir, b.jobId, { runner: { env: cluster.env }, pollMs: 500 }), 'cancelled');
    assert.equal(await stopSlurmRun(a.dir, a.jobId, { runner: { env: cluster.env }, pollMs: 500 }), 'stopped');
    assert.equal(describeRun(a.dir).summary.status, 'stopped');
    assert.ok(describeRun(a.dir).summary.units[0].checkpoints.length >= 1);
    await waitFor(async () => (await jobState(a.jobId)) === 'COMPLETED', 30_000, "the stopped task's job to complete");
    await waitFor(async () => (await jobState(b.jobId)) === 'CANCELLED', 30_000, 'the pending job to be cancelled');
    assert.equal(describeRun(b.dir).summary.status, 'new', 'the cancelled job never started its run');
  });
});
