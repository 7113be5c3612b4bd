/**
 * The WGSL GroupNorm on Dawn + SwiftShader, with and without SiLU fused into its passes, against the composite ops on
 * cpu: the value and the gradients of x, γ and β, including outputs far into SiLU's tails (z of ±60, where σ
 * saturates), and the number of dispatches the fusion saves.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { groupNorm, groupNormComposite, setFusedSilu } from '../../src/engine/backend/group-norm';
import { selectBackend } from '../../src/engine/backend/select';
import { Rng } from '../../src/engine/random/rng';
import { useSwiftShader } from '../helpers/gpu';

useSwiftShader();

const SHAPE = [3, 5, 4, 12] as [number, number, number, number];
const GROUPS = 4;

/** Value and gradients of Σ dy·GN(x) on the current backend, and the dispatches it took (webgpu). */
async function run(fused: boolean, silu: boolean, gammaScale: number) {
  const rng = new Rng(8, `gn-${gammaScale}`);
  const c = SHAPE[3];
  const x = tf.tensor(
    rng.normals(tf.util.sizeFromShape(SHAPE)).map((v, i) => v * (1 + (i % 7)) + (i % 3)),
    SHAPE,
  ) as tf.Tensor4D;
  const gamma = tf.tensor(
    rng.normals(c).map((v) => gammaScale * v),
    [c],
  );
  const beta = tf.tensor(
    rng.normals(c).map((v) => gammaScale * 0.5 * v),
    [c],
  );
  const dy = tf.tensor(rng.normals(tf.util.sizeFromShape(SHAPE)), SHAPE);
  const be = tf.backend() as unknown as { runWebGPUProgram?: (...a: unknown[]) => unknown };
  const orig = be.runWebGPUProgram;
  let dispatches = 0;
  if (orig) be.runWebGPUProgram = (...a: unknown[]) => ((dispatches += 1), orig.apply(be, a));
  try {
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.mul(
          fused
            ? groupNorm(a as tf.Tensor4D, GROUPS, g, b, { silu })
            : groupNormComposite(a as tf.Tensor4D, GROUPS, g, b, 1e-5, silu),
          dy,
        ),
      );
    const y = fused
      ? groupNorm(x, GROUPS, gamma, beta, { silu })
      : groupNormComposite(x, GROUPS, gamma, beta, 1e-5, silu);
    const forward = dispatches;
    const grads = tf.grads(f)([x, gamma, beta]);
    const out = {
      y: Array.from(await y.data()),
      dx: Array.from(await grads[0].data()),
      dgamma: Array.from(await grads[1].data()),
      dbeta: Array.from(await grads[2].data()),
      forward,
      total: dispatches,
    };
    tf.dispose([x, gamma, beta, dy, y, ...grads]);
    return out;
  } finally {
    if (orig) be.runWebGPUProgram = orig;
  }
}

function close(got: number[], want: number[], what: string): void {
  let worst = 0;
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (scale || 1));
  assert.ok(worst <= 1e-5, `${what}: worst difference ${worst} of the largest value ${scale}`);
}

describe('WGSL GroupNorm (+ fused SiLU) on webgpu against the composite ops on cpu', () => {
  for (const silu of [false, true]) {
    for (const gammaScale of [1, 40]) {
      it(`GroupNorm${silu ? ' + SiLU' : ''}, |z| up to ${gammaScale === 1 ? '~3' : '~60 (σ saturated)'}: value and the gradients of x, γ, β`, async () => {
        await selectBackend({ backend: 'cpu' });
        const want = await run(false, silu, gammaScale);
        await selectBackend({ backend: 'webgpu' });
        const before = tf.memory().numTensors;
        const got = await run(true, silu, gammaScale);
        assert.equal(tf.memory().numTensors, before, 'tensors leaked');
        close(got.y, want.y, 'value');
        close(got.dx, want.dx, 'dx');
        close(got.dgamma, want.dgamma, 'dγ');
        close(got.dbeta, want.dbeta, 'dβ');
        for (const v of [...got.y, ...got.dx, ...got.dgamma, ...got.dbeta]) assert.ok(Number.isFinite(v));
        // 3 passes forward whether or not SiLU is in them.
        assert.equal(got.forward, 3);
      });
    }
  }

  it('fusing SiLU gives the same numbers as SiLU after the kernel, in fewer dispatches', async () => {
    await selectBackend({ backend: 'webgpu' });
    setFusedSilu(false);
    const apart = await run(true, true, 1).finally(() => setFusedSilu(true));
    const fused = await run(true, true, 1);
    close(fused.y, apart.y, 'value');
    close(fused.dx, apart.dx, 'dx');
    close(fused.dgamma, apart.dgamma, 'dγ');
    assert.equal(apart.forward, 5, 'GroupNorm 3 + Sigmoid + Multiply');
    assert.equal(fused.forward, 3);
    assert.ok(
      fused.total <= apart.total - 5,
      `dispatches forward + backward: fused ${fused.total}, apart ${apart.total}`,
    );
  });
});
