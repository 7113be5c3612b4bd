/**
 * selectBackend: explicit choices, auto fallback without the optional native packages, threaded wasm,
 * wasm file lookup, and that an esbuild bundle finds the .wasm files shipped next to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { resolveWasmDir, selectBackend, wasmPackageDir } from '../../src/engine/backend/select';
import { describeThreadedProgress, newThreadedProgress } from '../../src/engine/backend/wasm/node-threads';

/** Stands in for a machine without the native TensorFlow packages (whether or not this one has them). */
const nativeAbsent = (pkg: string): never => {
  throw Object.assign(new Error(`Cannot find module '${pkg}'\nRequire stack:\n- select.ts`), {
    code: 'MODULE_NOT_FOUND',
  });
};

function convOn(): Float32Array {
  return tf.tidy(() => {
    const x = tf.div(tf.reshape(tf.range(0, 2 * 6 * 6 * 3), [2, 6, 6, 3]), 50) as tf.Tensor4D;
    const w = tf.div(tf.sub(tf.reshape(tf.range(0, 3 * 3 * 3 * 4), [3, 3, 3, 4]), 50), 100) as tf.Tensor4D;
    return tf.conv2d(x, w, 1, 'same').dataSync() as Float32Array;
  });
}

test('cpu', async () => {
  const info = await selectBackend({ backend: 'cpu' });
  assert.equal(info.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(info.version, tf.version_core);
});

test('explicit tensorflow without tfjs-node is a clear error', async () => {
  await assert.rejects(
    selectBackend({ backend: 'tensorflow', nativeLoader: nativeAbsent }),
    /backend 'tensorflow' unavailable \(.*@tensorflow\/tfjs-node: not installed\).*npm install @tensorflow\/tfjs-node/,
  );
});

test('wasm with 1 thread: SIMD build, matches cpu', async () => {
  const want = (await selectBackend({ backend: 'cpu' }), convOn());
  const info = await selectBackend({ backend: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
  assert.equal(info.threads, 1);
  assert.equal(info.simd, true);
  assert.equal(info.version, '4.22.0');
  const got = convOn();
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4);
});

/** Everything a failed child process left: exit status or signal, its stderr (with the wasm start-up trace) and stdout. */
function childReport(r: ReturnType<typeof spawnSync>): string {
  return `status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`;
}

/** Runs a TypeScript snippet in a fresh Node process (under tsx) and returns its last stdout line as JSON. */
function runFresh(code: string, env: Record<string, string> = { DISTILL_DEBUG: 'wasm' }): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-fresh-'));
  try {
    const file = path.join(dir, 'main.ts');
    fs.writeFileSync(file, code);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      timeout: 120_000,
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, NODE_PATH: path.resolve(__dirname, '../../node_modules'), ...env },
    });
    assert.equal(r.status, 0, childReport(r));
    return JSON.parse(r.stdout.trim().split('\n').pop() as string);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('wasm with 2 threads (fresh process): threaded XNNPACK pool under Node, matches cpu, process exits', () => {
  const sel = path.resolve(__dirname, '../../src/engine/backend/select').replace(/\\/g, '/');
  const kern = path.resolve(__dirname, '../../src/engine/backend/wasm/kernels').replace(/\\/g, '/');
  const out = runFresh(`
    import * as tf from '@tensorflow/tfjs-core';
    import { selectBackend } from '${sel}';
    import { wasmKernelOptions } from '${kern}';
    // a plain conv (stock XNNPACK) and a Winograd conv and input gradient (the shared-memory module)
    wasmKernelOptions.winogradMinChannels = 4;
    const conv = () => tf.tidy(() => {
      const x = tf.div(tf.reshape(tf.range(0, 2 * 6 * 6 * 3), [2, 6, 6, 3]), 50) as tf.Tensor4D;
      const w = tf.div(tf.sub(tf.reshape(tf.range(0, 3 * 3 * 3 * 4), [3, 3, 3, 4]), 50), 100) as tf.Tensor4D;
      const x8 = tf.sin(tf.reshape(tf.range(0, 2 * 6 * 6 * 8), [2, 6, 6, 8])) as tf.Tensor4D;
      const w8 = tf.cos(tf.reshape(tf.range(0, 3 * 3 * 8 * 8), [3, 3, 8, 8])) as tf.Tensor4D;
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))))([x8, w8]);
      return [tf.conv2d(x, w, 1, 'same'), tf.conv2d(x8, w8, 1, 'same'), gx, gw].flatMap((t) => Array.from(t.dataSync()));
    });
    (async () => {
      await selectBackend({ backend: 'cpu' });
      const want = conv();
      const info = await selectBackend({ backend: 'wasm', threads: 2 });
      const got = conv();
      const again = await selectBackend({ backend: 'wasm', threads: 1 });
      console.log(JSON.stringify({ info, again, maxErr: Math.max(...got.map((g, i) => Math.abs(g - want[i]) / (1 + Math.abs(want[i])))) }));
    })();`) as {
    info: { name: string; threads: number; note: string };
    again: { threads: number; note: string };
    maxErr: number;
  };
  assert.equal(out.info.name, 'wasm');
  assert.equal(out.info.threads, 2, `note: ${out.info.note}`);
  assert.match(out.info.note, /threaded-simd/);
  assert.ok(out.maxErr < 1e-4, `max relative err ${out.maxErr}`);
  // the thread count is fixed per process
  assert.equal(out.again.threads, 2);
  assert.match(out.again.note, /already initialised .* 2 thread/);
});

test('a threaded start-up that misses its time-out says how far it got', () => {
  const sel = path.resolve(__dirname, '../../src/engine/backend/select').replace(/\\/g, '/');
  const out = runFresh(
    `
    import { selectBackend } from '${sel}';
    selectBackend({ backend: 'wasm', threads: 2 }).then(
      (info) => { console.log(JSON.stringify({ info })); process.exit(0); },
      (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(0); });`,
    { DISTILL_WASM_INIT_TIMEOUT_S: '0.001' },
  ) as { error?: string };
  assert.match(
    out.error ?? '',
    /^the 2-thread wasm backend did not start within 0\.001 s \((no pthread worker was created yet|\d+ pthread workers created)[^)]*\); run with threads: 1 \(--threads 1\)/,
  );
});

test('describeThreadedProgress names the stage a threaded start-up stopped in', () => {
  const p = newThreadedProgress();
  assert.match(describeThreadedProgress(p), /no pthread worker was created yet/);
  Object.assign(p, { created: 8, online: 8, loaded: 5 });
  assert.equal(
    describeThreadedProgress(p),
    '8 pthread workers created, 8 started, 5 loaded the module: waiting for the rest to load',
  );
  p.loaded = 8;
  assert.match(describeThreadedProgress(p), /all loaded, no thread started yet/);
  p.threadsRun = 1;
  assert.match(describeThreadedProgress(p), /1 thread\(s\) started: XNNPACK's thread-pool start-up did not return$/);
  p.errors.push('worker 3: boom');
  assert.match(describeThreadedProgress(p), /worker error: worker 3: boom$/);
});

test('the start-up watchdog ends a process whose main thread stays blocked, with a message; finish() silences it', () => {
  const nt = path.resolve(__dirname, '../../src/engine/backend/wasm/node-threads').replace(/\\/g, '/');
  const run = (finish: boolean) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-dog-'));
    try {
      const file = path.join(dir, 'main.ts');
      fs.writeFileSync(
        file,
        `
        import { startInitWatchdog } from '${nt}';
        const dog = startInitWatchdog(300, 'the test start-up blocks the main thread');
        dog.update('3 of 8 loaded');
        if (${finish}) dog.finish();
        // a synchronous wait, as inside a wasm module: no timer or signal handler of this thread can run
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
        console.log('returned');`,
      );
      return spawnSync(process.execPath, ['--import', 'tsx', file], {
        encoding: 'utf8',
        timeout: 60_000,
        cwd: path.resolve(__dirname, '../..'),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const blocked = run(false);
  assert.equal(blocked.signal, 'SIGKILL', childReport(blocked));
  assert.match(blocked.stderr, /distill: the test start-up blocks the main thread \(3 of 8 loaded\)/);
  assert.equal(blocked.stdout, '');
  const finished = run(true);
  assert.equal(finished.status, 0, childReport(finished));
  assert.equal(finished.stdout.trim(), 'returned');
  assert.doesNotMatch(finished.stderr, /distill:/);
});

test('auto picks wasm when no native TensorFlow is installed', async () => {
  const info = await selectBackend({ backend: 'auto', threads: 1, nativeLoader: nativeAbsent });
  assert.equal(info.name, 'wasm');
});

test('resolveWasmDir: package dist by default, override must hold the binaries', () => {
  const pkg = wasmPackageDir();
  assert.ok(pkg);
  assert.equal(resolveWasmDir(), path.join(pkg as string, 'dist'));
  assert.throws(() => resolveWasmDir(os.tmpdir()), /has no tfjs-backend-wasm-simd\.wasm/);
});

test('an esbuild bundle loads wasm (1 and 2 threads) from <bundle dir>/wasm with no node_modules around', async () => {
  const esbuild = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-bundle-'));
  try {
    const entry = path.join(dir, 'entry.ts');
    const selectPath = path.resolve(__dirname, '../../src/engine/backend/select').replace(/\\/g, '/');
    fs.writeFileSync(
      entry,
      `
      import * as tf from '@tensorflow/tfjs-core';
      import { selectBackend } from '${selectPath}';
      (async () => {
        const info = await selectBackend({ backend: 'wasm', threads: Number(process.argv[2]) });
        const y = tf.tidy(() => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 1]) as tf.Tensor4D, 1, 'same')).dataSync()[0]);
        console.log(JSON.stringify({ info, y }));
      })().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const distDir = path.join(dir, 'dist');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: path.join(distDir, 'main.js'),
      logLevel: 'silent',
      nodePaths: [path.resolve(__dirname, '../../node_modules')],
    });
    const bundle = fs.readFileSync(path.join(distDir, 'main.js'), 'utf8');
    assert.ok(!bundle.includes('tfjs-node/dist'), 'optional native package must not be bundled');
    const pkgDir = wasmPackageDir() as string;
    fs.mkdirSync(path.join(distDir, 'wasm'));
    for (const f of fs.readdirSync(path.join(pkgDir, 'dist')).filter((f) => f.endsWith('.wasm'))) {
      fs.copyFileSync(path.join(pkgDir, 'dist', f), path.join(distDir, 'wasm', f));
    }
    fs.copyFileSync(
      path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js'),
      path.join(distDir, 'wasm', 'tfjs-backend-wasm-threaded-simd.js'),
    );
    const out = [1, 2].map((threads) => {
      // The start-up's own time-out (60 s) and watchdog (65 s) fire before this one, so a hang says where it stopped.
      const r = spawnSync(process.execPath, [path.join(distDir, 'main.js'), String(threads)], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, DISTILL_DEBUG: 'wasm' },
      });
      assert.equal(r.status, 0, `${threads} thread(s): ${childReport(r)}`);
      return JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
        info: { name: string; threads: number };
        y: number;
      };
    });
    assert.deepEqual(
      out.map((o) => [o.info.name, o.info.threads]),
      [
        ['wasm', 1],
        ['wasm', 2],
      ],
    );
    // 4×4×2 ones, 3×3 ones filter, 'same': per channel 4 inner pixels × 9 taps + 8 edge × 6 + 4 corner × 4.
    for (const o of out) assert.equal(o.y, 2 * (4 * 9 + 8 * 6 + 4 * 4));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
