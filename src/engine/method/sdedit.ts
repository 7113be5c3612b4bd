/**
 * Few-step editing (SDEdit, Meng et al. 2022; docs/method.md, "Editing: SDEdit and inpainting") and inpainting with any denoiser of a run: the guided teacher (2 NFE per
 * step) or a w-conditioned student (1 NFE per step).
 *
 * Works on model-space arrays only (`x0` and the result have the network's example shape): a pixel-space run passes
 * images in [-1, 1]; a latent-space run encodes before and decodes after (run-level code, see tasks/edit.ts).
 *
 * SDEdit: z_S = α_S·x0 + σ_S·ε, then DDIM steps (exactly the update of `sample`) on the K-step sampler's grid
 * t_i = i/K restricted to [0, S]: from S to the first grid time below it, then down the grid to 0 — ⌈S·K⌉ steps. A
 * distilled K-step student so meets only its own training times after the first step (a grid S·k/K would ask it for
 * times it never saw). At S = 1 the start is z_1 = ε, the sampler's own start
 * (docs/method.md, "Samplers": z_1 ~ N(0, I)), and the noise is the same draw, so strength 1 without a mask *is* `sample` (DDIM).
 * Inpainting (mask: 1 = repaint, 0 = keep): before each step after the first, the known region of z_t is replaced by
 * the input diffused to t with fresh seeded noise, and the result takes the known values from x0 exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { coefs, ddimStep, diffuse } from './diffusion';
import { Rng } from '../random/rng';
import { Denoiser, SamplingCancelled, xPrediction } from './samplers';
import { logSnr } from './schedule';

export interface EditRequest {
  /** B inputs in model space, packed like the network's examples (images: NHWC in [-1, 1]). */
  x0: Float32Array;
  /** Target class per input. */
  classes: Int32Array;
  /** Guidance weight per input. */
  w: Float32Array;
  /** S ∈ [0, 1]: how far the input is diffused before denoising (0 = returned unchanged, 1 = pure noise). */
  strength: number;
  /** K ≥ 1: the sampler's grid i/K (restricted to [0, S], so ⌈S·K⌉ steps are taken). */
  steps: number;
  /**
   * Optional 0/1 mask in model space, 1 = repaint, 0 = keep: one example's worth of values (shared by the batch)
   * or one per input.
   */
  mask?: Float32Array;
  seed: number;
  onStep?: (done: number, total: number) => void;
  /** Checked between steps: returns true to abandon the edit. */
  cancelled?: () => boolean;
}

export interface EditResult {
  /** The edited inputs (float32, not clipped); known values (mask 0) equal x0's exactly. */
  x: Float32Array;
  /** Network evaluations per input: one per step taken (⌈S·K⌉) for a student, two for the teacher, 0 at strength 0. */
  nfe: number;
  /** The sampler's time grid, t = S down to 0. */
  times: number[];
}

/** Validates a request against the denoiser; throws an Error naming the bad field and what was expected. */
export function checkEditRequest(d: Denoiser, req: EditRequest): void {
  const b = req.classes.length;
  const shape = d.net.exampleShape;
  const size = shape.reduce((a, c) => a * c, 1);
  if (b < 1) throw new Error('classes: expected at least one target class');
  if (req.w.length !== b) throw new Error(`w: expected one guidance weight per input (${b}), got ${req.w.length}`);
  for (const c of req.classes) {
    if (!Number.isInteger(c) || c < 0 || c >= d.net.numClasses) {
      throw new Error(`class: ${c} is out of range; the model has classes 0 to ${d.net.numClasses - 1}`);
    }
  }
  for (const w of req.w) if (!Number.isFinite(w)) throw new Error(`w: expected a finite guidance weight, got ${w}`);
  if (typeof req.strength !== 'number' || !(req.strength >= 0 && req.strength <= 1)) {
    throw new Error(`strength: expected a number in [0, 1], got ${req.strength}`);
  }
  if (!Number.isInteger(req.steps) || req.steps < 1)
    throw new Error(`steps: expected a positive integer, got ${req.steps}`);
  if (!Number.isInteger(req.seed)) throw new Error(`seed: expected an integer, got ${req.seed}`);
  if (req.x0.length !== b * size) {
    throw new Error(
      `image: expected ${b} × [${shape.join(', ')}] = ${b * size} model-space values, got ${req.x0.length}`,
    );
  }
  for (let i = 0; i < req.x0.length; i++) {
    if (!Number.isFinite(req.x0[i])) throw new Error(`image: value ${i} is ${req.x0[i]}; expected finite numbers`);
  }
  if (req.mask) {
    if (req.mask.length !== size && req.mask.length !== b * size) {
      throw new Error(
        `mask: expected [${shape.join(', ')}] = ${size} values (or ${b * size} for ${b} inputs), the shape of the image; got ${req.mask.length}`,
      );
    }
    for (let i = 0; i < req.mask.length; i++) {
      if (req.mask[i] !== 0 && req.mask[i] !== 1)
        throw new Error(`mask: value ${i} is ${req.mask[i]}; expected 0 (keep) or 1 (repaint)`);
    }
  }
}

/** The time grid of an edit: S, then the grid times i/K below S, down to 0. */
export function editTimes(strength: number, steps: number): number[] {
  const times = [strength];
  for (let i = Math.ceil(strength * steps) - 1; i >= 0; i--) if (i / steps < strength) times.push(i / steps);
  return times;
}

/** SDEdit (and, with a mask, inpainting) of B inputs towards their classes at guidance w; see the module comment. */
export async function edit(d: Denoiser, req: EditRequest): Promise<EditResult> {
  checkEditRequest(d, req);
  const b = req.classes.length;
  const shape = [b, ...d.net.exampleShape];
  const size = req.x0.length;
  const S = req.strength;
  if (S === 0) return { x: req.x0.slice(), nfe: 0, times: [0] };
  const times = editTimes(S, req.steps);
  const K = times.length - 1; // steps taken
  const nfePerStep = d.net.withW ? 1 : 2;
  const lam = (t: number) => logSnr(t, d.schedule);
  const fill = (v: number) => new Float32Array(b).fill(v);
  // the same stream and first draw as `sample`, so S = 1 starts from the very same z_1
  const eps = new Rng(req.seed, 'sample').normals(size);
  const knownNoise = new Rng(req.seed, 'edit-known');
  const x0 = tf.tensor(req.x0, shape);
  const repaint = req.mask
    ? tf.tidy(() =>
        tf.broadcastTo(
          tf.greater(tf.tensor(req.mask!, req.mask!.length === size ? shape : [1, ...d.net.exampleShape]), 0.5),
          shape,
        ),
      )
    : undefined;
  /** The input diffused to t with the given noise. */
  const noised = (t: number, e: Float32Array) =>
    tf.tidy(() => diffuse({ x: x0, eps: tf.tensor(e, shape), c: coefs(fill(lam(t)), shape.length) }));
  let z = S === 1 ? tf.tensor(eps, shape) : noised(S, eps);
  try {
    for (let k = K; k >= 1; k--) {
      if (req.cancelled?.()) throw new SamplingCancelled();
      const t = times[K - k];
      const next = tf.tidy(() => {
        // the first step's known region already is the input diffused to S (same noise)
        const zt = repaint && k < K ? tf.where(repaint, z, noised(t, knownNoise.normals(size))) : z;
        const x = xPrediction(d, { z: zt, lambdas: fill(lam(t)), classes: req.classes, w: req.w });
        if (k === 1) return repaint ? tf.where(repaint, x, x0) : x; // the last step returns x̂
        return ddimStep({ z: zt, x, lambdaT: fill(lam(t)), lambdaS: fill(lam(times[K - k + 1])) });
      });
      z.dispose();
      z = next;
      req.onStep?.(K - k + 1, K);
      await new Promise((r) => setImmediate(r));
    }
    return { x: (await z.data()) as Float32Array, nfe: K * nfePerStep, times };
  } finally {
    z.dispose();
    x0.dispose();
    repaint?.dispose();
  }
}
