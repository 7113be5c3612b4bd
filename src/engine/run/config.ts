/**
 * *.distill.json: parsing (JSON with comments), validation against THE schema (config.schema.json, also used by the
 * editor through contributes.jsonValidation), defaults (read from that schema, where each is written once), path
 * resolution, and the config hash that ties a run folder to its config. Errors name the field and what was expected.
 * No tfjs here: the extension host uses it to validate before starting a worker.
 */
import Ajv, { ErrorObject } from 'ajv';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import schema from './config.schema.json';
import type { BackendChoice } from '../backend/choices';
import type { DataConfig } from '../data';
import { EMOJI_DEFAULT_CATEGORIES, EMOJI_DEFAULTS } from '../data/emoji-meta';
import { MIXTURE_DEFAULT_COMPONENTS } from '../data/mixture';
import type { ModelConfig } from '../nn/net';
import { W_FREQ_MAX_LEGACY } from '../nn/w-embedding';
import type { DistillMethod, StageName } from './events';

export interface StageConfig {
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  anneal: boolean;
  clip: number;
  ema: number;
}

/** The teacher: trained on the data, or the exact optimal denoiser of mixture data (method/exact-teacher.ts). */
export interface TeacherConfig extends StageConfig {
  kind: 'trained' | 'exact';
}

export interface ProgressiveConfig extends StageConfig {
  n0: number;
  targetSteps: number;
}

/** The `consistency` section (methods includes "consistency"): one student per entry of studentSteps. */
export interface ConsistencyConfig extends StageConfig {
  /** The students' sampling steps, largest first. */
  studentSteps: number[];
  /** The stage-1 student's DDIM steps over [0, 1]: the fine grid the consistency target steps on. */
  teacherSteps: number;
}

/** The `autoencoder` section (model.space "latent"): the first unit, whose encoder defines the diffusion units' space. */
export interface AutoencoderConfig extends StageConfig {
  /** Spatial downsampling factor (a power of two): H×W×C images → (H/f)×(W/f)×latentChannels latents. */
  factor: number;
  latentChannels: number;
  /** Widths of the encoder's resolution levels (full size first), log2(factor) + 1 of them; the decoder mirrors them. */
  channels: number[];
  /** Weight of the KL term (per example, against N(0, I)) relative to the squared reconstruction error. */
  klWeight: number;
}

/** A node of config.schema.json, as far as reading its defaults needs. */
interface SchemaNode {
  $ref?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

const SCHEMA = schema as unknown as SchemaNode & {
  properties: Record<string, SchemaNode>;
  definitions: Record<string, SchemaNode>;
};

/** `#/definitions/<name>` references are the only ones the schema uses. */
function deref(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const m = /^#\/definitions\/([A-Za-z0-9_]+)$/.exec(node.$ref);
  const target = m ? SCHEMA.definitions[m[1]] : undefined;
  if (!target) throw new Error(`config.schema.json: cannot resolve $ref "${node.$ref}"`);
  return target;
}

/**
 * The defaults an object section of the schema declares, in the schema's property order: each property's own
 * `default`, overridden by the section's object-level `default` (teacher and guided share one definition, so their
 * stage-specific defaults sit on the section). The schema is the one place these values are written.
 */
function propertyDefaults(section: SchemaNode): Record<string, unknown> {
  const own = (section.default ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(deref(section).properties ?? {})) {
    const value = key in own ? own[key] : prop.default;
    if (value !== undefined) out[key] = structuredClone(value);
  }
  return out;
}

/** Top-level config keys that hold a section (an object of fields with their defaults). */
type Section =
  | 'model'
  | 'diffusion'
  | 'guidance'
  | 'teacher'
  | 'guided'
  | 'progressive'
  | 'consistency'
  | 'sampling'
  | 'checkpoint'
  | 'log'
  | 'eval';

/** A section's schema defaults with the config's own values of it on top (a fresh object every call). */
function withDefaults(section: Section, given: Record<string, unknown> | undefined): Record<string, unknown> {
  return { ...propertyDefaults(SCHEMA.properties[section]), ...given };
}

/** The autoencoder section's defaults (from the schema; `channels` is computed from `factor`). */
export const AUTOENCODER_DEFAULTS = propertyDefaults(SCHEMA.properties.autoencoder) as Omit<
  AutoencoderConfig,
  'channels'
>;

export interface ResolvedConfig {
  name: string;
  seed: number;
  backend: BackendChoice;
  threads: number;
  /** How training uses several threads (see train/data-parallel.ts); 'auto' when the config does not say. */
  parallel: 'auto' | 'workers' | 'threads';
  data: DataConfig;
  /** wFreqMax is always filled in (the schema's default, or W_FREQ_MAX_LEGACY for old run folders). */
  model: ModelConfig & { wFreqMax: number; space: 'pixel' | 'latent' };
  /** Only when model.space is "latent". */
  autoencoder?: AutoencoderConfig;
  diffusion: { logSnrMin: number; logSnrMax: number; pUncond: number };
  guidance: { wMin: number; wMax: number; wPower: number; sampleW: number[] };
  teacher: TeacherConfig;
  guided: StageConfig;
  progressive: ProgressiveConfig;
  /** Stage-2 methods, each trained from the stage-1 student ("progressive" when the config does not say). */
  methods: DistillMethod[];
  /** Only when methods includes "consistency". */
  consistency?: ConsistencyConfig;
  sampling: { interval: number; teacherSteps: number; classes?: number[]; perClass: number };
  checkpoint: { interval: number; keep: number };
  log: { interval: number };
  eval: { w: number[]; teacherSteps: number[]; studentSteps: number[]; samples: number; classifierSteps: number };
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly errors: string[],
  ) {
    super(`${file}: invalid configuration:\n  - ${errors.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const configSchema = schema;

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(value: unknown): ErrorObject[] {
  if (!validator) {
    // verbose: errors carry the value and the failing schema, so range errors can state the range.
    const ajv = new Ajv({ allErrors: true, strict: false, discriminator: false, verbose: true });
    validator = ajv.compile(schema);
  }
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/** Strips // and /* *\/ comments outside strings (configs may be JSONC) and trailing commas. */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (ch === '"') inString = false;
      i++;
    } else if (ch === '"') {
      inString = true;
      out += ch;
      i++;
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const block = text.slice(i, end < 0 ? text.length : end + 2);
      out += block.replace(/[^\n]/g, ' ');
      i = end < 0 ? text.length : end + 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

const groupDigits = (n: number): string => (Number.isInteger(n) ? n.toLocaleString('en-US') : String(n));

/**
 * A numeric schema's range in words — "an integer from 1 to 100,000", "a number > 0 and ≤ 1". The schema's
 * descriptions end with "Range: <this>." (so the editor's hover shows it; a test keeps them in step) and range errors
 * quote it.
 */
export function rangeLabel(s: {
  type?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}): string {
  const kind = s.type === 'integer' ? 'an integer' : 'a number';
  if (s.minimum !== undefined && s.maximum !== undefined)
    return `${kind} from ${groupDigits(s.minimum)} to ${groupDigits(s.maximum)}`;
  const lo =
    s.minimum !== undefined
      ? `≥ ${groupDigits(s.minimum)}`
      : s.exclusiveMinimum !== undefined
        ? `> ${groupDigits(s.exclusiveMinimum)}`
        : '';
  const hi =
    s.maximum !== undefined
      ? `≤ ${groupDigits(s.maximum)}`
      : s.exclusiveMaximum !== undefined
        ? `< ${groupDigits(s.exclusiveMaximum)}`
        : '';
  return [kind, [lo, hi].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
}

const isNumericSchema = (s: unknown): s is Parameters<typeof rangeLabel>[0] =>
  !!s &&
  typeof s === 'object' &&
  ((s as { type?: unknown }).type === 'integer' || (s as { type?: unknown }).type === 'number');

function fieldOf(e: ErrorObject): string {
  const p = e.instancePath
    .replace(/^\//, '')
    .replace(/\//g, '.')
    .replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  return p || '(top level)';
}

/** Turns Ajv errors into "field: expectation" lines; for the data union, only the branch of the given kind speaks. */
function describeErrors(errors: ErrorObject[], value: Record<string, unknown>): string[] {
  const data = value.data as Record<string, unknown> | undefined;
  const kinds = ['toy2d', 'mnist', 'idx', 'folder', 'emoji', 'mixture'];
  const branch = data && typeof data.kind === 'string' ? kinds.indexOf(data.kind) : -1;
  const out = new Set<string>();
  for (const e of errors) {
    const inData = e.schemaPath.startsWith('#/properties/data/oneOf/');
    if (inData) {
      const idx = Number(e.schemaPath.split('/')[4]);
      if (branch < 0) {
        if (e.keyword === 'const' || e.keyword === 'required')
          out.add(`data.kind: expected one of ${kinds.map((k) => `"${k}"`).join(', ')}`);
        continue;
      }
      if (idx !== branch) continue;
    }
    if (e.schemaPath === '#/properties/data/oneOf') continue;
    const field = fieldOf(e);
    switch (e.keyword) {
      case 'additionalProperties':
        out.add(
          `${field === '(top level)' ? '' : field + '.'}${(e.params as { additionalProperty: string }).additionalProperty}: unknown field`,
        );
        break;
      case 'required':
        out.add(
          `${field === '(top level)' ? '' : field + '.'}${(e.params as { missingProperty: string }).missingProperty}: required field is missing`,
        );
        break;
      case 'pattern':
        out.add(
          `${field}: ${JSON.stringify(e.data)} is not valid; expected a string matching ${(e.params as { pattern: string }).pattern}`,
        );
        break;
      case 'enum':
        out.add(
          `${field}: expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
        );
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.add(
          `${field}: ${JSON.stringify(e.data)} is out of range; expected ${rangeLabel(e.parentSchema as Parameters<typeof rangeLabel>[0])}`,
        );
        break;
      case 'type':
        if (isNumericSchema(e.parentSchema)) {
          out.add(`${field}: expected ${rangeLabel(e.parentSchema)}, got ${JSON.stringify(e.data)}`);
          break;
        }
        out.add(`${field}: ${e.message}`);
        break;
      default:
        out.add(`${field}: ${e.message}`);
    }
  }
  return [...out];
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/** The autoencoder section with its defaults; problems are pushed to `semantic`, each naming its field. */
function resolveAutoencoder(
  a: Record<string, any>,
  data: Record<string, unknown>,
  semantic: string[],
): AutoencoderConfig {
  const d = AUTOENCODER_DEFAULTS;
  const factor: number = a.factor ?? d.factor;
  const levels = Math.round(Math.log2(factor)) + 1;
  const channels: number[] = a.channels ?? Array.from({ length: levels }, (_, i) => Math.min(16 * 2 ** i, 128));
  const ae: AutoencoderConfig = { ...d, ...a, factor, channels };
  if (!isPow2(factor) || factor < 2)
    semantic.push(`autoencoder.factor: expected a power of two ≥ 2 (e.g. 4), got ${factor}`);
  else if (channels.length !== levels) {
    semantic.push(
      `autoencoder.channels: factor ${factor} has ${levels} resolution levels (full size down to 1/${factor}); expected ${levels} widths, got ${channels.length}`,
    );
  }
  channels.forEach((c, i) => {
    if (c % Math.min(8, c) !== 0)
      semantic.push(`autoencoder.channels[${i}]: ${c} is not divisible by 8 (GroupNorm with 8 groups)`);
  });
  if (data.kind === 'toy2d')
    semantic.push(
      `model.space: "latent" needs image data; data.kind "toy2d" trains in its own 2-D space (use "pixel")`,
    );
  if (data.kind === 'mixture' && data.preset === 'blobs')
    semantic.push(
      `model.space: "latent" needs image data; data.preset "blobs" trains in its own 2-D space (use "pixel")`,
    );
  const size = data.imageSize as number | undefined;
  if (typeof size === 'number' && isPow2(factor) && size % factor !== 0) {
    semantic.push(`autoencoder.factor: the image size ${size} (data.imageSize) is not divisible by ${factor}`);
  }
  return ae;
}

/** The consistency section with its defaults; problems are pushed to `semantic`, each naming its field. */
function resolveConsistency(c: Record<string, unknown>, semantic: string[]): ConsistencyConfig {
  const cc = c as unknown as ConsistencyConfig;
  if (!isPow2(cc.teacherSteps))
    semantic.push(`consistency.teacherSteps: expected a power of two (e.g. 64), got ${cc.teacherSteps}`);
  cc.studentSteps.forEach((n, i) => {
    if (i > 0 && n >= cc.studentSteps[i - 1])
      semantic.push(
        `consistency.studentSteps: expected the step counts largest first (each later student starts from the one before), got ${JSON.stringify(cc.studentSteps)}`,
      );
    if (n > cc.teacherSteps)
      semantic.push(
        `consistency.studentSteps[${i}]: ${n} is more than consistency.teacherSteps (${cc.teacherSteps}); a student's time segments are made of whole teacher steps`,
      );
  });
  return cc;
}

/** Validates a parsed config object and fills every default. `baseDir` resolves relative data paths. */
export function resolveConfig(value: unknown, { file = '<config>', baseDir = process.cwd() } = {}): ResolvedConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(file, ['(top level): expected a JSON object']);
  const raw = value as Record<string, any>;
  const errs = describeErrors(validate(raw), raw);
  if (errs.length) throw new ConfigError(file, errs);

  // The model's fields in the schema's order, `kind` first.
  const model = { kind: raw.model.kind, ...withDefaults('model', raw.model) } as ResolvedConfig['model'];
  const data = { ...raw.data } as DataConfig & Record<string, unknown>;
  for (const key of ['images', 'labels', 'testImages', 'testLabels', 'path']) {
    if (typeof data[key] === 'string') data[key] = path.resolve(baseDir, data[key] as string);
  }
  // recorded in config.json, so a run keeps its data if the defaults ever change
  if (data.kind === 'emoji')
    Object.assign(data, { ...EMOJI_DEFAULTS, categories: EMOJI_DEFAULT_CATEGORIES.slice(), ...raw.data });
  if (data.kind === 'mixture')
    Object.assign(data, { components: MIXTURE_DEFAULT_COMPONENTS[data.preset], ...raw.data });
  const top = propertyDefaults(SCHEMA) as Pick<ResolvedConfig, 'seed' | 'backend' | 'threads' | 'parallel'>;
  const cfg: ResolvedConfig = {
    name: raw.name ?? path.basename(file).replace(/\.distill\.json$|\.json$/, ''),
    seed: raw.seed ?? top.seed,
    backend: raw.backend ?? top.backend,
    threads: raw.threads ?? top.threads,
    parallel: raw.parallel ?? top.parallel,
    data,
    model,
    diffusion: withDefaults('diffusion', raw.diffusion) as ResolvedConfig['diffusion'],
    guidance: withDefaults('guidance', raw.guidance) as ResolvedConfig['guidance'],
    teacher: withDefaults('teacher', raw.teacher) as unknown as TeacherConfig,
    guided: withDefaults('guided', raw.guided) as unknown as StageConfig,
    progressive: withDefaults('progressive', raw.progressive) as unknown as ProgressiveConfig,
    methods: (raw.methods ?? propertyDefaults(SCHEMA).methods) as DistillMethod[],
    sampling: withDefaults('sampling', raw.sampling) as ResolvedConfig['sampling'],
    checkpoint: withDefaults('checkpoint', raw.checkpoint) as ResolvedConfig['checkpoint'],
    log: withDefaults('log', raw.log) as ResolvedConfig['log'],
    eval: withDefaults('eval', raw.eval) as ResolvedConfig['eval'],
  };

  const semantic: string[] = [];
  if (model.space === 'latent') cfg.autoencoder = resolveAutoencoder(raw.autoencoder ?? {}, data, semantic);
  else if (raw.autoencoder !== undefined)
    semantic.push(`autoencoder: only used when model.space is "latent" (model.space is "${model.space}")`);
  if (cfg.methods.includes('consistency'))
    cfg.consistency = resolveConsistency(withDefaults('consistency', raw.consistency), semantic);
  else if (raw.consistency !== undefined)
    semantic.push(
      `consistency: only used when methods includes "consistency" (methods is ${JSON.stringify(cfg.methods)})`,
    );
  if (cfg.guidance.wMax < cfg.guidance.wMin)
    semantic.push(`guidance.wMax: must be ≥ guidance.wMin (${cfg.guidance.wMin}), got ${cfg.guidance.wMax}`);
  if (!isPow2(cfg.progressive.n0))
    semantic.push(`progressive.n0: expected a power of two (e.g. 64), got ${cfg.progressive.n0}`);
  if (cfg.progressive.targetSteps >= cfg.progressive.n0)
    semantic.push(
      `progressive.targetSteps: must be smaller than progressive.n0 (${cfg.progressive.n0}), got ${cfg.progressive.targetSteps}`,
    );
  if (cfg.diffusion.logSnrMax <= cfg.diffusion.logSnrMin)
    semantic.push(`diffusion.logSnrMax: must be > diffusion.logSnrMin`);
  const points = data.kind === 'toy2d' || (data.kind === 'mixture' && data.preset === 'blobs');
  const pointsKind = data.kind === 'toy2d' ? 'data.kind "toy2d"' : 'data.preset "blobs"';
  if (model.kind === 'mlp' && !points)
    semantic.push(
      `model.kind: "mlp" is for 2-D points (data.kind "toy2d" or data.preset "blobs"); use "unet" for images`,
    );
  if (model.kind === 'unet' && points)
    semantic.push(`model.kind: "unet" needs image data; use "mlp" for ${pointsKind}`);
  if (cfg.teacher.kind === 'exact') {
    if (data.kind !== 'mixture')
      semantic.push(
        `teacher.kind: "exact" needs data.kind "mixture" (data whose optimal denoiser is known); data.kind is "${data.kind}"`,
      );
    if (model.space !== 'pixel')
      semantic.push(
        `teacher.kind: "exact" needs model.space "pixel" (the mixture is known in pixel space), got "${model.space}"`,
      );
  }
  if (model.embedDim % 2 !== 0) semantic.push(`model.embedDim: expected an even number, got ${model.embedDim}`);
  if (semantic.length) throw new ConfigError(file, semantic);
  return cfg;
}

export function parseConfigText(text: string, file: string): unknown {
  try {
    return JSON.parse(stripJsonComments(text));
  } catch (e) {
    throw new ConfigError(file, [`(file): not valid JSON — ${(e as Error).message}`]);
  }
}

export function loadConfigFile(file: string): ResolvedConfig {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new ConfigError(abs, ['(file): no such file']);
  return resolveConfig(parseConfigText(fs.readFileSync(abs, 'utf8'), abs), { file: abs, baseDir: path.dirname(abs) });
}

/** For the editor: never throws; lists every problem with its field. */
export function validateConfigFile(
  file: string,
): { ok: true; config: ResolvedConfig } | { ok: false; errors: string[] } {
  try {
    return { ok: true, config: loadConfigFile(file) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, errors: e.errors };
    return { ok: false, errors: [(e as Error).message] };
  }
}

/**
 * Fields that joined the config after run folders already existed, each with its neutral value: the one that
 * reproduces what runs made before the field did. configHash leaves a field out while it has its neutral value, so
 * the hash of an older run folder (whose config.json lacks the field and resolves to that value) stays the one in its
 * run.json, and the run still resumes.
 *
 * A new field that resolveConfig fills in goes here with its neutral value (usually its default; for model.wFreqMax
 * the value runs made before it used, which run folders without it are given on loading). Entries are never changed or
 * removed. config-hash.test.ts pins the hashes of the examples, so a filled-in field without an entry is caught there.
 */
export const HASH_NEUTRAL: ReadonlyArray<readonly [field: string, neutral: unknown]> = Object.freeze([
  ['parallel', 'auto'],
  ['model.space', 'pixel'],
  ['model.wFreqMax', W_FREQ_MAX_LEGACY],
  ['guidance.wPower', 1],
  ['teacher.kind', 'trained'],
] as const);

/**
 * Fields only some units depend on, left out of configHash: adding a stage-2 method to a run's config.json keeps the
 * checkpoints of its teacher, stage 1 and other method valid. A unit that depends on one of them hashes it in its
 * checkpoints (unitHash), so changing it stops that unit from resuming.
 */
const UNIT_FIELDS: Record<DistillMethod, readonly (keyof ResolvedConfig)[]> = {
  progressive: [],
  consistency: ['consistency'],
};
const UNIT_ONLY: ReadonlyArray<keyof ResolvedConfig> = ['methods', ...Object.values(UNIT_FIELDS).flat()];

/**
 * Stable hash of a resolved config (canonical key order), stored in run.json and every checkpoint. It leaves out
 * `progressive.targetSteps`: each halving depends only on the steps it starts from, so a run folder whose target is
 * changed keeps its finished halvings and trains only the missing ones.
 */
export function configHash(cfg: ResolvedConfig): string {
  return hashOf(hashedFields(cfg, { withTargetSteps: false }));
}

/** The hash run folders made by version 0.1.0 recorded: configHash with `progressive.targetSteps` included. */
export function legacyConfigHash(cfg: ResolvedConfig): string {
  return hashOf(hashedFields(cfg, { withTargetSteps: true }));
}

/** A copy of the config without the fields only some units depend on (UNIT_ONLY). */
function hashedFields(cfg: ResolvedConfig, { withTargetSteps }: { withTargetSteps: boolean }): Record<string, unknown> {
  const hashed = structuredClone(cfg) as unknown as Record<string, unknown>;
  for (const f of UNIT_ONLY) delete hashed[f];
  if (!withTargetSteps) delete (hashed.progressive as Record<string, unknown>).targetSteps;
  return hashed;
}

/**
 * The hash under which a run folder trains: the one recorded in its run.json when `cfg` (its config.json, resolved)
 * still gives it, by either scheme; undefined when the config was changed in a way the run's checkpoints depend on.
 * A 0.1.0 folder keeps its legacy hash, so its checkpoints resume and new ones match them.
 */
export function runHash(cfg: ResolvedConfig, recorded: string): string | undefined {
  return recorded === configHash(cfg) || recorded === legacyConfigHash(cfg) ? recorded : undefined;
}

/**
 * The hash a unit's checkpoints carry: the run's hash (`runHash`), and for a stage-2 method's unit also the fields of
 * its own section, so a checkpoint resumes only under the settings it was trained with.
 */
export function unitHash(cfg: ResolvedConfig, stage: StageName, run: string = configHash(cfg)): string {
  const own = stage === 'consistency' ? UNIT_FIELDS.consistency : [];
  if (!own.length) return run;
  return hashOf({ config: run, ...Object.fromEntries(own.map((f) => [f, cfg[f]])) });
}

function hashOf(hashed: Record<string, unknown>): string {
  for (const [field, neutral] of HASH_NEUTRAL) {
    const keys = field.split('.');
    const last = keys.pop()!;
    let parent: unknown = hashed;
    for (const k of keys)
      parent = parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[k] : undefined;
    if (!parent || typeof parent !== 'object' || !(last in parent)) continue;
    if (JSON.stringify((parent as Record<string, unknown>)[last]) === JSON.stringify(neutral))
      delete (parent as Record<string, unknown>)[last];
  }
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify(canon(hashed)))
    .digest('hex')
    .slice(0, 16);
}

/** One training unit of a run's plan (the autoencoder of a latent run comes before these). */
export interface UnitSpec {
  unit: string;
  stage: StageName;
  /** Progressive phases: the teacher's sampling steps. */
  fromSteps?: number;
  /** Students: the unit's sampling steps. */
  toSteps?: number;
  /** The frozen unit whose final (EMA) weights this unit distils; none for the teacher. */
  distils?: string;
  /** The finished unit whose weights this unit starts from; none for the teacher. */
  startsFrom?: string;
}

/**
 * Every unit of a run in training order: the teacher, stage 1, then each stage-2 method's students (progressive
 * phases N0 → N0/2 → … → targetSteps, each distilling and starting from the one before; consistency students in
 * studentSteps order, each distilling stage 1 and starting from the one before).
 */
export function units(cfg: ResolvedConfig): UnitSpec[] {
  const out: UnitSpec[] = [
    { unit: 'teacher', stage: 'teacher' },
    { unit: 'guided', stage: 'guided', distils: 'teacher', startsFrom: 'teacher' },
  ];
  if (cfg.methods.includes('progressive')) {
    let prev = 'guided';
    for (let n = cfg.progressive.n0; n > cfg.progressive.targetSteps; n /= 2) {
      const unit = `progressive-${n}-${n / 2}`;
      out.push({ unit, stage: 'progressive', fromSteps: n, toSteps: n / 2, distils: prev, startsFrom: prev });
      prev = unit;
    }
  }
  if (cfg.methods.includes('consistency') && cfg.consistency) {
    let prev = 'guided';
    for (const n of cfg.consistency.studentSteps) {
      const unit = `consistency-${n}`;
      out.push({ unit, stage: 'consistency', toSteps: n, distils: 'guided', startsFrom: prev });
      prev = unit;
    }
  }
  return out;
}

/** The optimiser settings of a stage's units (the consistency section only exists when the method is used). */
export function stageSettings(cfg: ResolvedConfig, stage: StageName): StageConfig {
  return stage === 'consistency' ? consistencySettings(cfg) : cfg[stage];
}

/** The consistency section; an error when the config does not train the method. */
export function consistencySettings(cfg: ResolvedConfig): ConsistencyConfig {
  if (!cfg.consistency)
    throw new Error(`consistency: the config has no consistency section (methods is ${JSON.stringify(cfg.methods)})`);
  return cfg.consistency;
}

/** A few-step student of a run: which method made it, its sampling steps, and its unit. */
export interface StudentSpec {
  method: DistillMethod;
  steps: number;
  unit: string;
}

/** Every few-step student a run's config trains, in training order. */
export function students(cfg: ResolvedConfig): StudentSpec[] {
  return units(cfg)
    .filter((u) => u.stage === 'progressive' || u.stage === 'consistency')
    .map((u) => ({ method: u.stage as DistillMethod, steps: u.toSteps!, unit: u.unit }));
}
