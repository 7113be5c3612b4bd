import { Mulberry32 } from '../random/rng';
import type { Dataset, ToyShape } from './types';

/** Per-shape class names and default noise (standard deviation in output units). */
const TOY_SPECS: Record<ToyShape, { classNames: string[]; noise: number; describe: string }> = {
  rings: { classNames: ['inner ring', 'middle ring', 'outer ring'], noise: 0.03, describe: '3 concentric rings' },
  moons: { classNames: ['upper moon', 'lower moon'], noise: 0.05, describe: '2 interleaved half-moons' },
  spirals: { classNames: ['arm 0', 'arm 1', 'arm 2'], noise: 0.03, describe: '3 spiral arms' },
  gaussians: {
    classNames: ['blob 0', 'blob 1', 'blob 2', 'blob 3', 'blob 4', 'blob 5', 'blob 6', 'blob 7'],
    noise: 0.06,
    describe: '8 Gaussian blobs on a circle',
  },
};

export const TOY_SHAPES = Object.keys(TOY_SPECS) as ToyShape[];

/**
 * Generates a labelled 2-D toy dataset scaled to roughly [-1, 1]².
 * Classes are assigned round-robin (label = i mod K) so counts are balanced.
 * Deterministic given `seed`.
 */
export function makeToy2d(shape: ToyShape, n: number, seed: number, noise?: number, splitName = 'train'): Dataset {
  const spec = TOY_SPECS[shape];
  if (!spec) {
    throw new Error(`toy2d shape must be one of ${TOY_SHAPES.join(', ')}, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isInteger(n) || n <= 0) throw new Error(`toy2d n must be a positive integer, got ${JSON.stringify(n)}`);
  const sigma = noise ?? spec.noise;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) {
    throw new Error(`toy2d noise must be a non-negative number, got ${JSON.stringify(noise)}`);
  }
  const K = spec.classNames.length;
  const rng = new Mulberry32(seed);
  const x = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % K;
    labels[i] = k;
    let px = 0;
    let py = 0;
    switch (shape) {
      case 'rings': {
        const r = 0.3 * (k + 1) + sigma * rng.normal();
        const t = rng.uniform(0, 2 * Math.PI);
        px = r * Math.cos(t);
        py = r * Math.sin(t);
        break;
      }
      case 'moons': {
        // sklearn-style moons on [-1, 2] × [-0.5, 1], mapped to [-1, 1] × [-0.5, 0.5].
        const t = rng.uniform(0, Math.PI);
        let mx: number;
        let my: number;
        if (k === 0) {
          mx = Math.cos(t);
          my = Math.sin(t);
        } else {
          mx = 1 - Math.cos(t);
          my = 0.5 - Math.sin(t);
        }
        px = (mx - 0.5) / 1.5 + sigma * rng.normal();
        py = (my - 0.25) / 1.5 + sigma * rng.normal();
        break;
      }
      case 'spirals': {
        const t = Math.sqrt(rng.next()); // uniform density along the arm length
        const r = 0.05 + 0.85 * t;
        const theta = 3 * Math.PI * t + (2 * Math.PI * k) / K;
        px = r * Math.cos(theta) + sigma * rng.normal();
        py = r * Math.sin(theta) + sigma * rng.normal();
        break;
      }
      case 'gaussians': {
        const theta = (2 * Math.PI * k) / K;
        px = 0.75 * Math.cos(theta) + sigma * rng.normal();
        py = 0.75 * Math.sin(theta) + sigma * rng.normal();
        break;
      }
    }
    x[2 * i] = px;
    x[2 * i + 1] = py;
  }
  return {
    kind: 'toy',
    x,
    labels,
    n,
    shape: [2],
    numClasses: K,
    classNames: spec.classNames.slice(),
    source: `toy2d ${shape} (${spec.describe}), ${n} ${splitName} points, noise ${sigma}, seed ${seed}`,
  };
}
