/**
 * Adam with global-norm gradient clipping, warm-up and optional linear annealing, plus an EMA of the weights.
 * All state lives in tf.Variables that the checkpoint saves and restores exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NamedArrays } from './checkpoint';
import { Net } from './nn/net';

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

export class Trainer {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  readonly ema = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    readonly net: Net,
    readonly cfg: OptimConfig,
  ) {
    for (const { name, variable } of net.params.list()) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
      if (cfg.ema > 0) this.ema.set(name, tf.tidy(() => tf.variable(variable.clone(), false)));
    }
  }

  /**
   * One optimiser step on `lossFn` (which must only read the trained net's variables for gradients).
   * Returns the loss and the pre-clip gradient norm; the weights are not touched when either is not finite.
   */
  trainStep(lossFn: () => tf.Scalar): { loss: number; gradNorm: number; lr: number } {
    const { loss, grads } = this.computeGradients(lossFn);
    return this.applyGradients(grads, loss);
  }

  /** Loss and gradients of `lossFn` with respect to the trained net's parameters, keyed by parameter name. */
  computeGradients(lossFn: () => tf.Scalar): { loss: number; grads: Map<string, tf.Tensor> } {
    const vars = this.net.params.list();
    const { value, grads } = tf.variableGrads(
      lossFn,
      vars.map((v) => v.variable),
    );
    const loss = value.dataSync()[0];
    value.dispose();
    return { loss, grads: new Map(vars.map(({ name, variable }) => [name, grads[variable.name]])) };
  }

  /**
   * The update of one step from its gradients (keyed by parameter name; disposed here) and loss: clipping,
   * Adam, EMA, step count. The weights are not touched when the loss or the gradient norm is not finite.
   */
  applyGradients(grads: Map<string, tf.Tensor>, loss: number): { loss: number; gradNorm: number; lr: number } {
    const vars = this.net.params.list();
    const lr = learningRate(this.cfg, this.step);
    for (const { name } of vars) if (!grads.has(name)) throw new Error(`applyGradients: no gradient for parameter ${name}`);
    const normT = tf.tidy(() => tf.sqrt(tf.addN(vars.map(({ name }) => tf.sum(tf.square(grads.get(name)!))))));
    const gradNorm = normT.dataSync()[0];
    normT.dispose();
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      tf.dispose([...grads.values()]);
      return { loss, gradNorm, lr };
    }
    const scale = gradNorm > this.cfg.clip ? this.cfg.clip / gradNorm : 1;
    const t = this.step + 1;
    const c1 = 1 - B1 ** t;
    const c2 = 1 - B2 ** t;
    const emaDecay = Math.min(this.cfg.ema, (1 + t) / (10 + t));
    tf.tidy(() => {
      for (const { name, variable } of vars) {
        const g = tf.mul(grads.get(name)!, scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, B1), tf.mul(g, 1 - B1));
        const v1 = tf.add(tf.mul(v, B2), tf.mul(tf.square(g), 1 - B2));
        m.assign(m1);
        v.assign(v1);
        const upd = tf.div(tf.mul(m1, lr / c1), tf.add(tf.sqrt(tf.div(v1, c2)), EPS));
        variable.assign(tf.sub(variable, upd));
        const e = this.ema.get(name);
        if (e) e.assign(tf.add(tf.mul(e, emaDecay), tf.mul(variable, 1 - emaDecay)));
      }
    });
    tf.dispose([...grads.values()]);
    this.step = t;
    return { loss, gradNorm, lr };
  }

  /** Everything needed to continue exactly: weights, EMA, moments. */
  state(): NamedArrays {
    const out: NamedArrays = new Map();
    const put = (prefix: string, map: Map<string, tf.Variable>) => {
      for (const [name, v] of map) out.set(prefix + name, { shape: v.shape, data: v.dataSync() as Float32Array });
    };
    put('w/', new Map(this.net.params.list().map((p) => [p.name, p.variable])));
    put('ema/', this.ema);
    put('adam_m/', this.m);
    put('adam_v/', this.v);
    return out;
  }

  load(arrays: NamedArrays, step: number): void {
    const get = (prefix: string, name: string, like: tf.Variable) => {
      const a = arrays.get(prefix + name);
      if (!a) throw new Error(`checkpoint has no tensor ${prefix + name}`);
      if (a.shape.join() !== like.shape.join()) throw new Error(`checkpoint tensor ${prefix + name}: shape ${a.shape} ≠ model ${like.shape}`);
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
    for (const map of [this.m, this.v, this.ema]) {
      for (const v of map.values()) v.dispose();
      map.clear();
    }
  }
}

/** Loads the evaluation weights of a checkpoint (EMA if saved, else raw) into a net; `partial` leaves parameters the checkpoint lacks (a student's w branch) as they are. */
export function loadEvalWeights(net: Net, arrays: NamedArrays, file: string, { partial = false } = {}): void {
  tf.tidy(() => {
    for (const { name, variable } of net.params.list()) {
      const a = arrays.get('ema/' + name) ?? arrays.get('w/' + name);
      if (!a && partial) continue;
      if (!a) throw new Error(`${file}: no weights for parameter ${name}`);
      if (a.shape.join() !== variable.shape.join()) throw new Error(`${file}: parameter ${name} has shape ${a.shape}, the model expects ${variable.shape}`);
      variable.assign(tf.tensor(a.data, a.shape, 'float32'));
    }
  });
}
