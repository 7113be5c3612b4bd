import * as path from 'path';
import { assembleImages, checkImageSize } from './images';
import { IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, readIdxFile, type IdxArray } from './idx';
import { loadMnist } from './mnist';
import { loadFolder } from './folder';
import { loadEmoji } from './emoji';
import { makeToy2d, TOY_SHAPES } from './toy';
import { loadMixtureDataset } from './mixture';
import { deriveSeed } from '../random/rng';
import { allIndicesInterleaved, applyLimit, splitIndices } from './split';
import type { DataConfig, Dataset, LoadOptions } from './types';

export type { DataConfig, Dataset, LoadOptions } from './types';
export { resizeImage, resizeNearest, axisWeights } from './resize';
export { encodeIdx } from './idx';
export { decodeImageFile } from './folder';
export { splitIndices } from './split';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Default number of toy points per split. */
export const TOY_DEFAULT_N = 8192;

/**
 * Loads a dataset split. Relative paths in `cfg` are resolved against
 * `opts.baseDir` (default: the current working directory). Toy and mixture data use
 * `opts.seed` (default 0) for the train split and an independent derived seed
 * for the test split. Image values are scaled x/127.5 - 1 into [-1, 1].
 */
export async function loadDataset(cfg: DataConfig, opts: LoadOptions): Promise<Dataset> {
  if (!cfg || typeof cfg !== 'object') throw new Error(`data config must be an object, got ${JSON.stringify(cfg)}`);
  const split = opts?.split;
  if (split !== 'train' && split !== 'test') {
    throw new Error(`split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const baseDir = opts.baseDir ?? process.cwd();
  const resolve = (p: unknown, field: string): string => {
    if (typeof p !== 'string' || p.length === 0)
      throw new Error(`${field} must be a non-empty path string, got ${JSON.stringify(p)}`);
    return path.resolve(baseDir, p);
  };
  switch (cfg.kind) {
    case 'toy2d': {
      if (!TOY_SHAPES.includes(cfg.shape)) {
        throw new Error(`toy2d.shape must be one of ${TOY_SHAPES.join(', ')}, got ${JSON.stringify(cfg.shape)}`);
      }
      const seed = opts.seed ?? 0;
      const s = split === 'train' ? seed : deriveSeed(seed, 1);
      const ds = makeToy2d(cfg.shape, cfg.n ?? TOY_DEFAULT_N, s, cfg.noise, split);
      return ds;
    }
    case 'mnist':
      return loadMnist(cfg, split);
    case 'mixture':
      return loadMixtureDataset(cfg, split, opts.seed ?? 0);
    case 'idx':
      return loadIdx(cfg, split, resolve);
    case 'folder':
      return loadFolder(cfg, resolve(cfg.path, 'folder.path'), split);
    case 'emoji':
      return loadEmoji(cfg, split);
    default:
      throw new Error(
        `data.kind must be one of toy2d, mnist, mixture, idx, folder, emoji, got ${JSON.stringify((cfg as { kind?: unknown }).kind)}`,
      );
  }
}

function checkImagesLabels(images: IdxArray, labels: IdxArray, imagesFile: string, labelsFile: string): void {
  if (images.dims.length !== 3) {
    throw new Error(
      `${imagesFile}: expected a 3-D IDX image file [count, rows, cols], got dims [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsFile}: expected a 1-D IDX label file [count], got dims [${labels.dims.join(', ')}]`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(
      `IDX count mismatch: ${imagesFile} holds ${images.dims[0]} images but ${labelsFile} holds ${labels.dims[0]} labels`,
    );
  }
  if (images.dims[0] === 0) throw new Error(`${imagesFile}: IDX file holds no images`);
  if (images.dims[1] === 0 || images.dims[2] === 0) {
    throw new Error(`${imagesFile}: IDX images have zero size ${images.dims[1]}×${images.dims[2]}`);
  }
}

function loadIdx(
  cfg: Extract<DataConfig, { kind: 'idx' }>,
  split: 'train' | 'test',
  resolve: (p: unknown, field: string) => string,
): Dataset {
  const imagesFile = resolve(cfg.images, 'idx.images');
  const labelsFile = resolve(cfg.labels, 'idx.labels');
  const hasTest = cfg.testImages !== undefined || cfg.testLabels !== undefined;
  if (hasTest && (cfg.testImages === undefined || cfg.testLabels === undefined)) {
    throw new Error('idx.testImages and idx.testLabels must be given together');
  }
  const testImagesFile = hasTest ? resolve(cfg.testImages, 'idx.testImages') : '';
  const testLabelsFile = hasTest ? resolve(cfg.testLabels, 'idx.testLabels') : '';

  const trainLabels = readIdxFile(labelsFile, IDX_MAGIC_LABELS, 'idx.labels');
  const testLabels = hasTest ? readIdxFile(testLabelsFile, IDX_MAGIC_LABELS, 'idx.testLabels') : null;

  let maxLabel = 0;
  for (const l of [trainLabels, testLabels])
    if (l) for (let i = 0; i < l.data.length; i++) maxLabel = Math.max(maxLabel, l.data[i]);
  let numClasses: number;
  let classNames: string[];
  if (cfg.classNames !== undefined) {
    if (
      !Array.isArray(cfg.classNames) ||
      cfg.classNames.length === 0 ||
      !cfg.classNames.every((c) => typeof c === 'string')
    ) {
      throw new Error('idx.classNames must be a non-empty array of strings');
    }
    if (cfg.classNames.length <= maxLabel) {
      throw new Error(
        `idx.classNames has ${cfg.classNames.length} names but the label files contain class id ${maxLabel}`,
      );
    }
    classNames = cfg.classNames.slice();
    numClasses = classNames.length;
  } else {
    numClasses = maxLabel + 1;
    const isFashion = /fashion/i.test(imagesFile) || /fashion/i.test(labelsFile);
    classNames =
      numClasses === 10 && isFashion
        ? FASHION_MNIST_CLASSES.slice()
        : Array.from({ length: numClasses }, (_, k) => String(k));
  }

  const useTestFiles = split === 'test' && hasTest;
  const imgFile = useTestFiles ? testImagesFile : imagesFile;
  const lblFile = useTestFiles ? testLabelsFile : labelsFile;
  const labels = useTestFiles ? (testLabels as IdxArray) : trainLabels;
  const images = readIdxFile(imgFile, IDX_MAGIC_IMAGES, useTestFiles ? 'idx.testImages' : 'idx.images');
  checkImagesLabels(images, labels, imgFile, lblFile);

  const [, rows, cols] = images.dims;
  const size = checkImageSize(cfg.imageSize ?? Math.min(rows, cols), 'idx.imageSize');
  const all = hasTest ? allIndicesInterleaved(labels.data, numClasses) : splitIndices(labels.data, numClasses, split);
  const idx = applyLimit(all, cfg.limit, 'idx.limit');
  const px = rows * cols;
  const x = assembleImages(
    idx.length,
    (j) => ({ data: images.data.subarray(idx[j] * px, (idx[j] + 1) * px), h: rows, w: cols, c: 1 }),
    size,
    1,
  );
  const holdout = hasTest ? '' : ' (10% per-class holdout)';
  return {
    kind: 'image',
    x,
    labels: Int32Array.from(idx, (i) => labels.data[i]),
    n: idx.length,
    shape: [size, size, 1],
    numClasses,
    classNames,
    source: `IDX ${imgFile}, ${idx.length} ${split} images${holdout}, ${rows}×${cols} → ${size}×${size}`,
  };
}

/** Gathers rows `indices` of a dataset into fresh arrays. */
export function sampleBatch(ds: Dataset, indices: ArrayLike<number>): { x: Float32Array; labels: Int32Array } {
  const d = ds.shape.reduce((a, b) => a * b, 1);
  const b = indices.length;
  const x = new Float32Array(b * d);
  const labels = new Int32Array(b);
  for (let j = 0; j < b; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new Error(`sampleBatch: index ${i} at position ${j} is out of range 0..${ds.n - 1}`);
    }
    x.set(ds.x.subarray(i * d, (i + 1) * d), j * d);
    labels[j] = ds.labels[i];
  }
  return { x, labels };
}
