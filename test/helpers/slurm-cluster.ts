/**
 * A real one-node Slurm cluster for tests (Debian's slurm-wlm 22.05 + munge), started as root in a temporary state
 * folder: its own munge key and socket, slurm.conf, state and spool folders, logs. Clients reach it through the
 * SLURM_CONF environment variable that `env` carries. stop() ends the three daemons it started, by pid, and removes
 * the folder. Not a test file itself. Fails with a clear message (never skips) when Slurm or munge is missing.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SlurmCluster {
  dir: string;
  conf: string;
  host: string;
  partition: string;
  /** Environment for client commands (sbatch, squeue, …) and for `distill` runs that talk to this cluster. */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm client command against this cluster. */
  run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string };
  logs(): string;
  stop(): Promise<void>;
}

const REQUIRED = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel'];

function which(cmd: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    const f = path.join(dir, cmd);
    if (dir && fs.existsSync(f)) return f;
  }
  return undefined;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Ports 6817/6818 (Slurm's defaults); DISTILL_SLURM_TEST_PORTS=A,B moves a second cluster on the same machine aside. */
function defaultPorts(): [number, number] {
  const env = (process.env.DISTILL_SLURM_TEST_PORTS ?? '').split(',').map(Number);
  return env.length === 2 && env.every((p) => Number.isInteger(p) && p > 1024 && p < 65536)
    ? [env[0], env[1]]
    : [6817, 6818];
}

export async function startSlurmCluster({ ports = defaultPorts(), timeoutMs = 30_000 } = {}): Promise<SlurmCluster> {
  const missing = REQUIRED.filter((c) => !which(c));
  if (missing.length) {
    throw new Error(
      `Slurm tests need Debian's slurm-wlm and munge (missing: ${missing.join(', ')}). ` +
        `Install them: apt-get install -y slurm-wlm munge (.ci/run does).`,
    );
  }
  if (process.getuid?.() !== 0) throw new Error('Slurm tests start a one-node cluster and need root (as in CI).');
  const munge = spawnSync('id', ['-u', 'munge'], { encoding: 'utf8' });
  if (munge.status !== 0) throw new Error('Slurm tests need the "munge" user (apt-get install munge creates it).');
  const mungeUid = Number(munge.stdout.trim());
  const mungeGid = Number(spawnSync('id', ['-g', 'munge'], { encoding: 'utf8' }).stdout.trim());

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-slurm-'));
  fs.chmodSync(dir, 0o755);
  const mdir = path.join(dir, 'munge');
  fs.mkdirSync(mdir, { mode: 0o700 });
  const key = path.join(mdir, 'munge.key');
  fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o400 });
  fs.chownSync(mdir, mungeUid, mungeGid);
  fs.chownSync(key, mungeUid, mungeGid);
  // munged wants the socket's folder searchable by everyone (clients), the key's folder private
  const sdir = path.join(dir, 'munge-run');
  fs.mkdirSync(sdir, { mode: 0o755 });
  fs.chownSync(sdir, mungeUid, mungeGid);
  const socket = path.join(sdir, 'munge.socket.2');
  for (const d of ['state', 'spool']) fs.mkdirSync(path.join(dir, d));

  const host = os.hostname().split('.')[0];
  const cpus = os.cpus().length;
  const memMb = Math.floor(os.totalmem() / 2 ** 20) - 1024;
  const partition = 'debug';
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=distilltest',
      `SlurmctldHost=${host}`,
      `SlurmctldPort=${ports[0]}`,
      `SlurmdPort=${ports[1]}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      // cred_expire is also the least time a requeued job waits before it may start again (default 120 s)
      `AuthInfo=socket=${socket},cred_expire=5`,
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SchedulerType=sched/backfill',
      // tests: schedule (and restart requeued jobs) within a second or two instead of the default 30–60 s cycles
      'SchedulerParameters=sched_interval=1,bf_interval=1',
      'MpiDefault=none',
      'ReturnToService=2',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MinJobAge=3600',
      'KillWait=30',
      'SlurmctldTimeout=30',
      'SlurmdTimeout=60',
      `NodeName=${host} CPUs=${cpus} RealMemory=${memMb} State=UNKNOWN`,
      // preemption as many clusters run it: jobs of the higher-tier partition requeue those of the lower one
      'PreemptType=preempt/partition_prio',
      'PreemptMode=REQUEUE',
      `PartitionName=${partition} Nodes=${host} Default=YES MaxTime=INFINITE State=UP PriorityTier=1`,
      `PartitionName=urgent Nodes=${host} MaxTime=INFINITE State=UP PriorityTier=2`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf };
  const procs: ChildProcess[] = [];
  const out = fs.openSync(path.join(dir, 'daemons.out'), 'a');
  const start = (cmd: string, args: string[], extra: { uid?: number; gid?: number } = {}) => {
    const child = spawn(which(cmd)!, args, { env, stdio: ['ignore', out, out], ...extra });
    procs.push(child);
    return child;
  };
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const logs = () =>
    ['daemons.out', 'slurmctld.log', 'slurmd.log', 'munge/munged.log']
      .map((f) => {
        try {
          return `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-40).join('\n')}`;
        } catch {
          return '';
        }
      })
      .join('\n');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // jobs first (their processes belong to slurmd's steps), then the daemons we started, newest first
    run('scancel', ['--full', '--user=root']);
    for (const child of [...procs].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      if (!(await waitExit(child, 10_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }
    fs.closeSync(out);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    start(
      'munged',
      [
        '-F',
        `--socket=${socket}`,
        `--key-file=${key}`,
        `--pid-file=${sdir}/munged.pid`,
        `--log-file=${mdir}/munged.log`,
        `--seed-file=${mdir}/munged.seed`,
      ],
      {
        uid: mungeUid,
        gid: mungeGid,
      },
    );
    await waitFor(() => fs.existsSync(socket), timeoutMs, 'munged socket');
    start('slurmctld', ['-D', '-f', conf]);
    await waitFor(() => run('scontrol', ['ping']).stdout.includes('UP'), timeoutMs, 'slurmctld');
    start('slurmd', ['-D', '-f', conf]);
    await waitFor(
      () => /State=(IDLE|MIXED|ALLOCATED)/.test(run('scontrol', ['show', 'node', host]).stdout),
      timeoutMs,
      'slurmd (node idle)',
    );
  } catch (e) {
    const text = logs();
    await stop();
    throw new Error(`${(e as Error).message}\n${text}`);
  }
  return { dir, conf, host, partition, env, run, logs, stop };

  async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (!cond()) {
      for (const p of procs)
        if (p.exitCode !== null)
          throw new Error(`one-node Slurm cluster: ${p.spawnfile} exited with ${p.exitCode} while waiting for ${what}`);
      if (Date.now() - t0 > ms) throw new Error(`one-node Slurm cluster: ${what} not up after ${ms / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
