/**
 * A classifier trained on the real training split: the judge of generated images (accuracy on the requested class)
 * and the feature extractor of classifier-FID and of the k-NN diversity measures. Images whose sides divide by 4 get a
 * CNN at the data's own resolution (3×3 conv with 32 channels, two stride-2 convs with 64, a 128-wide penultimate
 * layer); other data an MLP on the values.
 *
 * The features the metrics use (`run().feats`) are taken from more than one layer: the penultimate layer alone is
 * trained to forget within-class variation (all it needs is the class), which is exactly what a mode-seeking model
 * loses, so the features also hold each convolution's channel means (what strokes, where in scale) — every block
 * scaled by its real-data spread (stored with the weights) so that each weighs the same.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import { readCheckpoint, writeCheckpoint } from '../run/checkpoint';
import { Dataset, sampleBatch } from '../data';
import { conv, convInit, dense, denseInit, Params, silu } from '../nn/params';
import { Rng } from '../random/rng';

/** Width of the penultimate layer. */
export const PENULTIMATE_DIM = 128;
const CONV = [32, 64, 64];
/** Blocks of the metric features (CNN): the channel means of each convolution, then the penultimate layer. */
const BLOCKS = [CONV[0], CONV[1], CONV[2], PENULTIMATE_DIM];

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
    const cnn =
      imageShape && imageShape.length === 3 && imageShape[0] % 4 === 0 && imageShape[1] % 4 === 0
        ? imageShape
        : undefined;
    if (cnn) {
      const [h, w, c] = cnn;
      convInit(p, 'c0', 3, c, CONV[0]);
      convInit(p, 'c1', 3, CONV[0], CONV[1]);
      convInit(p, 'c2', 3, CONV[1], CONV[2]);
      denseInit(p, 'fc1', (h / 4) * (w / 4) * CONV[2], PENULTIMATE_DIM);
      // per-block feature scales, set from the real training data after training (1 until then)
      p.constant('feature.scale', [BLOCKS.length], 1);
    } else {
      denseInit(p, 'fc0', inputDim, 256);
      denseInit(p, 'fc1', 256, PENULTIMATE_DIM);
    }
    denseInit(p, 'out', PENULTIMATE_DIM, numClasses);
    return new Classifier(p, inputDim, numClasses, cnn);
  }

  /** What a cached classifier must match to be reused (a judge of an older design is retrained, not reused). */
  get signature(): string {
    return this.imageShape
      ? `cnn2:${this.imageShape.join('x')}:${this.numClasses}`
      : `mlp2:${this.inputDim}x${this.numClasses}`;
  }

  /** Width of the metric features `run()` returns. */
  get featureDim(): number {
    return this.imageShape ? BLOCKS.reduce((a, b) => a + b, 0) : PENULTIMATE_DIM;
  }

  /** The metric feature space in words (for the report). */
  get featureSpace(): string {
    return this.imageShape
      ? `the judge's channel means of its 3 convolutions (${CONV.join(', ')}) and its penultimate layer (${PENULTIMATE_DIM}), at the data's ${this.imageShape[0]}×${this.imageShape[1]} resolution, each block scaled to the same real-data spread`
      : `the judge's penultimate layer (${PENULTIMATE_DIM})`;
  }

  /** The penultimate features, and (CNN) the activations of the convolutions. */
  private forward(x: tf.Tensor): { pen: tf.Tensor; convs: tf.Tensor[] } {
    if (this.imageShape) {
      const p = this.params;
      const h0 = silu(conv(p, 'c0', tf.reshape(x, [-1, ...this.imageShape])));
      const h1 = silu(conv(p, 'c1', h0, 2));
      const h2 = silu(conv(p, 'c2', h1, 2));
      return { pen: silu(dense(p, 'fc1', tf.reshape(h2, [h2.shape[0], -1]))), convs: [h0, h1, h2] };
    }
    return {
      pen: silu(dense(this.params, 'fc1', silu(dense(this.params, 'fc0', tf.reshape(x, [-1, this.inputDim]))))),
      convs: [],
    };
  }

  logits(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => dense(this.params, 'out', this.forward(x).pen));
  }

  /** Unscaled metric feature blocks: [channel means of each conv..., penultimate] (CNN) or [penultimate]. */
  private blocks(x: tf.Tensor): { blocks: tf.Tensor[]; pen: tf.Tensor } {
    const { pen, convs } = this.forward(x);
    return { blocks: [...convs.map((h) => tf.mean(h, [1, 2])), pen], pen };
  }

  /** Predicted classes and metric features (`featureDim` per row) of rows of `x` (values in [-1, 1]). */
  async run(x: Float32Array, batch = 500): Promise<{ pred: Int32Array; feats: Float32Array }> {
    const n = x.length / this.inputDim;
    const pred = new Int32Array(n);
    const dim = this.featureDim;
    const feats = new Float32Array(n * dim);
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const [p, f] = tf.tidy(() => {
        const xt = tf.tensor2d(x.subarray(s * this.inputDim, e * this.inputDim), [e - s, this.inputDim]);
        const { blocks, pen } = this.blocks(xt);
        const f = this.imageShape
          ? tf.concat(
              blocks.map((b, i) => tf.div(b, tf.slice(this.params.get('feature.scale'), [i], [1]))),
              1,
            )
          : pen;
        return [tf.argMax(dense(this.params, 'out', pen), 1), f];
      });
      try {
        // asynchronous reads: webgpu has no synchronous read-back in Node
        pred.set((await p.data()) as Int32Array, s);
        feats.set((await f.data()) as Float32Array, s * dim);
      } finally {
        tf.dispose([p, f]);
      }
    }
    return { pred, feats };
  }

  /**
   * Sets the per-block scales from real rows `x`: each block's total variance becomes its width (mean variance 1 per
   * dimension), so no block dominates distances and Fréchet distances by its activation scale alone.
   */
  async calibrate(x: Float32Array, batch = 500): Promise<void> {
    if (!this.imageShape) return;
    const n = x.length / this.inputDim;
    const sums = BLOCKS.map((d) => ({ s: new Float64Array(d), q: new Float64Array(d) }));
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const parts = tf.tidy(
        () => this.blocks(tf.tensor2d(x.subarray(s * this.inputDim, e * this.inputDim), [e - s, this.inputDim])).blocks,
      );
      try {
        for (const [k, b] of parts.entries()) {
          const v = (await b.data()) as Float32Array;
          const d = BLOCKS[k];
          for (let i = 0; i < v.length; i++) {
            sums[k].s[i % d] += v[i];
            sums[k].q[i % d] += v[i] * v[i];
          }
        }
      } finally {
        tf.dispose(parts);
      }
    }
    const scale = sums.map(({ s, q }, k) => {
      let total = 0;
      for (let j = 0; j < BLOCKS[k]; j++) total += Math.max(0, q[j] / n - (s[j] / n) ** 2);
      return Math.sqrt(total / BLOCKS[k]) || 1;
    });
    tf.tidy(() => this.params.get('feature.scale').assign(tf.tensor1d(scale)));
  }

  async save(file: string, heldOutAccuracy: number): Promise<void> {
    const arrays = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const { name, variable } of this.params.list())
      arrays.set(`w/${name}`, { shape: variable.shape, data: (await variable.data()) as Float32Array });
    writeCheckpoint(
      file,
      {
        unit: 'classifier',
        step: 0,
        totalSteps: 0,
        final: true,
        configHash: this.signature,
        rng: [0, 0, 0, 0],
        withW: false,
        loss: heldOutAccuracy,
        savedAt: Date.now(),
      },
      arrays,
    );
  }

  static load(
    file: string,
    inputDim: number,
    numClasses: number,
    imageShape?: number[],
  ): { clf: Classifier; accuracy: number } | undefined {
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
  const vars = clf.params
    .list()
    .filter((p) => p.name !== 'feature.scale')
    .map((p) => p.variable);
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
  await clf.calibrate(train.x);
  const { pred } = await clf.run(test.x);
  let ok = 0;
  for (let i = 0; i < test.n; i++) if (pred[i] === test.labels[i]) ok++;
  const accuracy = ok / test.n;
  log?.(`classifier: ${(accuracy * 100).toFixed(1)} % held-out accuracy on ${test.n} real examples`);
  return { clf, accuracy };
}
