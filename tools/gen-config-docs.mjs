// Writes docs/configs.md, the reference of every field of *.distill.json and *.sweep.json, from the two JSON Schemas
// that validate them (src/engine/run/config.schema.json, src/engine/run/sweep.schema.json). The schemas' descriptions
// are the editor's hover texts; this page shows the same texts with each field's type, default and allowed values.
//
//   node tools/gen-config-docs.mjs          writes docs/configs.md
//   node tools/gen-config-docs.mjs --check  exits 1 when docs/configs.md differs from what the schemas give
//
// test/unit/config-docs.test.ts runs the check, so a schema change without `npm run gen:docs` fails the tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_SCHEMA = 'src/engine/run/config.schema.json';
export const SWEEP_SCHEMA = 'src/engine/run/sweep.schema.json';
export const OUTPUT = 'docs/configs.md';

/** A table cell: one line, pipes escaped. */
function cell(text) {
  return String(text).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function code(value) {
  return '`' + JSON.stringify(value).replace(/`/g, "'") + '`';
}

function resolveRef(node, root) {
  if (!node || typeof node !== 'object' || typeof node.$ref !== 'string') return node;
  const parts = node.$ref.replace(/^#\//, '').split('/');
  let target = root;
  for (const p of parts) target = target?.[p];
  if (!target) throw new Error(`${node.$ref}: reference not found in the schema`);
  return { ...target, ...Object.fromEntries(Object.entries(node).filter(([k]) => k !== '$ref')) };
}

/** The type column: "integer", "string", "array of number", "one of …", "`"toy2d"`". */
function typeOf(node, root) {
  node = resolveRef(node, root);
  if ('const' in node) return code(node.const);
  if (node.enum) return node.enum.map(code).join(', ');
  const alts = node.oneOf ?? node.anyOf;
  if (alts) {
    const kinds = alts.map((a) => a.properties?.kind?.const);
    if (kinds.every((k) => k !== undefined)) return `object with kind ${kinds.map(code).join(', ')}`;
    return alts.map((a) => typeOf(a, root)).join(' or ');
  }
  if (node.type === 'array') {
    const items = node.items ? typeOf(node.items, root) : 'any value';
    return `array of ${items}`;
  }
  if (node.type) return Array.isArray(node.type) ? node.type.join(' or ') : node.type;
  return 'any';
}

/** Bounds and patterns the schema enforces, in words (the descriptions usually say the numeric range too). */
function constraints(node, root) {
  node = resolveRef(node, root);
  const out = [];
  if (node.minimum !== undefined) out.push(`≥ ${node.minimum}`);
  if (node.exclusiveMinimum !== undefined) out.push(`> ${node.exclusiveMinimum}`);
  if (node.maximum !== undefined) out.push(`≤ ${node.maximum}`);
  if (node.exclusiveMaximum !== undefined) out.push(`< ${node.exclusiveMaximum}`);
  if (node.minItems !== undefined) out.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
  if (node.maxItems !== undefined) out.push(`at most ${node.maxItems} items`);
  if (node.uniqueItems) out.push('no repeats');
  if (node.minLength !== undefined && node.minLength > 0) out.push('not empty');
  if (node.pattern !== undefined) out.push(`matches \`${node.pattern}\``);
  if (node.type === 'array' && node.items) {
    const inner = constraints(node.items, root);
    if (inner) out.push(`each ${inner}`);
  }
  return out.join(', ');
}

function isObjectSection(node, root) {
  node = resolveRef(node, root);
  return node.type === 'object' && node.properties !== undefined;
}

/** One table row per property of an object node; nested objects are listed and get their own section. */
function table(node, root, prefix) {
  node = resolveRef(node, root);
  const required = new Set(node.required ?? []);
  const rows = ['| field | type | default | allowed | description |', '| --- | --- | --- | --- | --- |'];
  for (const [name, raw] of Object.entries(node.properties ?? {})) {
    if (name === '$schema') continue;
    const prop = resolveRef(raw, root);
    const full = prefix ? `${prefix}.${name}` : name;
    let description = prop.description ?? '';
    if (isObjectSection(prop, root) || (prop.oneOf ?? []).some((a) => a.type === 'object' && a.properties)) {
      description = `${description} See [${full}](#${anchor(full)}).`.trim();
    }
    if (required.has(name)) description = `**Required.** ${description}`.trim();
    const dflt = prop.default !== undefined ? code(prop.default) : '';
    rows.push(
      `| \`${full}\` | ${cell(typeOf(prop, root))} | ${cell(dflt)} | ${cell(constraints(prop, root))} | ${cell(description)} |`,
    );
  }
  return rows.join('\n');
}

function anchor(heading) {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

/** Sections for every object-valued property of `node`, depth first, in schema order. */
function sections(node, root, prefix, level, out) {
  node = resolveRef(node, root);
  for (const [name, raw] of Object.entries(node.properties ?? {})) {
    const prop = resolveRef(raw, root);
    const full = prefix ? `${prefix}.${name}` : name;
    const variants = (prop.oneOf ?? []).filter((a) => a.type === 'object' && a.properties);
    if (variants.length) {
      out.push(`${'#'.repeat(level)} ${full}`, '');
      if (prop.description) out.push(cell(prop.description), '');
      out.push(`One of ${variants.length} forms, told apart by \`kind\`:`, '');
      for (const v of variants) {
        const kind = v.properties.kind?.const;
        out.push(`${'#'.repeat(level + 1)} ${full} with kind ${JSON.stringify(kind)}`, '');
        if (v.properties.kind?.description) out.push(cell(v.properties.kind.description), '');
        out.push(table(v, root, full), '');
      }
    } else if (isObjectSection(prop, root)) {
      out.push(`${'#'.repeat(level)} ${full}`, '');
      if (prop.description) out.push(cell(prop.description), '');
      out.push(table(prop, root, full), '');
      sections(prop, root, full, level + 1, out);
    }
  }
}

/** Open-ended maps (`additionalProperties` with a schema): what each entry must be. */
function mapNotes(node, root, prefix, out) {
  node = resolveRef(node, root);
  for (const [name, raw] of Object.entries(node.properties ?? {})) {
    const prop = resolveRef(raw, root);
    const full = prefix ? `${prefix}.${name}` : name;
    const entry = prop.additionalProperties;
    if (entry && typeof entry === 'object') {
      const keys = prop.propertyNames?.pattern
        ? ` Keys match \`${prop.propertyNames.pattern}\` (dotted config paths).`
        : '';
      const value = entry.properties
        ? `an object with exactly one of ${Object.keys(entry.properties)
            .map((k) => `\`${k}\` (${typeOf(entry.properties[k], root)}, ${constraints(entry.properties[k], root)})`)
            .join(', ')}`
        : `${typeOf(entry, root)}${constraints(entry, root) ? ` (${constraints(entry, root)})` : ''}`;
      out.push(`- \`${full}\`: each entry is ${value}.${keys}${entry.description ? ' ' + entry.description : ''}`);
    }
    if (prop.type === 'object' && prop.properties) mapNotes(prop, root, full, out);
  }
}

function page(schema, file, intro) {
  const out = [`# ${schema.title}`, '', intro, '', `Source: \`${file}\`. ${cell(schema.description ?? '')}`, ''];
  out.push('## Top level', '', table(schema, schema, ''), '');
  const maps = [];
  mapNotes(schema, schema, '', maps);
  if (maps.length) out.push(...maps, '');
  sections(schema, schema, '', 2, out);
  return out;
}

/** The whole of docs/configs.md as a string. */
export function generateConfigDocs(root = ROOT) {
  const config = JSON.parse(fs.readFileSync(path.join(root, CONFIG_SCHEMA), 'utf8'));
  const sweep = JSON.parse(fs.readFileSync(path.join(root, SWEEP_SCHEMA), 'utf8'));
  const lines = [
    '<!-- Generated by `npm run gen:docs` (tools/gen-config-docs.mjs) from the JSON Schemas; do not edit by hand. -->',
    '',
    '# Config reference',
    '',
    'Every field of a run config (`*.distill.json`) and of a sweep file (`*.sweep.json`), as the JSON Schemas that',
    'validate them define it. VS Code shows the same descriptions on hover and underlines values outside the allowed',
    'range; `distill run` and `distill sweep` refuse them with an error that names the field. Configs may contain',
    'comments. A field left out takes its default; where the default column is blank, the description says what',
    "happens without the field (the three stages share one definition and state their own defaults). The run's",
    '`config.json` records every value, defaults included, when the run is created.',
    '',
    ...page(
      config,
      CONFIG_SCHEMA,
      'One file describes one run: the data, the network and the stages teacher → guided (stage 1) → progressive (stage 2).',
    ),
    ...page(
      sweep,
      SWEEP_SCHEMA,
      'A sweep is a family of runs made from one base config; see [clusters.md](clusters.md).',
    ),
  ];
  while (lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n') + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = generateConfigDocs();
  const target = path.join(ROOT, OUTPUT);
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    if (current !== text) {
      console.error(`${OUTPUT} is out of date with ${CONFIG_SCHEMA} / ${SWEEP_SCHEMA}: run npm run gen:docs`);
      process.exit(1);
    }
    console.log(`${OUTPUT} is up to date`);
  } else {
    fs.writeFileSync(target, text);
    console.log(`wrote ${OUTPUT}`);
  }
}
