/**
 * What the message schemas share: the schema kinds TypeBox does not have (a run event, checked by the engine's own
 * asRunEvent; base64 images), a schema typed as an engine type, and the checker of a direction's messages. Checks
 * run TypeBox's interpreter (`Check`): no code generation, so it works under the webviews' strict
 * Content-Security-Policy, and its bundle is small. A rejected value is explained by the first field that fails,
 * named by its path (e.g. `spec.steps`), with what was expected and what came.
 */
import {
  FormatRegistry,
  Kind,
  String as TString,
  TypeRegistry,
  Unsafe,
  type Static,
  type TObject,
  type TSchema,
  type TString as TStringSchema,
  type TUnsafe,
} from '@sinclair/typebox';
import { Check } from '@sinclair/typebox/value';
import { asRunEvent, type RunEvent } from '../engine/run/events';

/** The outcome of checking a message: the typed value, or why it was rejected (naming the field). */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

TypeRegistry.Set('RunEvent', (_schema, value) => asRunEvent(value) !== undefined);
/** One event of a run's events.jsonl, as the engine's asRunEvent accepts it. */
export const RunEventSchema: TUnsafe<RunEvent> = Unsafe<RunEvent>({ [Kind]: 'RunEvent', description: 'a run event' });

/** Base64, standard alphabet, padded (whole groups of 4 characters). */
FormatRegistry.Set('base64', (v) => v.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(v));
/** Base64 of at most `max` characters (and at least one group). */
export const base64 = (max: number): TStringSchema => TString({ format: 'base64', maxLength: max });

/**
 * An object whose every value is `value`, whatever its keys (TypeBox's own Record builder would bring its
 * template-literal machinery into the webview bundles for string keys, which these records do not need).
 */
export function recordOf<V extends TSchema>(value: V): TUnsafe<Record<string, Static<V>>> {
  return Unsafe<Record<string, Static<V>>>({
    [Kind]: 'Record',
    type: 'object',
    patternProperties: { '^[\\s\\S]*$': value },
  });
}

/**
 * `schema`, typed as the engine's own type T: the protocol checks the engine's request and result types without
 * restating them. Compiles only when every value the schema accepts is a T.
 */
export function typed<T>() {
  return <S extends TSchema>(schema: S & (Static<S> extends T ? unknown : never)): TUnsafe<T> =>
    schema as unknown as TUnsafe<T>;
}

type Json = Record<string, unknown> & { [Kind]?: string };

function describe(s: Json): string {
  if (typeof s.description === 'string') return s.description;
  const kind = s[Kind];
  const range = (what: string) => {
    const lo = s.minimum as number | undefined;
    const hi = s.maximum as number | undefined;
    if (lo !== undefined && hi !== undefined) return `${what} from ${lo} to ${hi}`;
    if (lo !== undefined) return `${what} ≥ ${lo}`;
    if (hi !== undefined) return `${what} ≤ ${hi}`;
    return what;
  };
  switch (kind) {
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Union': {
      const parts = (s.anyOf as Json[]).map(describe);
      return (s.anyOf as Json[]).every((x) => x[Kind] === 'Literal')
        ? `one of ${parts.join(', ')}`
        : parts.join(' or ');
    }
    case 'Integer':
      return range('an integer');
    case 'Number':
      return range('a finite number');
    case 'String':
      if (s.format === 'base64') return `base64 of at most ${s.maxLength} characters`;
      return s.minLength ? 'a non-empty string' : 'a string';
    case 'Boolean':
      return 'true or false';
    case 'Null':
      return 'null';
    case 'Array':
      return s.maxItems !== undefined ? `a list of at most ${s.maxItems} items` : 'a list';
    case 'Tuple':
      return `a list of ${s.maxItems} items`;
    case 'Object':
      return s.additionalProperties === false
        ? `an object with only ${Object.keys(s.properties as object).join(', ')}`
        : 'an object';
    case 'Record':
      return 'an object';
    default:
      return String(kind);
  }
}

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/** Why `value` fails `schema`: the first failing field from the top, or undefined when it passes. */
export function explain(schema: TSchema, value: unknown, path = ''): string | undefined {
  if (Check(schema, value)) return undefined;
  const s = schema as unknown as Json;
  const kind = s[Kind];
  if (kind === 'Object' && isObject(value)) {
    const required = (s.required as string[] | undefined) ?? [];
    for (const [key, sub] of Object.entries(s.properties as Record<string, TSchema>)) {
      if (!required.includes(key) && value[key] === undefined) continue;
      const why = explain(sub, value[key], join(path, key));
      if (why) return why;
    }
    if (s.additionalProperties === false) {
      const extra = Object.keys(value).find((k) => !(k in (s.properties as object)));
      if (extra !== undefined) return `${join(path, extra)}: not expected here (${describe(s)})`;
    }
  } else if ((kind === 'Array' || kind === 'Tuple') && Array.isArray(value)) {
    const list: unknown[] = value;
    if (s.maxItems !== undefined && list.length > (s.maxItems as number))
      return `${path || 'the value'}: expected ${describe(s)}, got ${list.length} items`;
    for (let i = 0; i < list.length; i++) {
      const item = kind === 'Array' ? (s.items as TSchema) : (s.items as TSchema[])[i];
      const why = item ? explain(item, list[i], join(path, i)) : undefined;
      if (why) return why;
    }
  } else if (kind === 'Record' && isObject(value)) {
    const item = Object.values(s.patternProperties as Record<string, TSchema>)[0];
    for (const [key, v] of Object.entries(value)) {
      const why = explain(item, v, join(path, key));
      if (why) return why;
    }
  }
  return `${path || 'the value'}: expected ${describe(s)}, got ${shown(value)}`;
}

/**
 * The checker of one direction's messages, dispatched on `type`. Where several messages share a `type` (the two
 * `init` messages), the literal field they differ in (`view`) picks one.
 */
export function messageChecker<S extends TObject>(
  direction: string,
  schemas: readonly S[],
): (value: unknown) => Checked<Static<S>> {
  const byType = new Map<string, S[]>();
  for (const s of schemas) {
    const t = (s.properties.type as unknown as { const: string }).const;
    byType.set(t, [...(byType.get(t) ?? []), s]);
  }
  const types = [...byType.keys()].map((t) => JSON.stringify(t)).join(', ');
  return (value) => {
    if (!isObject(value))
      return { ok: false, error: `${direction} message: expected an object with a "type", got ${shown(value)}` };
    const candidates = typeof value.type === 'string' ? byType.get(value.type) : undefined;
    if (!candidates)
      return { ok: false, error: `${direction} message: type: expected one of ${types}, got ${shown(value.type)}` };
    let schema = candidates[0];
    if (candidates.length > 1) {
      const key = Object.keys(schema.properties).find(
        (k) => k !== 'type' && candidates.every((c) => (c.properties[k] as Json | undefined)?.[Kind] === 'Literal'),
      )!;
      const found = candidates.find((c) => (c.properties[key] as unknown as { const: unknown }).const === value[key]);
      if (!found) {
        const allowed = candidates
          .map((c) => JSON.stringify((c.properties[key] as unknown as { const: unknown }).const))
          .join(', ');
        return {
          ok: false,
          error: `${direction} ${value.type} message: ${key}: expected one of ${allowed}, got ${shown(value[key])}`,
        };
      }
      schema = found;
    }
    const why = explain(schema, value);
    return why === undefined
      ? { ok: true, value: value as Static<S> }
      : { ok: false, error: `${direction} ${value.type} message: ${why}` };
  };
}
