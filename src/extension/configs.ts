/** Finding and describing the workspace's *.distill.json files and the bundled examples. No vscode. */
import * as fs from 'fs';
import * as path from 'path';
import { parseConfigText, validateConfigFile } from '../engine/run/config';
import type { ConfigEntry } from '../protocol';

export const CONFIG_SUFFIX = '.distill.json';

export function isConfigPath(p: string | undefined): p is string {
  return typeof p === 'string' && p.endsWith(CONFIG_SUFFIX);
}

/** A config entry for pickers and the dashboard: its stages (those with steps > 0) or its first problems. */
export function describeConfig(file: string, label: string): ConfigEntry {
  const r = validateConfigFile(file);
  if (!r.ok) return { path: file, label, stages: [], error: r.errors.join('; ') };
  const c = r.config;
  const stages = (['teacher', 'guided', 'progressive'] as const).filter((s) => c[s].steps > 0);
  return { path: file, label, stages };
}

export interface ExampleConfig {
  file: string;
  id: string;
  description: string;
}

/** The example configs shipped with the extension (examples/*.distill.json). */
export function listExamples(examplesDir: string): ExampleConfig[] {
  if (!fs.existsSync(examplesDir)) return [];
  return fs
    .readdirSync(examplesDir)
    .filter((f) => f.endsWith(CONFIG_SUFFIX))
    .sort()
    .map((f) => {
      const file = path.join(examplesDir, f);
      let description = '';
      try {
        const j = parseConfigText(fs.readFileSync(file, 'utf8'), file) as Record<string, unknown>;
        const data = j.data as Record<string, unknown> | undefined;
        const model = j.model as Record<string, unknown> | undefined;
        const parts = [
          typeof j.description === 'string' ? j.description : undefined,
          data?.kind ? `data: ${String(data.kind)}${data.shape ? ` (${String(data.shape)})` : data.preset ? ` (${String(data.preset)})` : ''}` : undefined,
          model?.kind ? `model: ${String(model.kind)}` : undefined,
        ].filter(Boolean);
        description = parts.join(' · ');
      } catch (e) {
        description = `unreadable: ${(e as Error).message}`;
      }
      return { file, id: f.slice(0, -CONFIG_SUFFIX.length), description };
    });
}

/**
 * The text of a new config made from an example: plain JSON (the example's comments dropped) with a "$schema" key
 * first, so JSON editors validate it and show the schema's descriptions on hover.
 */
export function starterConfigText(exampleFile: string, schemaUri: string): string {
  const j = parseConfigText(fs.readFileSync(exampleFile, 'utf8'), exampleFile) as Record<string, unknown>;
  delete j.$schema;
  return JSON.stringify({ $schema: schemaUri, ...j }, null, 2) + '\n';
}
