/**
 * `distill`: the command-line tool on the same engine and run folders as the extension. The commands are a table
 * (./commands.ts); this module dispatches to them and prints the overview, the version and usage errors.
 */
import { isHelpFlag, UnknownOptionError, UsageError } from './args';
import { columns, Command, commandHelp, defineCommand, optionLines, usageLines } from './command';
import { COMMANDS } from './commands';
import { VERSION } from './version';
import { EXIT_REQUEUE } from '../launcher/slurm';

const help = defineCommand({
  name: 'help',
  summary: "Show the overview of every command, or one command's options.",
  usage: 'distill help [COMMAND]',
  args: [{ name: 'COMMAND', help: 'the command to explain', optional: true }],
  options: {},
  async run({ positional: [name] }) {
    if (name === undefined) {
      console.log(overview());
      return 0;
    }
    console.log(commandHelp(find(name)));
    return 0;
  },
});

const version = defineCommand({
  name: 'version',
  summary: 'Print the version of Diffusion Distiller.',
  usage: 'distill version',
  args: [],
  options: {},
  async run() {
    console.log(VERSION);
    return 0;
  },
});

const ALL: readonly Command[] = [...COMMANDS, help, version];

/** An unknown command: its message already lists the commands. */
class UnknownCommandError extends UsageError {}

function find(name: string): Command {
  const cmd = ALL.find((c) => c.name === name);
  if (!cmd) throw new UnknownCommandError(`unknown command "${name}"\n\nCommands:\n${commandList().join('\n')}`);
  return cmd;
}

function commandList(): string[] {
  return columns(ALL.map((c) => [c.name, c.summary]));
}

/** `distill --help`: every command's synopsis (with its notes in brackets), then what holds for all of them. */
export function overview(): string {
  const lines = [
    'Diffusion Distiller — train a guided diffusion teacher and distil it into a few-step student.',
    '',
    'Usage:',
  ];
  for (const c of COMMANDS) {
    lines.push(...usageLines(c));
    if (c.notes) {
      const notes = c.notes.split('\n');
      notes.forEach((l, i) =>
        lines.push(`${' '.repeat(i ? 18 : 17)}${i ? '' : '('}${l}${i === notes.length - 1 ? ')' : ''}`),
      );
    }
  }
  lines.push(
    '  distill help [COMMAND]   (or distill COMMAND --help: its arguments and every option)',
    '  distill version          (or distill --version, -V)',
    '',
    'Ctrl-C during run/resume saves a checkpoint and exits 0; `distill resume` continues exactly there.',
    `On Slurm, SIGUSR1 (--signal) saves a checkpoint and exits ${EXIT_REQUEUE} so the batch script requeues the task.`,
    'Guidance weight w: x̂ = (1 + w)·x̂(c) − w·x̂(∅); w = 0 is the plain conditional model.',
  );
  return lines.join('\n');
}

/** The text under a usage error: the command's options for an unknown one, else its synopsis. */
function usageHint(cmd: Command | undefined, e: UsageError): string {
  if (!cmd || e instanceof UnknownCommandError) return '';
  if (e instanceof UnknownOptionError) return `\n\nOptions of distill ${cmd.name}:\n${optionLines(cmd).join('\n')}`;
  return `\n\nUsage:\n${usageLines(cmd).join('\n')}\n(distill ${cmd.name} --help: every option)`;
}

let current: Command | undefined;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.log(overview());
    return 2;
  }
  if (isHelpFlag(name)) current = help;
  else if (name === '--version' || name === '-V') current = version;
  else if (name.startsWith('-'))
    throw new UnknownCommandError(
      `unknown option ${name}; options before a command: -h, --help, -V, --version\n\nCommands:\n${commandList().join('\n')}`,
    );
  else current = find(name);
  return current.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) {
      console.error(`distill: ${e.message}${usageHint(current, e)}`);
      process.exit(2);
    }
    // The engine is loaded by now if the error came from it; a wasm trap is explained (usually the 4 GiB heap).
    import('../engine/backend/wasm/heap')
      .then(
        ({ explainWasmTrap }) => console.error(`distill: ${(explainWasmTrap(e) as Error).message}`),
        () => console.error(`distill: ${(e as Error).message}`),
      )
      .finally(() => process.exit(1));
  },
);
