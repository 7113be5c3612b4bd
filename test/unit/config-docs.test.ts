// docs/configs.md is generated from the two JSON Schemas by tools/gen-config-docs.mjs (`npm run gen:docs`). These tests
// fail when the committed page differs from what the schemas give, and check that the page documents every field the
// schemas define, with the schemas' own defaults and descriptions.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../..');
interface GenTool {
  generateConfigDocs(root?: string): string;
  CONFIG_SCHEMA: string;
  SWEEP_SCHEMA: string;
  OUTPUT: string;
}
const load = async (): Promise<GenTool> => (await import(path.join(REPO, 'tools', 'gen-config-docs.mjs'))) as GenTool;

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema nodes of any shape are walked generically here
type Schema = Record<string, any>;

/** Every property path of a schema (data variants share the prefix `data.`), with its node. */
function fields(node: Schema, root: Schema, prefix: string, out: Map<string, Schema>): Map<string, Schema> {
  if (node.$ref) node = { ...root.definitions[node.$ref.split('/').pop()], ...node };
  for (const [name, prop] of Object.entries<Schema>(node.properties ?? {})) {
    if (name === '$schema') continue;
    const full = prefix ? `${prefix}.${name}` : name;
    const resolved = prop.$ref ? { ...root.definitions[prop.$ref.split('/').pop()], ...prop } : prop;
    out.set(full, resolved);
    fields(resolved, root, full, out);
    for (const alt of resolved.oneOf ?? []) if (alt.properties) fields(alt, root, full, out);
  }
  return out;
}

describe('docs/configs.md', () => {
  it('is what `npm run gen:docs` writes from the current schemas', async () => {
    const tool = await load();
    const committed = fs.readFileSync(path.join(REPO, tool.OUTPUT), 'utf8');
    assert.ok(
      committed === tool.generateConfigDocs(REPO),
      `${tool.OUTPUT} is out of date with ${tool.CONFIG_SCHEMA} / ${tool.SWEEP_SCHEMA}: run npm run gen:docs and commit it`,
    );
  });

  it('has a row for every field of both schemas, with its default and description', async () => {
    const tool = await load();
    const page = tool.generateConfigDocs(REPO);
    for (const file of [tool.CONFIG_SCHEMA, tool.SWEEP_SCHEMA]) {
      const schema = JSON.parse(fs.readFileSync(path.join(REPO, file), 'utf8')) as Schema;
      const all = fields(schema, schema, '', new Map());
      assert.ok(all.size > 10, `${file}: expected the schema's fields`);
      for (const [full, node] of all) {
        // the data kinds each have a row for `data.kind`, `data.limit`, …: one of them must carry this node's facts
        const rows = page.split('\n').filter((l) => l.startsWith(`| \`${full}\` |`));
        assert.ok(rows.length > 0, `${full} (${file}) has no row`);
        if (node.default !== undefined) {
          const dflt = '`' + JSON.stringify(node.default) + '`';
          assert.ok(
            rows.some((r) => r.includes(dflt)),
            `${full}: default ${dflt} missing in ${rows.join('\n')}`,
          );
        }
        if (node.description) {
          const text = node.description.replace(/\|/g, '\\|');
          assert.ok(
            rows.some((r) => r.includes(text)),
            `${full}: description missing in ${rows.join('\n')}`,
          );
        }
      }
    }
  });

  it('a changed schema description changes the page (the check is not vacuous)', async () => {
    const tool = await load();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-config-docs-'));
    try {
      for (const file of [tool.CONFIG_SCHEMA, tool.SWEEP_SCHEMA]) {
        fs.mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
        fs.copyFileSync(path.join(REPO, file), path.join(tmp, file));
      }
      assert.equal(tool.generateConfigDocs(tmp), tool.generateConfigDocs(REPO));
      const schemaFile = path.join(tmp, tool.CONFIG_SCHEMA);
      const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Schema;
      schema.properties.seed.description = 'A different hover text.';
      fs.writeFileSync(schemaFile, JSON.stringify(schema));
      const changed = tool.generateConfigDocs(tmp);
      assert.notEqual(changed, tool.generateConfigDocs(REPO));
      assert.match(changed, /\| `seed` \| integer \| `0` \| .* \| A different hover text\. \|/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('no hover text cites issue numbers or how a value was found', () => {
    for (const file of ['src/engine/run/config.schema.json', 'src/engine/run/sweep.schema.json']) {
      const text = fs.readFileSync(path.join(REPO, file), 'utf8');
      for (const bad of [/#1\d\b/, /\bissue\b/i, /not kept/i, /\bmeasured better\b/i, /\bTODO\b/]) {
        assert.doesNotMatch(text, bad, `${file} matches ${bad}`);
      }
    }
  });
});
