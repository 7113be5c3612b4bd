/**
 * The CLI's argument parser: each command declares its positional arguments and its options (with how each value is
 * read and validated); `parseArgs` turns argv into typed values. Options are `--flag value` or `--flag=value`;
 * switches take no value; `-h` / `--help` anywhere asks for the command's help. Unknown options and bad values are usage
 * errors that name the flag and what was expected.
 */
import { BACKENDS, BackendChoice } from '../engine/backend/choices';

export class UsageError extends Error {}

/** Thrown by an unknown option: the command prints its option list under the message. */
export class UnknownOptionError extends UsageError {}

/** One option of a command: how its value is read, and how the help shows it. */
export interface OptionSpec<T> {
  /** The value's placeholder in the help (`DIR`); absent for a switch, which takes no value. */
  value?: string;
  /** One line for the help. */
  help: string;
  /** Turns the text given after the flag into the value; throws a UsageError naming the flag and what was expected. */
  parse: (raw: string, flag: string) => T;
  /** Set when the option must be given (non-empty): the text says what it is, for "--flag: required (…)". */
  required?: string;
}

export type OptionSpecs = Record<string, OptionSpec<unknown>>;

/** An option the command cannot do without: parsing fails with "--flag: required (…)" when it is missing or blank. */
export type RequiredOption<T> = OptionSpec<T> & { required: string };

export function required<T>(spec: OptionSpec<T>, what: string): RequiredOption<T> {
  return { ...spec, required: what };
}

type ValueOf<S> = S extends OptionSpec<infer T> ? T : never;
type RequiredKeys<O> = { [K in keyof O]: O[K] extends { required: string } ? K : never }[keyof O];

/** The parsed values of a command's options, each typed by its spec: required ones always there, others optional. */
export type OptionValues<O extends OptionSpecs> = { [K in RequiredKeys<O>]: ValueOf<O[K]> } & {
  [K in Exclude<keyof O, RequiredKeys<O>>]?: ValueOf<O[K]>;
};

/** A positional argument, for the help and for the argument count. */
export interface ArgSpec {
  name: string;
  help: string;
  optional?: boolean;
}

export interface Parsed<O extends OptionSpecs> {
  positional: string[];
  options: OptionValues<O>;
}

/** What `parseArgs` returns when the arguments ask for the command's help. */
export const HELP = Symbol('help');

export function isHelpFlag(arg: string): boolean {
  return arg === '--help' || arg === '-h';
}

export function parseArgs<O extends OptionSpecs>(
  argv: string[],
  args: readonly ArgSpec[],
  specs: O,
): Parsed<O> | typeof HELP {
  const minPos = args.filter((a) => !a.optional).length;
  const maxPos = args.length;
  const positional: string[] = [];
  const options: Record<string, unknown> = {};
  // asking for the help wins over anything else on the line, errors included
  if (argv.some(isHelpFlag)) return HELP;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UnknownOptionError(`unknown option --${name}`);
    if (spec.value === undefined) {
      if (eq >= 0) throw new UsageError(`--${name}: takes no value, got "${a.slice(eq + 1)}"`);
      options[name] = spec.parse('', `--${name}`);
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`--${name}: missing value`);
    if (spec.required !== undefined && raw === '') throw new UsageError(`--${name}: required (${spec.required})`);
    options[name] = spec.parse(raw, `--${name}`);
  }
  if (positional.length < minPos || positional.length > maxPos) {
    throw new UsageError(
      `expected ${minPos === maxPos ? minPos : `${minPos} to ${maxPos}`} argument(s), got ${positional.length}`,
    );
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required !== undefined && options[name] === undefined)
      throw new UsageError(`--${name}: required (${spec.required})`);
  }
  return { positional, options: options as OptionValues<O> };
}

// ───────────────────────────── option kinds ─────────────────────────────

/** A text value taken as given. */
export function text(value: string, help: string): OptionSpec<string> {
  return { value, help, parse: (raw) => raw };
}

/** A switch: present or not. */
export function flag(help: string): OptionSpec<true> {
  return { help, parse: () => true };
}

/** One of a fixed list of words; `expected` is the error's wording of the list (e.g. "ddim or stochastic"). */
export function oneOf<T extends string>(
  values: readonly T[],
  value: string,
  help: string,
  expected: string,
  opts: { echo?: boolean } = {},
): OptionSpec<T> {
  return {
    value,
    help,
    parse: (raw, f) => {
      if (!(values as readonly string[]).includes(raw))
        throw new UsageError(`${f}: expected ${expected}${opts.echo ? `, got "${raw}"` : ''}`);
      return raw as T;
    },
  };
}

/**
 * A number accepted by `ok`; the error says `expected <what>` (and echoes the value unless `echo` is false).
 * Blank text is never a number.
 */
export function number(
  value: string,
  help: string,
  what: string,
  ok: (n: number) => boolean,
  opts: { echo?: boolean } = {},
): OptionSpec<number> {
  return {
    value,
    help,
    parse: (raw, f) => {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || !ok(n))
        throw new UsageError(`${f}: expected ${what}${opts.echo === false ? '' : `, got "${raw}"`}`);
      return n;
    },
  };
}

export const isInteger = (n: number): boolean => Number.isInteger(n);
export const isPositiveInteger = (n: number): boolean => Number.isInteger(n) && n >= 1;

/** A comma-separated list of non-negative numbers (integers with `integer`). */
export function numberList(value: string, help: string, opts: { integer?: boolean } = {}): OptionSpec<number[]> {
  return {
    value,
    help,
    parse: (raw, f) => {
      const out = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number);
      if (!out.length || out.some((n) => !Number.isFinite(n) || n < 0 || (opts.integer && !Number.isInteger(n)))) {
        throw new UsageError(
          `${f}: expected a comma-separated list of ${opts.integer ? 'non-negative integers' : 'non-negative numbers'}, got "${raw}"`,
        );
      }
      return out;
    },
  };
}

// ───────────────────────────── options shared by several commands ─────────────────────────────

function isBackend(name: string): name is BackendChoice {
  return (BACKENDS as readonly string[]).includes(name);
}

export const backendOption: OptionSpec<BackendChoice> = {
  value: 'B',
  help: `${BACKENDS.join(', ')} (default: the run's config)`,
  parse: (raw, f) => {
    if (!isBackend(raw)) throw new UsageError(`${f}: expected ${BACKENDS.join(', ')}, got "${raw}"`);
    return raw;
  },
};

export const threadsOption = number(
  'N',
  "CPU threads (default: the run's config; 0 = one per core)",
  'a non-negative integer',
  (n) => Number.isInteger(n) && n >= 0,
);

/** --backend and --threads: where a command computes. */
export const DEVICE_OPTIONS = { backend: backendOption, threads: threadsOption };
