/**
 * *.sweep.json: a family of runs — a base config, values at dotted config paths (grid and/or seeded random draws),
 * seeds — validated against THE sweep schema (sweep.schema.json, also the editor's contributes.jsonValidation),
 * expanded into variants whose configs are each validated like a *.distill.json (errors name the variant and field).
 * Also the sweep manifest (runs/<sweep>/sweep.json). Only fs/path (no tfjs, no child processes): the extension host,
 * the CLI and the launchers share it.
 */
import Ajv, { ErrorObject } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import schema from './sweep.schema.json';
import { ConfigError, parseConfigText, resolveConfig, ResolvedConfig } from './config';
import { Mulberry32 } from '../random/rng';
import { writeFileAtomic } from './run-folder';

export interface SlurmOptions {
  partition?: string;
  time?: string;
  gres?: string;
  cpusPerTask?: number;
  mem?: string;
  account?: string;
  qos?: string;
  signalSeconds?: number;
  extra?: string[];
}

type Distribution =
  | { uniform: [number, number] }
  | { logUniform: [number, number] }
  | { intUniform: [number, number] }
  | { choice: unknown[] };

export interface SweepSpec {
  name: string;
  base: string | Record<string, unknown>;
  grid?: Record<string, unknown[]>;
  random?: { count: number; seed?: number; params: Record<string, Distribution> };
  seeds?: number[];
  slurm?: SlurmOptions;
}

export interface Variant {
  index: number;
  /** Run folder name inside the sweep folder: the index and the varied values, e.g. 01-progressive.lr=0.001-seed=1 */
  name: string;
  /** The varied values, by dotted config path (seed included when the sweep lists seeds). */
  params: Record<string, unknown>;
  config: ResolvedConfig;
}

export interface LoadedSweep {
  file: string;
  spec: SweepSpec;
  /** Where the base config came from (absolute path), or 'inline'. */
  baseSource: string;
  variants: Variant[];
}

export class SweepError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`${file}: invalid sweep:\n  - ${errors.join('\n  - ')}`);
    this.name = 'SweepError';
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;
function schemaErrors(value: unknown): ErrorObject[] {
  if (!validator) validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/** JSON pointer → dotted field, keeping dotted grid keys readable: /grid/progressive.lr/0 → grid["progressive.lr"][0]. */
function fieldOf(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) {
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else if (p.includes('.')) out += `["${p}"]`;
    else out += out ? `.${p}` : p;
  }
  return out || '(top level)';
}

function describe(errors: ErrorObject[]): string[] {
  const out = new Set<string>();
  for (const e of errors) {
    const field = fieldOf(e.instancePath);
    const prefix = field === '(top level)' ? '' : field;
    const join = (k: string) => (prefix ? (k.includes('.') ? `${prefix}["${k}"]` : `${prefix}.${k}`) : k);
    switch (e.keyword) {
      case 'additionalProperties':
        out.add(`${join((e.params as { additionalProperty: string }).additionalProperty)}: unknown field`);
        break;
      case 'required':
        out.add(`${join((e.params as { missingProperty: string }).missingProperty)}: required field is missing`);
        break;
      case 'propertyNames':
        break; // reported by the pattern error below
      case 'pattern':
        if (e.schemaPath.includes('propertyNames')) {
          out.add(
            `${prefix}["${(e.params as { propertyName?: string }).propertyName ?? (e as unknown as { propertyName?: string }).propertyName ?? '?'}"]: expected a dotted config path such as "progressive.lr"`,
          );
        } else out.add(`${field}: must match ${(e.params as { pattern: string }).pattern}`);
        break;
      case 'oneOf':
        if (field === 'base') out.add('base: expected a path to a *.distill.json or an inline config object');
        break;
      case 'type':
        if (field === 'base') break; // the oneOf line says it
        out.add(`${field}: ${e.message}`);
        break;
      case 'minProperties':
      case 'maxProperties':
        if (/random\.params\./.test(field) || /random\.params\[/.test(field))
          out.add(`${field}: expected exactly one of uniform, logUniform, intUniform, choice`);
        else out.add(`${field}: ${e.message}`);
        break;
      default:
        out.add(`${field}: ${e.message}`);
    }
  }
  return [...out];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets a dotted path in a plain object, creating intermediate objects; refuses to descend into non-objects. */
export function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === undefined) cur[k] = {};
    if (!isObject(cur[k])) throw new Error(`${dotted}: "${k}" is not an object in the base config`);
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A folder-safe name showing the varied values. */
export function variantName(index: number, count: number, params: Record<string, unknown>): string {
  const idx = String(index).padStart(Math.max(2, String(count - 1).length), '0');
  const parts = Object.entries(params).map(([k, v]) => `${k}=${formatValue(v)}`);
  const name = [idx, ...parts].join('-').replace(/[^A-Za-z0-9._=,+-]/g, '_');
  return name.length > 120 ? name.slice(0, 120) : name;
}

function draw(d: Distribution, rng: Mulberry32): unknown {
  if ('uniform' in d) return rng.uniform(d.uniform[0], d.uniform[1]);
  if ('logUniform' in d) return Math.exp(rng.uniform(Math.log(d.logUniform[0]), Math.log(d.logUniform[1])));
  if ('intUniform' in d) return d.intUniform[0] + rng.int(d.intUniform[1] - d.intUniform[0] + 1);
  return d.choice[rng.int(d.choice.length)];
}

/** The varied values of every variant, in order: grid (first key slowest) × random draws × seeds (fastest). */
export function expandParams(spec: SweepSpec): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(spec.grid ?? {})) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  if (spec.random) {
    const rng = new Mulberry32(spec.random.seed ?? 0);
    const draws: Record<string, unknown>[] = [];
    for (let i = 0; i < spec.random.count; i++) {
      const d: Record<string, unknown> = {};
      for (const [key, dist] of Object.entries(spec.random.params)) d[key] = draw(dist, rng);
      draws.push(d);
    }
    combos = combos.flatMap((c) => draws.map((d) => ({ ...c, ...d })));
  }
  if (spec.seeds) combos = combos.flatMap((c) => spec.seeds!.map((s) => ({ ...c, seed: s })));
  return combos;
}

/** Validates a parsed sweep (schema, then every variant's config); `file` names it in errors. */
export function resolveSweep(value: unknown, file: string): LoadedSweep {
  if (!isObject(value)) throw new SweepError(file, ['(top level): expected a JSON object']);
  const errs = describe(schemaErrors(value));
  const spec = value as unknown as SweepSpec;
  if (!errs.length) {
    const gridKeys = Object.keys(spec.grid ?? {});
    for (const k of Object.keys(spec.random?.params ?? {}))
      if (gridKeys.includes(k)) errs.push(`random.params["${k}"]: also in grid; vary a path in one place only`);
    if (spec.seeds && (gridKeys.includes('seed') || spec.random?.params.seed))
      errs.push('seeds: "seed" is also varied in grid or random; use one of them');
    for (const [k, d] of Object.entries(spec.random?.params ?? {})) {
      const r = (d as Record<string, number[]>)[Object.keys(d)[0]];
      if (!('choice' in d) && r[1] < r[0])
        errs.push(`random.params["${k}"]: expected [low, high] with low ≤ high, got [${r.join(', ')}]`);
    }
  }
  if (errs.length) throw new SweepError(file, errs);

  let baseRaw: Record<string, unknown>;
  let baseDir = path.dirname(file);
  let baseSource = 'inline';
  if (typeof spec.base === 'string') {
    const baseFile = path.resolve(path.dirname(file), spec.base);
    if (!fs.existsSync(baseFile)) throw new SweepError(file, [`base: no such file ${baseFile}`]);
    const parsed = parseConfigText(fs.readFileSync(baseFile, 'utf8'), baseFile);
    if (!isObject(parsed)) throw new SweepError(file, [`base: ${baseFile} is not a JSON object`]);
    baseRaw = parsed;
    baseDir = path.dirname(baseFile);
    baseSource = baseFile;
  } else baseRaw = spec.base;

  const all = expandParams(spec);
  const variants: Variant[] = [];
  const problems: string[] = [];
  for (const [index, params] of all.entries()) {
    const raw = JSON.parse(JSON.stringify(baseRaw)) as Record<string, unknown>;
    delete raw.$schema;
    const name = variantName(index, all.length, params);
    try {
      for (const [k, v] of Object.entries(params)) setPath(raw, k, v);
      const config = resolveConfig(raw, { file: `${file} (variant ${name})`, baseDir });
      variants.push({ index, name, params, config });
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.errors.map((x) => `variant ${name}: ${x}`));
      else problems.push(`variant ${name}: ${(e as Error).message}`);
    }
  }
  if (problems.length)
    throw new SweepError(
      file,
      problems.slice(0, 20).concat(problems.length > 20 ? [`… and ${problems.length - 20} more`] : []),
    );
  return { file, spec, baseSource, variants };
}

export function loadSweepFile(file: string): LoadedSweep {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new SweepError(abs, ['(file): no such file']);
  let value: unknown;
  try {
    value = parseConfigText(fs.readFileSync(abs, 'utf8'), abs);
  } catch (e) {
    throw new SweepError(abs, (e as ConfigError).errors ?? [(e as Error).message]);
  }
  return resolveSweep(value, abs);
}

// ---------------------------------------------------------------------------------------------------------------
// The manifest: runs/<sweep>/sweep.json

export const SWEEP_MANIFEST = 'sweep.json';

export type Launcher = 'local' | 'slurm';

export interface ManifestVariant {
  index: number;
  name: string;
  /** Run folder, relative to the sweep folder (= name). */
  dir: string;
  params: Record<string, unknown>;
  /** Slurm job id of its latest submission ("<array job>_<index>"), if any. */
  jobId?: string;
  /** Last state a launcher saw (PENDING, RUNNING, COMPLETED, FAILED, … for Slurm; running/finished/… locally). */
  state?: string;
  node?: string;
  exitCode?: string;
}

export interface SweepManifest {
  version: 1;
  name: string;
  sweepFile: string;
  baseSource: string;
  createdAt: number;
  updatedAt: number;
  launcher: Launcher;
  /** running | finished | failed | stopped, as the launcher last saw the variants. */
  state?: string;
  /** Local launcher: processes at once (kept when the sweep is resumed). */
  maxParallel?: number;
  /** Every sbatch submission (array job id, script, which variants). */
  submissions: { jobId: string; script: string; variants: number[]; at: number }[];
  variants: ManifestVariant[];
}

export function readSweepManifest(sweepDir: string): SweepManifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(sweepDir, SWEEP_MANIFEST), 'utf8')) as SweepManifest;
    return m && m.version === 1 && Array.isArray(m.variants) ? m : undefined;
  } catch {
    return undefined;
  }
}

export function writeSweepManifest(sweepDir: string, m: SweepManifest): void {
  m.updatedAt = Date.now();
  writeFileAtomic(path.join(sweepDir, SWEEP_MANIFEST), JSON.stringify(m, null, 2) + '\n');
}

export function isSweepDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, SWEEP_MANIFEST));
}
