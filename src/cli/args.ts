import { BACKENDS, isBackendChoice } from '../engine/backend/choices';
/** A tiny strict argument parser: `--flag value` or `--flag=value`; unknown flags are errors. */
export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  flags: Record<string, string | undefined>;
  backend?: string;
  threads?: number;
}

export function parseArgs(argv: string[], spec: { positional: number | [number, number]; flags: string[]; booleans?: string[] }): Parsed {
  const [minPos, maxPos] = typeof spec.positional === 'number' ? [spec.positional, spec.positional] : spec.positional;
  const positional: string[] = [];
  const flags: Record<string, string | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (spec.booleans?.includes(name) && eq < 0) {
        flags[name] = 'true';
        continue;
      }
      if (!spec.flags.includes(name)) throw new UsageError(`unknown option --${name}`);
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name}: missing value`);
      flags[name] = value;
    } else positional.push(a);
  }
  if (positional.length < minPos || positional.length > maxPos) {
    throw new UsageError(`expected ${minPos === maxPos ? minPos : `${minPos} to ${maxPos}`} argument(s), got ${positional.length}`);
  }
  const backend = flags.backend;
  if (backend !== undefined && !isBackendChoice(backend)) {
    throw new UsageError(`--backend: expected ${BACKENDS.join(', ')}, got "${backend}"`);
  }
  let threads: number | undefined;
  if (flags.threads !== undefined) {
    threads = Number(flags.threads);
    if (!Number.isInteger(threads) || threads < 0) throw new UsageError(`--threads: expected a non-negative integer, got "${flags.threads}"`);
  }
  return { positional, flags, backend, threads };
}
