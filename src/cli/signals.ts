/**
 * After a command has stopped and saved, a repeated SIGTERM or SIGUSR1 (Slurm sends them more than once, so do kill
 * loops) can still arrive before the process has exited. Without a listener Node restores the default action and the
 * process dies by the signal, which turns "saved, exit 0" (or the requeue exit code) into a failure. This keeps a quiet
 * listener installed until the process exits.
 */
export function ignoreLateSignals(): void {
  for (const s of ['SIGTERM', 'SIGUSR1'] as const) if (!process.listeners(s).includes(ignore)) process.on(s, ignore);
}

function ignore(): void {
  /* the command has already stopped; the process exits with its own code */
}
