/**
 * The barrier-free kernels that replace tfjs's matmul, transpose, sum and mean on a software WebGPU adapter
 * (src/engine/backend/webgpu-software.ts), on Dawn + SwiftShader against the cpu backend: every transpose flag, batch
 * broadcasting, sizes that are not multiples of the 4×4 block, int32 data relabelled as float32 by a cast, transposes
 * of rank 2–6, reductions over leading / middle / trailing axis blocks with and without keepDims, conv2d with its two
 * gradients (strides, paddings, dilation, 1×1), and the calls handed
 * back to tfjs's kernels (int32 results, non-adjacent axes, few outputs). Also: the kernels are in place on SwiftShader
 * and tfjs's own are restored for a hardware adapter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { selectBackend } from '../../src/engine/backend/select';
import { softwareKernelsActive, useSoftwareKernels } from '../../src/engine/backend/webgpu-software';
import { Rng } from '../../src/engine/random/rng';
import { useSwiftShader } from '../helpers/gpu';

useSwiftShader();

/** Runs `f` on cpu and on webgpu (software kernels) with the same seeded inputs; returns both results and webgpu's program keys. */
async function both(shapes: number[][], f: (xs: tf.Tensor[]) => tf.Tensor, dtype: 'float32' | 'int32' = 'float32') {
  const rng = new Rng(3, shapes.map((s) => s.join('x')).join('|'));
  const data = shapes.map((s) => {
    const n = tf.util.sizeFromShape(s);
    return dtype === 'int32'
      ? Int32Array.from(rng.normals(n), (v) => Math.round(3 * v))
      : Float32Array.from(rng.normals(n));
  });
  const run = async (backend: 'cpu' | 'webgpu') => {
    await selectBackend({ backend });
    const keys: string[] = [];
    const be = tf.backend() as unknown as {
      runWebGPUProgram?: (p: { shaderKey: string }, ...rest: unknown[]) => unknown;
    };
    const orig = be.runWebGPUProgram;
    if (orig) be.runWebGPUProgram = (p, ...rest) => (keys.push(p.shaderKey), orig.call(be, p, ...rest));
    try {
      const xs = shapes.map((s, i) => tf.tensor(data[i], s, dtype));
      const y = f(xs);
      const out = { shape: y.shape, dtype: y.dtype, values: Array.from(await y.data()) };
      tf.dispose([...xs, y]);
      return { out, keys };
    } finally {
      if (orig) be.runWebGPUProgram = orig;
    }
  };
  const cpu = await run('cpu');
  const gpu = await run('webgpu');
  return { want: cpu.out, got: gpu.out, keys: gpu.keys };
}

function close(
  got: { shape: number[]; values: number[] },
  want: { shape: number[]; values: number[] },
  what: string,
): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  let worst = 0;
  for (let i = 0; i < want.values.length; i++) {
    worst = Math.max(worst, Math.abs(got.values[i] - want.values[i]) / (1 + Math.abs(want.values[i])));
  }
  assert.ok(worst <= 1e-5, `${what}: worst relative difference ${worst}`);
}

describe('software WebGPU kernels (barrier-free) against cpu', () => {
  it('are the kernels in place on SwiftShader, and tfjs’s own come back when switched off', async () => {
    await selectBackend({ backend: 'webgpu' });
    assert.equal(softwareKernelsActive(), true);
    const a = tf.ones([8, 8]);
    const keyOf = () => {
      const keys: string[] = [];
      const be = tf.backend() as unknown as {
        runWebGPUProgram: (p: { shaderKey: string }, ...r: unknown[]) => unknown;
      };
      const orig = be.runWebGPUProgram;
      be.runWebGPUProgram = (p, ...r) => (keys.push(p.shaderKey), orig.call(be, p, ...r));
      tf.dispose([tf.matMul(a, a), tf.transpose(a), tf.sum(tf.ones([70, 8]), 1)]);
      be.runWebGPUProgram = orig;
      return keys;
    };
    assert.deepEqual(keyOf(), ['dd_mm4x4_00', 'dd_transpose_1_0', 'dd_block_reduce']);
    useSoftwareKernels(false);
    try {
      const keys = keyOf();
      assert.ok(
        keys.every((k) => !k.startsWith('dd_')),
        `tfjs's kernels expected, got ${keys}`,
      );
    } finally {
      useSoftwareKernels(true);
    }
    a.dispose();
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`matMul transposeA=${ta} transposeB=${tb}, 37×19·19×23 (not multiples of the 4×4 block)`, async () => {
      const { want, got, keys } = await both([ta ? [19, 37] : [37, 19], tb ? [23, 19] : [19, 23]], ([a, b]) =>
        tf.matMul(a, b, ta, tb),
      );
      close(got, want, 'matMul');
      assert.deepEqual(keys, [`dd_mm4x4_${ta ? 1 : 0}${tb ? 1 : 0}`]);
    });
  }

  it('batched matMul with a broadcast batch on either side, and 1×1 edges', async () => {
    for (const shapes of [
      [
        [3, 5, 7],
        [7, 6],
      ],
      [
        [5, 7],
        [3, 7, 6],
      ],
      [
        [2, 3, 5, 7],
        [2, 3, 7, 2],
      ],
      [
        [1, 1],
        [1, 9],
      ],
    ]) {
      const { want, got, keys } = await both(shapes, ([a, b]) => tf.matMul(a, b));
      close(got, want, `matMul ${JSON.stringify(shapes)}`);
      assert.ok(keys.includes('dd_mm4x4_00'), `${JSON.stringify(shapes)} ran ${keys}`);
    }
  });

  it('matMul of int32 data cast to float32 (the cast relabels the int32 buffer) and of int32 · int32 (handed to tfjs)', async () => {
    const cast = await both(
      [
        [9, 4],
        [4, 5],
      ],
      ([a, b]) => tf.matMul(tf.cast(a, 'float32'), tf.cast(b, 'float32')),
      'int32',
    );
    close(cast.got, cast.want, 'cast matMul');
    assert.ok(cast.keys.includes('dd_mm4x4_00'));
    const ints = await both(
      [
        [9, 4],
        [4, 5],
      ],
      ([a, b]) => tf.matMul(a, b),
      'int32',
    );
    assert.equal(ints.got.dtype, 'int32');
    assert.deepEqual(ints.got.values, ints.want.values);
    assert.ok(!ints.keys.some((k) => k.startsWith('dd_')), `int32 · int32 should stay with tfjs, ran ${ints.keys}`);
  });

  it('transpose of rank 2 to 6', async () => {
    const cases: Array<[number[], number[]]> = [
      [
        [5, 7],
        [1, 0],
      ],
      [
        [3, 4, 5],
        [2, 0, 1],
      ],
      [
        [2, 3, 4, 5],
        [0, 3, 1, 2],
      ],
      [
        [2, 3, 2, 3, 2],
        [4, 3, 2, 1, 0],
      ],
      [
        [2, 2, 3, 2, 2, 3],
        [5, 0, 4, 1, 3, 2],
      ],
    ];
    for (const [shape, perm] of cases) {
      const { want, got, keys } = await both([shape], ([x]) => tf.transpose(x, perm));
      close(got, want, `transpose ${shape} by ${perm}`);
      assert.deepEqual(keys, [`dd_transpose_${perm.join('_')}`]);
    }
  });

  it('sum and mean over leading, middle and trailing axis blocks, with and without keepDims', async () => {
    const shape = [16, 5, 4, 16]; // every case below has ≥ 64 outputs (fewer go to tfjs, see the next test)
    for (const axis of [0, 1, 3, [0, 1], [1, 2], [2, 3], -1]) {
      for (const keepDims of [false, true]) {
        for (const op of ['sum', 'mean'] as const) {
          const { want, got, keys } = await both([shape], ([x]) =>
            op === 'sum' ? tf.sum(x, axis, keepDims) : tf.mean(x, axis, keepDims),
          );
          close(got, want, `${op} over ${JSON.stringify(axis)} keepDims=${keepDims}`);
          assert.ok(keys.includes('dd_block_reduce'), `${op} ${JSON.stringify(axis)}: ran ${keys}`);
        }
      }
    }
  });

  it('hands to tfjs: reductions with few outputs, over non-adjacent axes, or of int32', async () => {
    const cases: Array<[string, (x: tf.Tensor) => tf.Tensor, 'float32' | 'int32']> = [
      ['sum of everything', (x) => tf.sum(x), 'float32'],
      ['mean over axes 0 and 2', (x) => tf.mean(x, [0, 2]), 'float32'],
      ['int32 sum', (x) => tf.sum(x, 1), 'int32'],
    ];
    for (const [what, f, dtype] of cases) {
      const { want, got, keys } = await both([[6, 5, 4, 8]], ([x]) => f(x), dtype);
      close(got, want, what);
      assert.ok(!keys.includes('dd_block_reduce'), `${what} should stay with tfjs, ran ${keys}`);
    }
  });

  const convCases: Array<{
    x: number[];
    f: number[];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number;
    dilations?: number;
  }> = [
    { x: [2, 7, 6, 3], f: [3, 3, 3, 5], strides: 1, pad: 'same' },
    { x: [2, 7, 6, 3], f: [3, 3, 3, 5], strides: 2, pad: 'same' },
    { x: [1, 9, 8, 2], f: [3, 2, 2, 4], strides: [2, 1], pad: 'valid' },
    { x: [1, 9, 9, 2], f: [3, 3, 2, 3], strides: 1, pad: 1, dilations: 2 },
    { x: [3, 5, 5, 4], f: [1, 1, 4, 6], strides: 1, pad: 'same' },
  ];
  for (const c of convCases) {
    it(`conv2d and both gradients: x [${c.x}], filter [${c.f}], strides ${JSON.stringify(c.strides)}, pad ${c.pad}${c.dilations ? `, dilation ${c.dilations}` : ''}`, async () => {
      const conv = (x: tf.Tensor, f: tf.Tensor) =>
        tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
      const fwd = await both([c.x, c.f], ([x, f]) => conv(x, f));
      close(fwd.got, fwd.want, 'conv2d');
      assert.ok(fwd.keys.includes('dd_im2col') && fwd.keys.includes('dd_mm4x4_00'), `conv2d ran ${fwd.keys}`);
      if (c.dilations) return; // tfjs has no gradient for a dilated conv2d with strides; its forward is covered
      // Gradients of Σ (conv · r) for a fixed r: dx through Conv2DBackpropInput, dfilter through Conv2DBackpropFilter.
      const grads = await both([c.x, c.f], ([x, f]) => {
        // r from the host: SwiftShader's sin differs from the cpu's by ~1e-4, which is not what this test is about.
        const r = tf.tensor(
          Float32Array.from({ length: tf.util.sizeFromShape(conv(x, f).shape) }, (_, i) => Math.sin(i)),
        );
        const [gx, gf] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.reshape(conv(p, q), [-1]), r)))([
          x,
          f,
        ]);
        return tf.concat([tf.reshape(gx, [-1]), tf.reshape(gf, [-1])]);
      });
      close(grads.got, grads.want, 'conv2d gradients');
      assert.ok(grads.keys.includes('dd_col2im'), `the input gradient should gather through col2im, ran ${grads.keys}`);
    });
  }

  it('gradients through matMul, transpose and sum agree with cpu', async () => {
    const { want, got } = await both(
      [
        [10, 6],
        [6, 7],
      ],
      ([a, b]) => {
        const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.transpose(tf.matMul(p, q)))));
        const [ga, gb] = g([a, b]);
        return tf.concat([tf.reshape(ga, [-1]), tf.reshape(gb, [-1])]);
      },
    );
    close(got, want, 'gradients');
  });
});
