import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { assembleImages, checkImageSize, fromRgba, type RawImage } from './images';
import { applyLimit, splitIndices } from './split';
import type { Dataset } from './types';

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/**
 * Decodes a PNG or JPEG buffer (detected by its signature) to 1 or 3 channel bytes, transparency composited over
 * `background` (RGB bytes, default black). Throws an Error naming `file` if the data is not a valid PNG/JPEG.
 */
export function decodeImageFile(
  buf: Buffer,
  file: string,
  channels: 1 | 3,
  background?: readonly [number, number, number],
): RawImage {
  const isPng = buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a;
  const isJpeg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  let w: number;
  let h: number;
  let rgba: ArrayLike<number>;
  try {
    if (isPng) {
      const png = PNG.sync.read(buf);
      w = png.width;
      h = png.height;
      rgba = png.data;
    } else if (isJpeg) {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: false,
        maxMemoryUsageInMB: 1024,
      });
      w = img.width;
      h = img.height;
      rgba = img.data;
    } else {
      throw new Error('not a PNG or JPEG file (unrecognised signature)');
    }
  } catch (e) {
    throw new Error(`corrupt image ${file}: ${(e as Error).message}`);
  }
  if (!(w > 0 && h > 0) || rgba.length < w * h * 4) {
    throw new Error(`corrupt image ${file}: decoded to ${w}×${h} with ${rgba.length} bytes`);
  }
  return { data: fromRgba(rgba, w, h, channels, background), w, h, c: channels };
}

function statOrThrow(p: string, field: string): fs.Stats {
  try {
    return fs.statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${field}: folder not found: ${p}`);
    throw new Error(`${field}: cannot access ${p}: ${(e as Error).message}`);
  }
}

/** Lists class folders (sorted) and their image files (sorted); validates structure. */
export function scanImageFolder(root: string): { classNames: string[]; files: string[][] } {
  const st = statOrThrow(root, 'folder.path');
  if (!st.isDirectory()) throw new Error(`folder.path: ${root} is not a directory`);
  const entries = fs.readdirSync(root, { withFileTypes: true });
  const classNames = entries
    .filter(
      (e) =>
        !e.name.startsWith('.') &&
        (e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(root, e.name)).isDirectory())),
    )
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classNames.length === 0) {
    throw new Error(`folder.path: no classes found in ${root} (expected one sub-folder of PNG/JPEG images per class)`);
  }
  const files = classNames.map((name) => {
    const dir = path.join(root, name);
    const imgs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.') && !e.isDirectory() && IMAGE_EXT.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((f) => path.join(dir, f));
    if (imgs.length === 0) {
      throw new Error(`folder.path: class folder ${dir} is empty (expected .png/.jpg/.jpeg images)`);
    }
    return imgs;
  });
  return { classNames, files };
}

/**
 * Image-folder dataset: one sub-folder per class (sorted names = classNames).
 * Split: per class (files sorted by name), the last ~10% are the test holdout.
 * Only the images of the requested split (after `limit`) are decoded.
 */
export function loadFolder(
  cfg: { path: string; imageSize: number; channels?: 1 | 3; limit?: number },
  root: string,
  split: 'train' | 'test',
): Dataset {
  const size = checkImageSize(cfg.imageSize, 'folder.imageSize');
  const channels = cfg.channels ?? 3;
  if (channels !== 1 && channels !== 3) {
    throw new Error(`folder.channels must be 1 or 3, got ${JSON.stringify(cfg.channels)}`);
  }
  const { classNames, files } = scanImageFolder(root);
  const allFiles: string[] = [];
  const allLabels: number[] = [];
  files.forEach((list, k) => {
    for (const f of list) {
      allFiles.push(f);
      allLabels.push(k);
    }
  });
  const idx = applyLimit(splitIndices(allLabels, classNames.length, split), cfg.limit, 'folder.limit');
  const x = assembleImages(
    idx.length,
    (j) => {
      const file = allFiles[idx[j]];
      let buf: Buffer;
      try {
        buf = fs.readFileSync(file);
      } catch (e) {
        throw new Error(`cannot read image ${file}: ${(e as Error).message}`);
      }
      return decodeImageFile(buf, file, channels);
    },
    size,
    channels,
  );
  return {
    kind: 'image',
    x,
    labels: Int32Array.from(idx, (i) => allLabels[i]),
    n: idx.length,
    shape: [size, size, channels],
    numClasses: classNames.length,
    classNames,
    source: `image folder ${root}, ${classNames.length} classes, ${idx.length} ${split} images, ${size}×${size}×${channels}`,
  };
}
