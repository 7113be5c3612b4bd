/**
 * After a command has stopped and saved, a repeated SIGTERM or SIGUSR1 (Slurm sends them more than once, so do kill
 * loops) can still arrive before the process has exited. Without a listener Node restores the default action and the
 * process dies by the signal, which turns "saved, exit 0" (or the requeue exit code) into a failure. A quiet listener
 * therefore stays installed until the process exits.
 *
 * The order matters: Node puts a signal back to its default action (die) the moment its last listener is removed, and
 * installs its handler again only when a listener is added. Removing the command's listeners first and adding the
 * quiet ones after leaves a moment in which a SIGTERM kills the process although the checkpoint is already saved.
 */
type SignalListener = (signal: NodeJS.Signals) => void;

const LATE = ['SIGTERM', 'SIGUSR1'] as const;

/**
 * Ends a command's own signal handling: installs the quiet SIGTERM and SIGUSR1 listeners, then removes `listeners`.
 * SIGINT gets no quiet listener, so a Ctrl-C after the command has returned still ends the process at once.
 */
export function releaseSignals(listeners: Partial<Record<NodeJS.Signals, SignalListener>>): void {
  for (const s of LATE) if (!process.listeners(s).includes(ignore)) process.on(s, ignore);
  for (const [s, listener] of Object.entries(listeners) as [NodeJS.Signals, SignalListener][]) process.off(s, listener);
}

function ignore(): void {
  /* the command has already stopped; the process exits with its own code */
}
