/**
 * A command of the `distill` tool: its name, a one-line summary, its usage text, its positional arguments and typed
 * options, and the handler that receives them parsed. `defineCommand` keeps the handler's option types and gives the
 * dispatcher a uniform entry; the help texts are made from the same declarations.
 */
import { ArgSpec, HELP, OptionSpecs, Parsed, parseArgs } from './args';

export interface CommandSpec<O extends OptionSpecs> {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The synopsis: `distill NAME ARGS [--flag …]`, continuation lines indented to sit under the arguments. */
  usage: string;
  /** More about the command, one sentence or two: under the summary in its help, in brackets in the overview. */
  notes?: string;
  args: readonly ArgSpec[];
  options: O;
  run(a: Parsed<O>): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  notes?: string;
  args: readonly ArgSpec[];
  options: OptionSpecs;
  /** Parses argv (the words after the command's name) and runs the handler; `--help` prints the help instead. */
  run(argv: string[]): Promise<number>;
}

export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const cmd: Command = {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    notes: spec.notes,
    args: spec.args,
    options: spec.options,
    run: async (argv) => {
      const parsed = parseArgs(argv, spec.args, spec.options);
      if (parsed === HELP) {
        console.log(commandHelp(cmd));
        return 0;
      }
      return spec.run(parsed);
    },
  };
  return cmd;
}

/** Two columns: names padded to the widest, then the text. */
export function columns(rows: [string, string][], indent = '  '): string[] {
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`.trimEnd());
}

/** The options of a command as help lines, `-h, --help` last. */
export function optionLines(cmd: Command): string[] {
  const rows: [string, string][] = Object.entries(cmd.options).map(([name, o]) => [
    `--${name}${o.value ? ` ${o.value}` : ''}`,
    o.required ? `${o.help} (required)` : o.help,
  ]);
  rows.push(['-h, --help', 'show this help']);
  return columns(rows);
}

/** A command's synopsis as printed under "Usage:", each line indented by two spaces. */
export function usageLines(cmd: Command): string[] {
  return cmd.usage.split('\n').map((l) => `  ${l}`);
}

/** `distill NAME --help`: the synopsis, what it does, its arguments and every option. */
export function commandHelp(cmd: Command): string {
  const lines = ['Usage:', ...usageLines(cmd), '', cmd.summary];
  if (cmd.notes) lines.push(...cmd.notes.split('\n'));
  if (cmd.args.length)
    lines.push(
      '',
      'Arguments:',
      ...columns(cmd.args.map((a) => [a.name, a.optional ? `${a.help} (optional)` : a.help])),
    );
  lines.push('', 'Options:', ...optionLines(cmd));
  return lines.join('\n');
}
