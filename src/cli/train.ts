/**
 * Training a run folder in this process (`distill run` / `distill resume` on the local launcher): progress lines,
 * the final table, and the signals — Ctrl-C and SIGTERM save a checkpoint and stop; SIGUSR1 (Slurm's warning before
 * the time limit) saves and exits with the code that asks the batch script to requeue the task.
 */
import * as path from 'path';
import type { BackendChoice } from '../engine/backend/select';
import type { RunEvent, SummaryReal, SummaryRow } from '../engine/run/events';
import { EXIT_REQUEUE } from '../launcher/slurm';
import { engine, ensureRunData, wasmDir } from './engine';
import { formatDuration, ProgressPrinter } from './progress';
import { releaseSignals } from './signals';
import { formatSummary } from './summary';

export async function train(runDir: string, opts: { backend?: BackendChoice; threads?: number }): Promise<number> {
  const { runStages } = await engine();
  await ensureRunData(runDir);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nStopping: saving a checkpoint (Ctrl-C again to quit without saving)…\n');
      controller.abort();
    } else {
      process.stderr.write('Quit without saving the current step; the last checkpoint is kept.\n');
      process.exit(130);
    }
  };
  // SIGTERM (kill, scancel, Slurm preemption — often sent more than once) always means "save and stop"
  const onSigterm = () => {
    if (controller.signal.aborted) return;
    process.stderr.write('\nSIGTERM: saving a checkpoint and stopping…\n');
    controller.abort();
  };
  // SIGUSR1: Slurm's warning before the time limit (sbatch --signal): save, stop, and ask the batch script to requeue
  let requeue = false;
  const onSigusr1 = () => {
    requeue = true;
    if (controller.signal.aborted) return;
    process.stderr.write('\nSIGUSR1: saving a checkpoint; the task will be requeued…\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGUSR1', onSigusr1);
  const progress = new ProgressPrinter(process.stdout);
  let summary: { rows: SummaryRow[]; real?: SummaryReal } = { rows: [] };
  console.log(`run folder: ${runDir}`);
  try {
    const status = await runStages({
      runDir,
      backend: opts.backend,
      threads: opts.threads,
      wasmDir: wasmDir(),
      signal: controller.signal,
      onLog: (line) => progress.log(line),
      onEvent: (e: RunEvent) => {
        progress.event(e);
        if (e.type === 'summary') summary = e;
      },
    });
    progress.finish();
    if (status === 'stopped') {
      console.log(`Stopped and saved. Continue with: distill resume ${path.relative(process.cwd(), runDir) || '.'}`);
      return requeue ? EXIT_REQUEUE : 0;
    }
    for (const line of formatSummary(summary.rows, summary.real)) console.log(line);
    console.log(`\nFinished in ${formatDuration(progress.elapsedSeconds())}. Samples: ${path.join(runDir, 'samples')}`);
    return 0;
  } catch (e) {
    progress.finish();
    console.error(`\nerror: ${(e as Error).message}`);
    console.error(
      `Checkpoints written so far are kept in ${path.join(runDir, 'checkpoints')}; fix the cause and run: distill resume ${runDir}`,
    );
    return 1;
  } finally {
    releaseSignals({ SIGINT: onSigint, SIGTERM: onSigterm, SIGUSR1: onSigusr1 });
  }
}
