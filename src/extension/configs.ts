/** Finding and describing the workspace's *.distill.json files and the bundled examples. No vscode. */
import * as fs from 'fs';
import * as path from 'path';
import { parseConfigText, stageSettings, validateConfigFile } from '../engine/run/config';
import type { ConfigEntry } from '../protocol';

export const CONFIG_SUFFIX = '.distill.json';

export function isConfigPath(p: string | undefined): p is string {
  return typeof p === 'string' && p.endsWith(CONFIG_SUFFIX);
}

/**
 * A config entry for pickers and the dashboard: its stages (those with steps > 0: teacher, guided, then each stage-2
 * method) or its first problems.
 */
export function describeConfig(file: string, label: string): ConfigEntry {
  const r = validateConfigFile(file);
  if (!r.ok) return { path: file, label, stages: [], error: r.errors.join('; ') };
  const c = r.config;
  const stages = (['teacher', 'guided', ...c.methods] as const).filter((s) => stageSettings(c, s).steps > 0);
  return { path: file, label, stages };
}

/** What the New Config picker says about each bundled example (the examples' JSON holds only the config). */
export const EXAMPLE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  toy2d: 'Toy 2-D points (two moons), a small MLP · about 5 min on a 2-core CPU',
  quickstart: 'Handwritten digits (MNIST, 16×16), a small U-Net, short schedule · about 10 min on a 2-core CPU',
  digits:
    'Handwritten digits (MNIST, 16×16), the quick start with a 4× longer teacher schedule; both distillation methods, down to 1 step',
  fashion: 'Fashion-MNIST from IDX files on disk (16×16), a small U-Net',
  images: 'Your own images, one sub-folder per class (16×16 RGB), a small U-Net',
  emoji: 'Noto Emoji sprites, 9 classes (32×32 RGB; the package is installed on first use), a U-Net',
  'emoji-latent': 'The emoji example in latent space: an autoencoder, then the diffusion stages on 8×8×4 latents',
  'gpu-cifar-like': "32×32 RGB class folders, the paper's CIFAR-10-sized U-Net, for a GPU",
  'exact-blobs':
    'A known 2-D Gaussian mixture with its exact teacher: both methods down to 1 step, measured against the truth',
  'exact-digits':
    'A Gaussian mixture fitted to the digits (16×16) with its exact teacher: both methods down to 1 step, measured against the truth',
};

export interface ExampleConfig {
  file: string;
  id: string;
  description: string;
}

/** The example configs shipped with the extension (examples/*.distill.json), described by EXAMPLE_DESCRIPTIONS. */
export function listExamples(examplesDir: string): ExampleConfig[] {
  if (!fs.existsSync(examplesDir)) return [];
  return fs
    .readdirSync(examplesDir)
    .filter((f) => f.endsWith(CONFIG_SUFFIX))
    .sort()
    .map((f) => {
      const id = f.slice(0, -CONFIG_SUFFIX.length);
      return { file: path.join(examplesDir, f), id, description: EXAMPLE_DESCRIPTIONS[id] ?? '' };
    });
}

/** A `"$schema": "…"` member on a line of its own (the examples keep it first), with its comma and any comment. */
const SCHEMA_LINE = /^[ \t]*"\$schema"[ \t]*:[ \t]*"(?:[^"\\]|\\.)*"[ \t]*,?[ \t]*(?:\/\/[^\n]*)?\r?\n/m;

/**
 * The text of a new config made from an example: the example's text as it is, comments included. Its `"$schema"`
 * member (a path relative to the examples folder) is dropped, since the editor validates *.distill.json files by
 * name; when the schema file lies inside the workspace (`schemaFile` given), it points there by a relative path.
 */
export function starterConfigText(exampleFile: string, target: string, schemaFile?: string): string {
  const text = fs.readFileSync(exampleFile, 'utf8');
  parseConfigText(text, exampleFile); // a broken example is reported here, not written
  if (!SCHEMA_LINE.test(text)) return text;
  if (!schemaFile) return text.replace(SCHEMA_LINE, '');
  let rel = path.relative(path.dirname(target), schemaFile).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return text.replace(SCHEMA_LINE, (line) =>
    line.replace(/"\$schema"([ \t]*:[ \t]*)"(?:[^"\\]|\\.)*"/, `"$schema"$1${JSON.stringify(rel)}`),
  );
}
