/**
 * A small classifier trained on the real training split: the judge of generated images (accuracy on the requested
 * class) and the feature extractor of classifier-FID (its penultimate layer). Images whose sides divide by 4 get a small
 * CNN (3×3 conv, two stride-2 convs, a 64-wide feature layer: ≈99 % on MNIST digits); other data an MLP on the values.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import { readCheckpoint, writeCheckpoint } from '../checkpoint';
import { Dataset, sampleBatch } from '../data';
import { conv, convInit, dense, denseInit, Params, silu } from '../nn/params';
import { Rng } from '../rng';

export const FEATURE_DIM = 64;

export class Classifier {
  constructor(
    readonly params: Params,
    readonly inputDim: number,
    readonly numClasses: number,
    /** [H, W, C] when this is the CNN. */
    readonly imageShape?: number[],
  ) {}

  /** `imageShape` ([H, W, C]) selects the CNN when H and W divide by 4. */
  static create(inputDim: number, numClasses: number, seed: number, imageShape?: number[]): Classifier {
    const p = new Params(new Rng(seed, 'classifier'));
    const cnn = imageShape && imageShape.length === 3 && imageShape[0] % 4 === 0 && imageShape[1] % 4 === 0 ? imageShape : undefined;
    if (cnn) {
      const [h, w, c] = cnn;
      convInit(p, 'c0', 3, c, 16);
      convInit(p, 'c1', 3, 16, 32);
      convInit(p, 'c2', 3, 32, 32);
      denseInit(p, 'fc1', (h / 4) * (w / 4) * 32, FEATURE_DIM);
    } else {
      denseInit(p, 'fc0', inputDim, 256);
      denseInit(p, 'fc1', 256, FEATURE_DIM);
    }
    denseInit(p, 'out', FEATURE_DIM, numClasses);
    return new Classifier(p, inputDim, numClasses, cnn);
  }

  /** What a cached classifier must match to be reused. */
  get signature(): string {
    return this.imageShape ? `cnn:${this.imageShape.join('x')}:${this.numClasses}` : `${this.inputDim}x${this.numClasses}`;
  }

  features(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (this.imageShape) {
        const p = this.params;
        let h = silu(conv(p, 'c0', tf.reshape(x, [-1, ...this.imageShape])));
        h = silu(conv(p, 'c1', h, 2));
        h = silu(conv(p, 'c2', h, 2));
        return silu(dense(p, 'fc1', tf.reshape(h, [h.shape[0], -1])));
      }
      return silu(dense(this.params, 'fc1', silu(dense(this.params, 'fc0', tf.reshape(x, [-1, this.inputDim])))));
    });
  }

  logits(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => dense(this.params, 'out', this.features(x)));
  }

  /** Predicted classes and penultimate features of rows of `x` (values in [-1, 1]). */
  async run(x: Float32Array, batch = 500): Promise<{ pred: Int32Array; feats: Float32Array }> {
    const n = x.length / this.inputDim;
    const pred = new Int32Array(n);
    const feats = new Float32Array(n * FEATURE_DIM);
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const [p, f] = tf.tidy(() => {
        const xt = tf.tensor2d(x.subarray(s * this.inputDim, e * this.inputDim), [e - s, this.inputDim]);
        const f = this.features(xt);
        return [tf.argMax(dense(this.params, 'out', f), 1), f];
      });
      try {
        pred.set((await p.data()) as Int32Array, s);
        feats.set((await f.data()) as Float32Array, s * FEATURE_DIM);
      } finally {
        tf.dispose([p, f]);
      }
    }
    return { pred, feats };
  }

  async save(file: string, heldOutAccuracy: number): Promise<void> {
    const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const { name, variable } of this.params.list()) arrays.set(`w/${name}`, { shape: variable.shape, data: (await variable.data()) as Float32Array });
    writeCheckpoint(
      file,
      { unit: 'classifier', step: 0, totalSteps: 0, final: true, configHash: this.signature, rng: [0, 0, 0, 0], withW: false, loss: heldOutAccuracy, savedAt: Date.now() },
      arrays,
    );
  }

  static load(file: string, inputDim: number, numClasses: number, imageShape?: number[]): { clf: Classifier; accuracy: number } | undefined {
    if (!fs.existsSync(file)) return undefined;
    try {
      const { header, arrays } = readCheckpoint(file);
      const clf = Classifier.create(inputDim, numClasses, 0, imageShape);
      if (header.configHash !== clf.signature) {
        clf.dispose();
        return undefined;
      }
      tf.tidy(() => {
        for (const { name, variable } of clf.params.list()) {
          const a = arrays.get(`w/${name}`)!;
          variable.assign(tf.tensor(a.data, a.shape));
        }
      });
      return { clf, accuracy: header.loss ?? 0 };
    } catch {
      return undefined;
    }
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Trains the classifier on `train` (with light noise augmentation) and measures its accuracy on `test`. */
export async function trainClassifier(
  train: Dataset,
  test: Dataset,
  {
    steps = 1500,
    batch = 128,
    seed = 0,
    log,
    check,
  }: {
    steps?: number;
    batch?: number;
    seed?: number;
    log?: (s: string) => void;
    /** Called between steps; throws to abandon training (e.g. a cancelled evaluation). Nothing is saved then. */
    check?: () => void;
  } = {},
): Promise<{ clf: Classifier; accuracy: number }> {
  const d = train.shape.reduce((a, b) => a * b, 1);
  const clf = Classifier.create(d, train.numClasses, seed, train.kind === 'image' ? train.shape : undefined);
  const opt = tf.train.adam(1e-3);
  const rng = new Rng(seed, 'classifier-data');
  const vars = clf.params.list().map((p) => p.variable);
  for (let s = 0; s < steps; s++) {
    if (check && s % 20 === 0) {
      // Let a cancel message in, then honour it.
      await new Promise((r) => setImmediate(r));
      try {
        check();
      } catch (e) {
        opt.dispose();
        clf.dispose();
        throw e;
      }
    }
    const idx = Int32Array.from({ length: batch }, () => rng.int(train.n));
    const { x, labels } = sampleBatch(train, idx);
    const noise = rng.normals(x.length);
    for (let i = 0; i < x.length; i++) x[i] += 0.05 * noise[i];
    tf.tidy(() => {
      const xt = tf.tensor2d(x, [batch, d]);
      const yt = tf.oneHot(tf.tensor1d(labels, 'int32'), train.numClasses);
      opt.minimize(() => tf.mean(tf.losses.softmaxCrossEntropy(yt, clf.logits(xt))) as tf.Scalar, false, vars);
    });
    if (s % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  opt.dispose();
  const { pred } = await clf.run(test.x);
  let ok = 0;
  for (let i = 0; i < test.n; i++) if (pred[i] === test.labels[i]) ok++;
  const accuracy = ok / test.n;
  log?.(`classifier: ${(accuracy * 100).toFixed(1)} % held-out accuracy on ${test.n} real examples`);
  return { clf, accuracy };
}
