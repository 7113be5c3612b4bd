/**
 * The `emoji` data kind's facts: vendors, their npm packages (pinned version, download size), the licences of the
 * images and the attribution Twemoji requires, the categories of emoji.json, defaults, and the `background` parser.
 * No file access here (config.ts and the launcher use it too).
 */

export type EmojiVendor = 'google' | 'twitter';

/** The version `distill` installs and the tests run against (the loader accepts any installed version). */
export const EMOJI_PACKAGE_VERSION = '16.0.0';

export interface EmojiVendorInfo {
  /** npm package holding emoji.json and img/<vendor>/64/*.png */
  pkg: string;
  /** The image set's name. */
  set: string;
  /** Licence of the images (the packages' own MIT licence covers only the data and code). */
  license: string;
  /** Attribution text the licence requires, if any. */
  attribution?: string;
  /** Compressed download of EMOJI_PACKAGE_VERSION, MB (npm pack). */
  downloadMB: number;
}

export const EMOJI_VENDORS: Record<EmojiVendor, EmojiVendorInfo> = {
  google: {
    pkg: 'emoji-datasource-google',
    set: 'Noto Emoji',
    license: 'Apache-2.0, flags public domain (https://github.com/googlefonts/noto-emoji)',
    downloadMB: 74,
  },
  twitter: {
    pkg: 'emoji-datasource-twitter',
    set: 'Twemoji',
    license: 'CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/)',
    attribution:
      'Twemoji graphics by Twitter, Inc. and other contributors (https://github.com/jdecked/twemoji), licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/)',
    downloadMB: 62,
  },
};

/** The categories of emoji.json (categories.json order); `Component` holds only 5 sprites (skin-tone swatches, hair). */
export const EMOJI_CATEGORIES = [
  'Smileys & Emotion',
  'People & Body',
  'Component',
  'Animals & Nature',
  'Food & Drink',
  'Travel & Places',
  'Activities',
  'Objects',
  'Symbols',
  'Flags',
] as const;

/** Every category with at least 85 sprites (all but Component), in emoji.json's order: 9 classes, 1,906 images. */
export const EMOJI_DEFAULT_CATEGORIES: string[] = EMOJI_CATEGORIES.filter((c) => c !== 'Component');

export const EMOJI_DEFAULTS = { vendor: 'google' as EmojiVendor, imageSize: 32, background: 'white' };

/** "white" | "black" | "#rrggbb" → [r, g, b] bytes; throws naming `field`. */
export function parseBackground(value: unknown, field = 'emoji.background'): [number, number, number] {
  if (value === 'white') return [255, 255, 255];
  if (value === 'black') return [0, 0, 0];
  const m = typeof value === 'string' ? /^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(value) : null;
  if (!m) throw new Error(`${field}: expected "white", "black" or a colour "#rrggbb", got ${JSON.stringify(value)}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/** The npm command that installs a vendor's package into `dir` (its node_modules), as argv and as text to print. */
export function emojiInstallCommand(vendor: EmojiVendor, dir: string): { args: string[]; text: string } {
  const args = [
    'install',
    '--no-save',
    '--no-audit',
    '--no-fund',
    '--prefix',
    dir,
    `${EMOJI_VENDORS[vendor].pkg}@${EMOJI_PACKAGE_VERSION}`,
  ];
  const quote = (a: string) => (/^[\w@./:=+-]+$/.test(a) ? a : `"${a.replace(/(["\\$`])/g, '\\$1')}"`);
  return { args, text: `npm ${args.map(quote).join(' ')}` };
}

/** "Noto Emoji (emoji-datasource-google 16.0.0), images Apache-2.0 (…)" plus, for Twemoji, the attribution. */
export function emojiCredit(vendor: EmojiVendor, version: string): string {
  const v = EMOJI_VENDORS[vendor];
  return `${v.set} (${v.pkg} ${version}), images ${v.license}${v.attribution ? `; attribution: ${v.attribution}` : ''}`;
}
