/**
 * `distill edit` on a run folder: reads the input image (and mask) the way the image-folder loader reads training
 * images, picks the checkpoint (default: the most distilled stage present), runs `edit` (edit.ts) and returns the
 * edited image as a PNG at the model's resolution.
 *
 * Images ↔ model space happens in `editRun` only: for a pixel-space run the model space is the pixels in [-1, 1];
 * a latent-space run encodes the input (and downsamples the mask: a latent cell is repainted when any pixel of its
 * factor×factor block is) before `edit` and decodes its result after. Latent inpainting keeps the known region only up
 * to the autoencoder's reconstruction (the decoder redraws every pixel), so the decoded result's kept pixels are then
 * replaced by the input's: the output keeps them exactly, as in pixel space.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { BackendChoice } from '../backend/select';
import { ResolvedConfig, students, units as unitList } from '../run/config';
import { decodeImageFile, resizeNearest } from '../data';
import { assembleImages } from '../data/images';
import { edit } from '../method/sdedit';
import type { StageName } from '../run/events';
import { DataInfo, finalStudentSteps, loadDenoiser, openRun, resolveCheckpoint } from './open-run';
import { imageGridPng } from '../io/png';
import { listCheckpoints } from '../run/run-folder';
import { disposeDenoiser, LatentCodec } from '../method/samplers';

/** An image given as a file, or as the bytes of one (named in errors). */
export type ImageFile = string | { name: string; data: Buffer };

export interface EditSpec {
  runDir: string;
  /** Input image file (PNG or JPEG, any size: centre-cropped and resized like the training images). */
  image: ImageFile;
  /** Target class: its name in the run's dataset (a folder name, a digit), else its id. */
  class: number | string;
  /** Strength S ∈ [0, 1]. */
  strength: number;
  /** Guidance weight. */
  w: number;
  /** Default: the most distilled stage with a checkpoint. */
  stage?: StageName;
  /** Default: the few-step student's own step count, or sampling.teacherSteps for the teacher and the guided student. */
  steps?: number;
  /** Mask image: white (grey ≥ 0.5) = repaint, black = keep; resized to the model's resolution (nearest). */
  mask?: ImageFile;
  seed?: number;
  /** A checkpoint file relative to runDir (its unit's network is used); default: the newest of the stage/steps. */
  checkpoint?: string;
}

export interface EditRunResult {
  /** The edited image alone, at the model's resolution and channels. */
  png: Buffer;
  /** [H, W, C] of the image. */
  shape: number[];
  stage: StageName;
  unit: string;
  checkpoint: string;
  steps: number;
  times: number[];
  nfe: number;
  ms: number;
  classId: number;
  className: string;
}

/** The stage and step count `distill edit` uses when they are not given. */
export function defaultEditTarget(
  runDir: string,
  cfg: ResolvedConfig,
  stage: StageName | undefined,
  steps: number | undefined,
): { stage: StageName; steps: number } {
  const present = unitList(cfg).filter((u) => listCheckpoints(runDir, u.unit).length > 0);
  if (stage === undefined) {
    const last = present[present.length - 1];
    if (!last)
      throw new Error(`${runDir}: no stage has a checkpoint yet; train the run first (distill resume ${runDir})`);
    stage = last.stage;
  }
  if (steps !== undefined) return { stage, steps };
  if (stage !== 'progressive' && stage !== 'consistency') return { stage, steps: cfg.sampling.teacherSteps };
  const method = stage;
  const trained = students(cfg).filter((s) => s.method === method && present.some((u) => u.unit === s.unit));
  // none trained yet: ask for the final student, whose missing checkpoint resolveCheckpoint reports
  return { stage, steps: trained.length ? trained[trained.length - 1].steps : finalStudentSteps(cfg, method) };
}

function readFileFor(field: string, file: ImageFile): Buffer {
  if (typeof file !== 'string') return file.data;
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(
      `${field}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
}

export function imageShape(info: DataInfo, runDir: string): [number, number, 1 | 3] {
  const [h, w, c] = info.shape;
  if (info.kind !== 'image' || info.shape.length !== 3 || h !== w || (c !== 1 && c !== 3)) {
    throw new Error(
      `${runDir}: edit needs a run on images; this run's data is ${info.source} (examples of shape [${info.shape.join(', ')}])`,
    );
  }
  return [h, w, c];
}

/** An image file as the run's training images are: centre-cropped, resized to size×size, c channels, in [-1, 1]. */
export function readImageForRun(file: ImageFile, size: number, c: 1 | 3): Float32Array {
  const img = decodeImageFile(readFileFor('image', file), typeof file === 'string' ? file : file.name, c);
  return assembleImages(1, () => img, size, c);
}

/** A mask file as 0/1 per value of a size×size×c image: grey ≥ 0.5 (white) = 1 = repaint; resized with nearest. */
export function readMaskForRun(file: ImageFile, size: number, c: number): Float32Array {
  const img = decodeImageFile(readFileFor('mask', file), typeof file === 'string' ? file : file.name, 1);
  const grey = resizeNearest(img.data, img.h, img.w, 1, size);
  const out = new Float32Array(size * size * c);
  for (let p = 0; p < grey.length; p++) out.fill(grey[p] >= 127.5 ? 1 : 0, p * c, (p + 1) * c);
  return out;
}

function classId(value: number | string, info: DataInfo): number {
  const names = info.classNames;
  const byName = typeof value === 'string' ? names.indexOf(value) : -1;
  if (byName >= 0) return byName;
  const id = Number(value);
  if (typeof value === 'string' && (value.trim() === '' || !Number.isInteger(id))) {
    throw new Error(
      `class: "${value}" is neither a class id (0 to ${info.numClasses - 1}) nor a class name (${names.join(', ')})`,
    );
  }
  if (!Number.isInteger(id) || id < 0 || id >= info.numClasses) {
    throw new Error(
      `class: ${value} is out of range; the run has classes 0 to ${info.numClasses - 1} (${names.join(', ')})`,
    );
  }
  return id;
}

/** Edits (or, with a mask, inpaints) one image with a run's checkpoint; see the module comment. */
export async function editRun(
  spec: EditSpec,
  opts: {
    backend?: BackendChoice;
    threads?: number;
    wasmDir?: string;
    onStep?: (done: number, total: number) => void;
    signal?: AbortSignal;
  } = {},
): Promise<EditRunResult> {
  const { runDir, cfg, info } = await openRun(spec.runDir, opts);
  const [size, , c] = imageShape(info, runDir);
  const cls = classId(spec.class, info);
  const target = defaultEditTarget(runDir, cfg, spec.stage, spec.steps);
  const { unit, file, netStage } = resolveCheckpoint(runDir, cfg, { ...target, checkpoint: spec.checkpoint });
  const image = readImageForRun(spec.image, size, c);
  const imageMask = spec.mask !== undefined ? readMaskForRun(spec.mask, size, c) : undefined;
  const d = await loadDenoiser(runDir, cfg, file, netStage);
  try {
    const t0 = performance.now();
    // pixel space: the model's space is the image in [-1, 1]; latent space: its scaled encoder mean
    const x0 = d.codec ? await d.codec.encode(image, 1) : image;
    const mask = imageMask && d.codec ? latentMask(imageMask, d.codec) : imageMask;
    const r = await edit(d, {
      x0,
      classes: Int32Array.of(cls),
      w: Float32Array.of(spec.w),
      strength: spec.strength,
      steps: target.steps,
      mask,
      seed: spec.seed ?? 0,
      onStep: opts.onStep,
      cancelled: () => opts.signal?.aborted === true,
    });
    let out = r.x;
    if (d.codec) {
      out = await d.codec.decode(r.x, 1);
      if (imageMask) for (let i = 0; i < out.length; i++) if (imageMask[i] === 0) out[i] = image[i];
    }
    const ms = performance.now() - t0;
    const png = imageGridPng(out, { n: 1, h: size, w: size, c, rows: 1, cols: 1, pad: 0, scale: 1 });
    return {
      png,
      shape: [size, size, c],
      stage: netStage,
      unit,
      checkpoint: path.relative(runDir, file),
      steps: target.steps,
      times: r.times,
      nfe: r.nfe,
      ms,
      classId: cls,
      className: info.classNames[cls] ?? String(cls),
    };
  } finally {
    disposeDenoiser(d);
  }
}

/**
 * An image-resolution 0/1 mask (channels replicated) on a codec's latent grid: a latent cell is 1 (repaint) when any
 * pixel of its block is, so everything the repainted region touches is regenerated.
 */
export function latentMask(mask: Float32Array, codec: Pick<LatentCodec, 'imageShape' | 'latentShape'>): Float32Array {
  const [H, W, C] = codec.imageShape;
  const [h, w, zc] = codec.latentShape;
  const fy = H / h;
  const fx = W / w;
  const out = new Float32Array(h * w * zc);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (mask[(y * W + x) * C] !== 1) continue;
      const cell = Math.floor(y / fy) * w + Math.floor(x / fx);
      out.fill(1, cell * zc, (cell + 1) * zc);
    }
  }
  return out;
}
