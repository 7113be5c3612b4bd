/**
 * The `emoji` data kind: the 64×64 RGBA sprites of the npm package emoji-datasource-google (Noto Emoji) or
 * emoji-datasource-twitter (Twemoji), one class per emoji.json `category`. The package is not a dependency (74 MB):
 * this module only finds it (findEmojiPackage) and says how to install it; installing lives in src/launcher.
 */
import * as fs from 'fs';
import * as path from 'path';
import { assembleImages, checkImageSize } from './images';
import { decodeImageFile } from './folder';
import { applyLimit, splitIndices } from './split';
import {
  EMOJI_CATEGORIES,
  EMOJI_DEFAULT_CATEGORIES,
  EMOJI_DEFAULTS,
  EMOJI_VENDORS,
  emojiCredit,
  emojiInstallCommand,
  parseBackground,
  type EmojiVendor,
} from './emoji-meta';
import type { Dataset } from './types';

export interface EmojiConfig {
  vendor?: EmojiVendor;
  categories?: string[];
  imageSize?: number;
  background?: string;
  limit?: number;
}

/** Thrown when the vendor's package is not installed; carries what the launcher needs to install it. */
export class EmojiPackageMissing extends Error {
  constructor(
    readonly vendor: EmojiVendor,
    readonly installDir: string,
    readonly searched: string[],
  ) {
    const v = EMOJI_VENDORS[vendor];
    super(
      `data.vendor "${vendor}" needs the npm package ${v.pkg} (${v.set} sprites, a ${v.downloadMB} MB download, not installed by default); ` +
        `it is not installed (looked for node_modules/${v.pkg} in and above: ${searched.join(', ')}). ` +
        `Install it with:\n  ${emojiInstallCommand(vendor, installDir).text}\n(\`distill run\` and the extension install it on demand)`,
    );
    this.name = 'EmojiPackageMissing';
  }
}

/**
 * The tool's own folder: the nearest ancestor of this module (a bundle in dist/, or src/engine/data under tsx) whose
 * package.json is this project's — a checkout, an npm install of the CLI, or the installed extension's folder.
 */
export function toolRoot(from: string = typeof __dirname === 'string' ? __dirname : process.cwd()): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'diffusion-distiller')
        return dir;
    } catch {
      /* no package.json here */
    }
    if (path.dirname(dir) === dir) return path.dirname(path.resolve(from));
  }
}

/**
 * Where an on-demand install goes: the tool's folder when it has node_modules (a checkout after npm ci: the package
 * lands beside the others), else the bundles' folder dist/ (a packaged extension has no node_modules, and installing
 * in its folder would fetch every dependency of its package.json) — where the bundles' resolution finds it first.
 */
export function emojiInstallDir(root = toolRoot()): string {
  return fs.existsSync(path.join(root, 'node_modules')) ? root : path.join(root, 'dist');
}

/** Folders searched, each with its ancestors, for node_modules/<package>: the bundles' folder, then the cwd. */
export function emojiSearchRoots(root = toolRoot()): string[] {
  return [path.join(root, 'dist'), process.cwd()];
}

/** The one place the package is resolved. Throws EmojiPackageMissing (with the install command) when absent. */
export function findEmojiPackage(
  vendor: EmojiVendor,
  roots: string[] = emojiSearchRoots(),
  installDir: string = emojiInstallDir(),
): { dir: string; version: string } {
  const pkg = EMOJI_VENDORS[vendor].pkg;
  const seen = new Set<string>();
  // where an on-demand install puts it comes first
  for (const root of [installDir, ...roots]) {
    for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
      const cand = path.join(dir, 'node_modules', pkg);
      if (!seen.has(cand)) {
        seen.add(cand);
        if (fs.existsSync(path.join(cand, 'emoji.json')) && fs.existsSync(path.join(cand, 'img', vendor, '64'))) {
          let version = '?';
          try {
            version = String(JSON.parse(fs.readFileSync(path.join(cand, 'package.json'), 'utf8')).version);
          } catch {
            /* keep '?' */
          }
          return { dir: cand, version };
        }
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new EmojiPackageMissing(vendor, installDir, [...new Set([installDir, ...roots].map((r) => path.resolve(r)))]);
}

interface EmojiEntry {
  unified?: unknown;
  image?: unknown;
  category?: unknown;
  [key: string]: unknown;
}

/** One sprite of the dataset: emoji.json's `unified` code, its PNG file and class id. */
export interface EmojiItem {
  unified: string;
  file: string;
  label: number;
}

/** FNV-1a 32-bit: the within-class order, so an emoji keeps its split when a package version adds others. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Validated vendor, categories, size and background (defaults filled); errors name the field. */
export function checkEmojiConfig(cfg: EmojiConfig): {
  vendor: EmojiVendor;
  categories: string[];
  size: number;
  background: [number, number, number];
} {
  const vendor = cfg.vendor ?? EMOJI_DEFAULTS.vendor;
  if (!(vendor in EMOJI_VENDORS)) {
    throw new Error(
      `emoji.vendor: expected one of ${Object.keys(EMOJI_VENDORS)
        .map((v) => `"${v}"`)
        .join(', ')}, got ${JSON.stringify(cfg.vendor)}`,
    );
  }
  const categories = cfg.categories ?? EMOJI_DEFAULT_CATEGORIES;
  if (!Array.isArray(categories) || categories.length === 0) {
    throw new Error(
      `emoji.categories: expected a non-empty list of emoji.json categories, got ${JSON.stringify(cfg.categories)}`,
    );
  }
  categories.forEach((c, k) => {
    if (!(EMOJI_CATEGORIES as readonly string[]).includes(c)) {
      throw new Error(
        `emoji.categories[${k}]: expected one of ${EMOJI_CATEGORIES.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(c)}`,
      );
    }
    if (categories.indexOf(c) !== k) throw new Error(`emoji.categories[${k}]: "${c}" is listed twice`);
  });
  const size = checkImageSize(cfg.imageSize ?? EMOJI_DEFAULTS.imageSize, 'emoji.imageSize');
  const background = parseBackground(cfg.background ?? EMOJI_DEFAULTS.background, 'emoji.background');
  return { vendor, categories: categories.slice(), size, background };
}

/**
 * Every sprite of the chosen categories that the vendor draws (`has_img_<vendor>`), labelled by the category's
 * position in `categories`; within a class ordered by a hash of the emoji's code (a fixed pseudo-random order, so the
 * held-out tail of each class spans all its sub-categories). Skin-tone variations are left out (near-duplicates).
 */
export function emojiItems(pkgDir: string, vendor: EmojiVendor, categories: string[]): EmojiItem[] {
  const file = path.join(pkgDir, 'emoji.json');
  let entries: EmojiEntry[];
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`emoji: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(entries)) throw new Error(`emoji: ${file} must hold an array of emoji`);
  const perClass: EmojiItem[][] = categories.map(() => []);
  for (const e of entries) {
    const label = categories.indexOf(String(e.category));
    if (label < 0 || e[`has_img_${vendor}`] !== true) continue;
    if (typeof e.unified !== 'string' || typeof e.image !== 'string')
      throw new Error(`emoji: ${file}: an entry without "unified"/"image": ${JSON.stringify(e).slice(0, 200)}`);
    perClass[label].push({ unified: e.unified, file: path.join(pkgDir, 'img', vendor, '64', e.image), label });
  }
  perClass.forEach((items, k) => {
    if (items.length < 2) {
      throw new Error(
        `emoji.categories[${k}]: "${categories[k]}" has ${items.length} ${vendor} sprite(s) in ${file}; a class needs at least 2 (one held out)`,
      );
    }
    const key = new Map(items.map((it) => [it.unified, fnv1a(it.unified)]));
    items.sort((a, b) => key.get(a.unified)! - key.get(b.unified)! || (a.unified < b.unified ? -1 : 1));
  });
  return perClass.flat();
}

/** The items of one split, in dataset order (class-interleaved, as every kind's): index j is row j of the Dataset. */
export function emojiSplit(
  items: EmojiItem[],
  numClasses: number,
  split: 'train' | 'test',
  limit?: number,
): EmojiItem[] {
  const idx = applyLimit(
    splitIndices(
      items.map((it) => it.label),
      numClasses,
      split,
    ),
    limit,
    'emoji.limit',
  );
  return idx.map((i) => items[i]);
}

/**
 * Loads a split: per class the last ~10% (in the hash order above) are the held-out test set. Only that split's
 * sprites are decoded; transparency is composited over `background`, then the 64×64 sprite is area-resized.
 */
export function loadEmoji(
  cfg: EmojiConfig,
  split: 'train' | 'test',
  pkg = findEmojiPackage(checkEmojiConfig(cfg).vendor),
): Dataset {
  const { vendor, categories, size, background } = checkEmojiConfig(cfg);
  const chosen = emojiSplit(emojiItems(pkg.dir, vendor, categories), categories.length, split, cfg.limit);
  const x = assembleImages(
    chosen.length,
    (j) => {
      const f = chosen[j].file;
      let buf: Buffer;
      try {
        buf = fs.readFileSync(f);
      } catch (e) {
        throw new Error(
          `emoji: cannot read sprite ${f}: ${(e as Error).message} (reinstall ${EMOJI_VENDORS[vendor].pkg})`,
        );
      }
      return decodeImageFile(buf, f, 3, background);
    },
    size,
    3,
  );
  const bg = cfg.background ?? EMOJI_DEFAULTS.background;
  return {
    kind: 'image',
    x,
    labels: Int32Array.from(chosen, (it) => it.label),
    n: chosen.length,
    shape: [size, size, 3],
    numClasses: categories.length,
    classNames: categories,
    source:
      `emoji: ${chosen.length} ${split} sprites of ${categories.length} categories (10% per-class holdout), 64×64 → ${size}×${size} RGB on ${bg}; ` +
      emojiCredit(vendor, pkg.version),
  };
}
