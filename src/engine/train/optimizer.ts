/**
 * Adam with global-norm gradient clipping, warm-up and optional linear annealing, plus an EMA of the weights.
 * All state lives in tf.Variables that the checkpoint saves and restores exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedArrays } from '../run/checkpoint';
import { Net } from '../nn/net';
import { adamUpdate, emaUpdate } from '../backend/webgpu-adam';

export interface OptimConfig {
  lr: number;
  warmup: number;
  anneal: boolean;
  clip: number;
  ema: number;
  totalSteps: number;
}

const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

/** Learning rate after `step` completed steps (the rate used for step number step+1). */
export function learningRate(cfg: OptimConfig, step: number): number {
  let lr = cfg.lr;
  if (cfg.warmup > 0 && step < cfg.warmup) lr *= (step + 1) / cfg.warmup;
  if (cfg.anneal) lr *= Math.max(0, 1 - step / Math.max(cfg.totalSteps, 1));
  return lr;
}

/** The loss and pre-clip gradient norm of one optimiser step, as read back by `Trainer.flush`. */
export interface StepRecord {
  step: number;
  loss: number;
  gradNorm: number;
  /** The learning rate the step used. */
  lr: number;
}

export class Trainer {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  readonly ema = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    /** The trained network (a denoiser, or the autoencoder): only its parameters are used. */
    readonly net: Pick<Net, 'params' | 'withW'>,
    readonly cfg: OptimConfig,
  ) {
    for (const { name, variable } of net.params.list()) {
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      );
      if (cfg.ema > 0)
        this.ema.set(
          name,
          tf.tidy(() => tf.variable(variable.clone(), false)),
        );
    }
  }

  /**
   * Steps whose loss and gradient norm are still on the device. Nothing is read back per step (a GPU→CPU read
   * stalls the GPU's queue): `flush()` reads them all at once, at the log interval and before every checkpoint.
   */
  private pending: Array<{ step: number; lr: number; loss: tf.Scalar | number; norm: tf.Scalar }> = [];

  /** One optimiser step on `lossFn` (which must only read the trained net's variables for gradients). */
  trainStep(lossFn: () => tf.Scalar): void {
    const { loss, grads } = this.computeGradients(lossFn);
    this.applyGradients(grads, loss);
  }

  /** Loss (left on the device) and gradients of `lossFn` with respect to the trained net's parameters, keyed by name. */
  computeGradients(lossFn: () => tf.Scalar): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const vars = this.net.params.list();
    const { value, grads } = tf.variableGrads(
      lossFn,
      vars.map((v) => v.variable),
    );
    return { loss: value, grads: new Map(vars.map(({ name, variable }) => [name, grads[variable.name]])) };
  }

  /**
   * The update of one step from its gradients (keyed by parameter name; disposed here) and loss (a number, or a
   * scalar tensor this Trainer now owns): clipping, Adam, EMA, step count. The clip factor is computed on the device.
   * A non-finite loss or gradient norm is found by the next `flush()`, which the caller runs before it saves anything:
   * the weights of such a step are never checkpointed.
   */
  applyGradients(grads: Map<string, tf.Tensor>, loss: number | tf.Scalar): void {
    const vars = this.net.params.list();
    const lr = learningRate(this.cfg, this.step);
    for (const { name } of vars)
      if (!grads.has(name)) throw new Error(`applyGradients: no gradient for parameter ${name}`);
    // Pairwise adds, not one AddN: WebGPU's AddN binds every input as a storage buffer (at most 8 per shader stage).
    const norm = tf.tidy(
      () =>
        tf.sqrt(
          vars.map(({ name }) => tf.sum(tf.square(grads.get(name)!))).reduce((a, b) => tf.add(a, b)),
        ) as tf.Scalar,
    );
    const t = this.step + 1;
    const c1 = 1 - B1 ** t;
    const c2 = 1 - B2 ** t;
    const emaDecay = Math.min(this.cfg.ema, (1 + t) / (10 + t));
    tf.tidy(() => {
      // min(1, clip / ‖g‖)
      const scale = tf.div(this.cfg.clip, tf.maximum(norm, this.cfg.clip)) as tf.Scalar;
      for (const { name, variable } of vars) {
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const { m1, v1, w1 } = adamUpdate(
          { g: grads.get(name)!, m, v, w: variable, scale },
          { b1: B1, b2: B2, lrc1: lr / c1, c2, eps: EPS },
        );
        m.assign(m1);
        v.assign(v1);
        variable.assign(w1);
        const e = this.ema.get(name);
        if (e) e.assign(emaUpdate(e, variable, emaDecay));
      }
    });
    tf.dispose([...grads.values()]);
    this.pending.push({ step: t, lr, loss, norm });
    this.step = t;
  }

  /** Steps applied since the last flush. */
  get pendingSteps(): number {
    return this.pending.length;
  }

  /** Reads the loss and gradient norm of every step since the last flush in one read-back, oldest first. */
  async flush(): Promise<StepRecord[]> {
    const pending = this.pending;
    this.pending = [];
    if (!pending.length) return [];
    const tensors: tf.Scalar[] = [];
    for (const p of pending) {
      if (typeof p.loss !== 'number') tensors.push(p.loss);
      tensors.push(p.norm);
    }
    let values: Float32Array;
    try {
      const stacked = tf.stack(tensors);
      try {
        values = (await stacked.data()) as Float32Array;
      } finally {
        stacked.dispose();
      }
    } finally {
      tf.dispose(tensors);
    }
    let k = 0;
    return pending.map((p) => {
      const loss = typeof p.loss === 'number' ? p.loss : values[k++];
      return { step: p.step, lr: p.lr, loss, gradNorm: values[k++] };
    });
  }

  /** Everything needed to continue exactly: weights, EMA, moments (read back asynchronously: works on every backend). */
  async state(): Promise<NamedArrays> {
    const out: NamedArrays = new Map();
    const put = async (prefix: string, map: Map<string, tf.Variable>) => {
      for (const [name, v] of map) out.set(prefix + name, { shape: v.shape, data: (await v.data()) as Float32Array });
    };
    await put('w/', new Map(this.net.params.list().map((p) => [p.name, p.variable])));
    await put('ema/', this.ema);
    await put('adam_m/', this.m);
    await put('adam_v/', this.v);
    return out;
  }

  load(arrays: NamedArrays, step: number): void {
    const get = (prefix: string, name: string, like: tf.Variable) => {
      const a = arrays.get(prefix + name);
      if (!a) throw new Error(`checkpoint has no tensor ${prefix + name}`);
      if (a.shape.join() !== like.shape.join())
        throw new Error(`checkpoint tensor ${prefix + name}: shape ${a.shape} ≠ model ${like.shape}`);
      return tf.tensor(a.data, a.shape, 'float32');
    };
    tf.tidy(() => {
      for (const { name, variable } of this.net.params.list()) {
        variable.assign(get('w/', name, variable));
        this.m.get(name)!.assign(get('adam_m/', name, variable));
        this.v.get(name)!.assign(get('adam_v/', name, variable));
        const e = this.ema.get(name);
        if (e) e.assign(get('ema/', name, variable));
      }
    });
    this.step = step;
  }

  /** The weights to sample and distil from: the EMA when enabled, else the raw weights. */
  evalWeights(): Map<string, tf.Variable> {
    return this.ema.size ? this.ema : new Map(this.net.params.list().map((p) => [p.name, p.variable]));
  }

  dispose(): void {
    tf.dispose(this.pending.flatMap((p) => (typeof p.loss === 'number' ? [p.norm] : [p.loss, p.norm])));
    this.pending = [];
    for (const map of [this.m, this.v, this.ema]) {
      for (const v of map.values()) v.dispose();
      map.clear();
    }
  }
}

/** Loads the evaluation weights of a checkpoint (EMA if saved, else raw) into a net; `partial` leaves parameters the checkpoint lacks (a student's w branch) as they are. */
export function loadEvalWeights(
  net: Pick<Net, 'params'>,
  arrays: NamedArrays,
  file: string,
  { partial = false } = {},
): void {
  tf.tidy(() => {
    for (const { name, variable } of net.params.list()) {
      const a = arrays.get('ema/' + name) ?? arrays.get('w/' + name);
      if (!a && partial) continue;
      if (!a) throw new Error(`${file}: no weights for parameter ${name}`);
      if (a.shape.join() !== variable.shape.join())
        throw new Error(`${file}: parameter ${name} has shape ${a.shape}, the model expects ${variable.shape}`);
      variable.assign(tf.tensor(a.data, a.shape, 'float32'));
    }
  });
}
