/**
 * Replica factory of the bench models for the data-parallel trainer (src/engine/backend/replica-trainer.ts):
 * inputs `x` and `target`, MSE loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Replica } from '../src/engine/backend/replica-trainer';
import { makeModel } from './models';

export function createReplica(args: { model: 'convstack' | 'unet' }): Replica {
  const model = makeModel(args.model);
  return {
    vars: model.vars,
    loss: (inputs) => tf.tidy(() => tf.mean(tf.square(tf.sub(model.apply(inputs.x as tf.Tensor4D), inputs.target))) as tf.Scalar),
  };
}
