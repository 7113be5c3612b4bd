/**
 * The source of `student.mjs`, the self-contained ES module written by `distill export`. It rebuilds the student
 * network on whatever TensorFlow.js the host passes in (webgl, wasm, cpu in a browser; tfjs-core in Node) and samples
 * it with the deterministic DDIM (or the stochastic) sampler.
 *
 * It mirrors, op for op, src/engine/nn/net.ts + nn/params.ts (the forward pass), the decoder of src/engine/nn/autoencoder.ts
 * (latent-space runs), src/engine/method/diffusion.ts (x̂ from v,
 * the DDIM step, the re-noising), src/engine/method/schedule.ts (float64 coefficients, float32 λ as the engine feeds them)
 * and src/engine/random/rng.ts + sample.ts (sfc32 seeded by (seed, 'sample') and Box–Muller), so the same seed, class, w and
 * step count give the same samples as `sample()` in Node (test/integration/export.test.ts checks it in Node and in Chromium).
 * Any change to those files must be made here too.
 *
 * Kept free of backticks and "${" so it can live in a String.raw literal.
 */
export const STUDENT_MJS = String.raw`// student.mjs — written by Diffusion Distiller (distill export). Self-contained: needs only a TensorFlow.js instance.
// Usage (browser): const s = await loadStudent(window.tf, new URL('./', location.href));
//        (Node):    const s = await loadStudent(await import('@tensorflow/tfjs-core'), new URL('./', import.meta.url));
// const { x, shape, nfe } = await s.sample({ classId: 3, w: 2, count: 16, seed: 0 });

export const FORMAT = 'diffusion-distiller-student/1';

// ───────────── seeded random numbers (src/engine/random/rng.ts) ─────────────
// A copy of the engine's sfc32 generator, not an import: student.mjs runs standalone in a browser (or any ES module
// host) with nothing of the engine around it. Its numbers must equal the engine's for the same seed and stream
// (test/unit/export.test.ts compares them).
export function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  constructor(seed, stream = '') {
    this.a = hash32('a' + stream) ^ (seed >>> 0);
    this.b = hash32('b' + stream) ^ Math.floor(seed / 4294967296);
    this.c = hash32('c' + stream);
    this.d = 1;
    this.spare = undefined;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }
  nextUint32() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  uniform() {
    return this.nextUint32() / 4294967296;
  }
  normal() {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  normals(n) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    this.spare = undefined;
    return out;
  }
}

// ───────────── schedule (src/engine/method/schedule.ts), float64 on the host ─────────────
function softplus(x) {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}
function sigmoid(x) {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
export function logSnr(t, schedule) {
  const b = Math.atan(Math.exp(-schedule.logSnrMax / 2));
  const a = Math.atan(Math.exp(-schedule.logSnrMin / 2)) - b;
  return -2 * Math.log(Math.tan(a * t + b));
}
const alphaOf = (l) => Math.sqrt(sigmoid(l));
const sigmaOf = (l) => Math.sqrt(sigmoid(-l));
const sigmaRatio = (lS, lT) => Math.exp(0.5 * (softplus(lT) - softplus(lS)));
const alphaRatio = (lS, lT) => Math.exp(0.5 * (softplus(-lT) - softplus(-lS)));

// ───────────── the network (src/engine/nn/net.ts, nn/params.ts) ─────────────
const SIN_DIM = 64;
const LAMBDA_SCALE = 1 / 20;

function makeLayers(tf, P) {
  const get = (name) => {
    const v = P.get(name);
    if (!v) throw new Error('student weights: missing parameter ' + name);
    return v;
  };
  const dense = (name, x) => tf.add(tf.matMul(x, get(name + '.w')), get(name + '.b'));
  const conv = (name, x, stride = 1) => tf.add(tf.conv2d(x, get(name + '.w'), stride, 'same'), get(name + '.b'));
  const silu = (x) => tf.mul(x, tf.sigmoid(x));
  const groupNorm = (name, x, groups) => {
    const [b, h, w, c] = x.shape;
    const g = Math.min(groups, c);
    const xg = tf.reshape(x, [b, h, w, g, c / g]);
    const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
    const xn = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, 1e-5))), [b, h, w, c]);
    return tf.add(tf.mul(xn, get(name + '.g')), get(name + '.b'));
  };
  const layerNorm = (name, x) => {
    const { mean, variance } = tf.moments(x, [x.rank - 1], true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), get(name + '.g')), get(name + '.b'));
  };
  const sinusoidal = (x, dim, maxFreq) => {
    const half = dim / 2;
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp((Math.log(maxFreq) * i) / Math.max(half - 1, 1));
    const args = tf.mul(tf.reshape(x, [-1, 1]), tf.tensor2d(freqs, [1, half]));
    return tf.concat([tf.sin(args), tf.cos(args)], 1);
  };
  return { get, dense, conv, silu, groupNorm, layerNorm, sinusoidal };
}

function buildForward(tf, manifest, P) {
  const m = manifest.model;
  const L = makeLayers(tf, P);
  const { dense, conv, silu, groupNorm, layerNorm, sinusoidal } = L;
  const withW = manifest.withW;
  const embedding = (lambda, cls, w) => {
    let h = dense('temb.1', silu(dense('temb.0', sinusoidal(tf.mul(lambda, LAMBDA_SCALE), SIN_DIM, 200))));
    const table = L.get('cemb.table');
    h = tf.add(h, tf.matMul(tf.oneHot(tf.cast(cls, 'int32'), table.shape[0]), table));
    if (withW) {
      if (!w) throw new Error('this student network needs a guidance weight w for every example');
      h = tf.add(h, dense('wemb.1', silu(dense('wemb.0', sinusoidal(w, SIN_DIM, m.wFreqMax)))));
    }
    return silu(h);
  };
  if (m.kind === 'mlp') {
    return (z, lambda, cls, w) =>
      tf.tidy(() => {
        const emb = embedding(lambda, cls, w);
        let h = dense('in', z);
        for (let i = 0; i < m.depth; i++) {
          let u = dense('blk' + i + '.fc0', silu(layerNorm('blk' + i + '.ln', h)));
          u = tf.add(u, dense('blk' + i + '.emb', emb));
          h = tf.add(h, dense('blk' + i + '.fc1', silu(u)));
        }
        return dense('out', silu(layerNorm('out.ln', h)));
      });
  }
  if (m.kind !== 'unet') throw new Error('student manifest: unknown model.kind ' + JSON.stringify(m.kind));
  // block layout exactly as buildUnet() builds it
  const ch = m.channels;
  const levels = ch.length;
  const down = [];
  const up = [];
  const skipsC = [];
  let c = ch[0];
  for (let l = 0; l < levels; l++) {
    const blocks = [];
    for (let i = 0; i < m.blocksPerLevel; i++) {
      blocks.push({ name: 'down' + l + '.' + i, cIn: c, cOut: ch[l] });
      c = ch[l];
      skipsC.push(c);
    }
    down.push(blocks);
  }
  const mid0 = { name: 'mid0', cIn: c, cOut: c };
  const mid1 = { name: 'mid1', cIn: c, cOut: c };
  for (let l = levels - 1; l >= 0; l--) {
    const blocks = [];
    for (let i = 0; i < m.blocksPerLevel; i++) {
      const sc = skipsC.pop();
      blocks.push({ name: 'up' + l + '.' + i, cIn: c + sc, cOut: ch[l] });
      c = ch[l];
    }
    up.push(blocks);
    if (l > 0) c = ch[l - 1];
  }
  const resBlock = (b, x, emb) => {
    let h = conv(b.name + '.conv0', silu(groupNorm(b.name + '.gn0', x, m.groups)));
    h = tf.add(h, tf.reshape(dense(b.name + '.emb', emb), [-1, 1, 1, b.cOut]));
    h = conv(b.name + '.conv1', silu(groupNorm(b.name + '.gn1', h, m.groups)));
    const skip = b.cIn !== b.cOut ? conv(b.name + '.skip', x) : x;
    return tf.add(skip, h);
  };
  const attention = (name, x) => {
    const [b, h, w, cc] = x.shape;
    const n = h * w;
    const hn = tf.reshape(groupNorm(name + '.gn', x, m.groups), [b * n, cc]);
    const qkv = tf.reshape(dense(name + '.qkv', hn), [b, n, 3 * cc]);
    const [q, k, v] = tf.split(qkv, 3, 2);
    const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(cc)));
    const o = tf.reshape(tf.matMul(att, v), [b * n, cc]);
    return tf.add(x, tf.reshape(dense(name + '.proj', o), [b, h, w, cc]));
  };
  return (z, lambda, cls, w) =>
    tf.tidy(() => {
      const emb = embedding(lambda, cls, w);
      let h = conv('in', z);
      const skips = [];
      for (let l = 0; l < levels; l++) {
        for (const b of down[l]) {
          h = resBlock(b, h, emb);
          skips.push(h);
        }
        if (l < levels - 1) h = conv('down' + l + '.pool', h, 2);
      }
      h = resBlock(mid0, h, emb);
      if (m.attention) h = attention('mid.attn', h);
      h = resBlock(mid1, h, emb);
      for (let j = 0; j < levels; j++) {
        const l = levels - 1 - j;
        for (const b of up[j]) h = resBlock(b, tf.concat([h, skips.pop()], 3), emb);
        if (l > 0) {
          const hh = h.shape[1];
          const ww = h.shape[2];
          h = conv('up' + l + '.upsample', tf.image.resizeNearestNeighbor(h, [hh * 2, ww * 2]));
        }
      }
      return conv('out', silu(groupNorm('out.gn', h, m.groups)));
    });
}

// ───────────── the decoder of a latent-space run (src/engine/nn/autoencoder.ts) ─────────────
function buildDecoder(tf, dm, P) {
  const L = makeLayers(tf, { get: (name) => P.get('decoder/' + name) });
  const { conv, silu, groupNorm } = L;
  const top = dm.channels.length - 1;
  const block = (name, x) => {
    const h = conv(name + '.conv0', silu(groupNorm(name + '.gn0', x, dm.groups)));
    const out = conv(name + '.conv1', silu(groupNorm(name + '.gn1', h, dm.groups)));
    return tf.add(P.has('decoder/' + name + '.skip.w') ? conv(name + '.skip', x) : x, out);
  };
  // scaled latents [B, h, w, c] → images [B, H, W, C]
  return (z) =>
    tf.tidy(() => {
      let h = conv('dec.in', tf.div(z, dm.scale));
      for (let l = top; l >= 0; l--) {
        h = block('dec' + l, h);
        if (l > 0) h = conv('dec' + l + '.up', tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2]));
      }
      return conv('dec.out', silu(groupNorm('dec.out.gn', h, dm.groups)));
    });
}

// ───────────── the sampler (src/engine/method/samplers.ts, diffusion.ts) ─────────────
function perExample(tf, values, rank) {
  const shape = [values.length];
  for (let i = 1; i < rank; i++) shape.push(1);
  return tf.tensor(Float32Array.from(values), shape, 'float32');
}

/** Builds a student from its manifest (the parsed manifest.json) and weights (the ArrayBuffer of weights.bin). */
export function createStudent(tf, manifest, weights) {
  if (!manifest || manifest.format !== FORMAT) throw new Error('manifest.json: format must be ' + JSON.stringify(FORMAT));
  const bytes = weights instanceof ArrayBuffer ? weights : weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  if (bytes.byteLength !== manifest.weightsBytes) {
    throw new Error(manifest.weightsFile + ': ' + bytes.byteLength + ' bytes, manifest.json expects ' + manifest.weightsBytes);
  }
  const P = new Map();
  for (const t of manifest.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + 4 * n > bytes.byteLength) throw new Error('manifest.json: tensor ' + t.name + ' lies outside ' + manifest.weightsFile);
    P.set(t.name, tf.tensor(new Float32Array(bytes, t.offset, n), t.shape, 'float32'));
  }
  const forward = buildForward(tf, manifest, P);
  const decode = manifest.decoder ? buildDecoder(tf, manifest.decoder, P) : undefined;
  const schedule = manifest.schedule;
  const exampleShape = manifest.exampleShape;
  const param = manifest.parameterization;
  const rankOf = exampleShape.length + 1;
  const lam = (t) => logSnr(t, schedule);

  // x̂ of the student at per-example λ (float32, as the engine feeds them), classes and w
  const denoiseX = (z, lambdas, classes, w) =>
    tf.tidy(() => {
      const out = forward(z, tf.tensor1d(lambdas), tf.tensor1d(classes, 'int32'), manifest.withW ? tf.tensor1d(w) : undefined);
      const A = perExample(tf, Array.from(lambdas, alphaOf), rankOf);
      const S = perExample(tf, Array.from(lambdas, sigmaOf), rankOf);
      if (param === 'v') return tf.sub(tf.mul(A, z), tf.mul(S, out));
      if (param === 'x') return out.clone();
      if (param === 'eps') return tf.div(tf.sub(z, tf.mul(S, out)), A);
      throw new Error('manifest.json: unknown parameterization ' + JSON.stringify(param));
    });
  // z_s = α_s·x̂ + (σ_s/σ_t)·(z_t − α_t·x̂); toZero: z_0 = x̂
  const ddimStep = (z, x, lambdaT, lambdaS, toZero) =>
    tf.tidy(() => {
      const n = lambdaT.length;
      const aS = new Float32Array(n);
      const aT = new Float32Array(n);
      const r = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        if (toZero) {
          aS[i] = 1;
          aT[i] = 0;
          r[i] = 0;
        } else {
          aS[i] = alphaOf(lambdaS[i]);
          aT[i] = alphaOf(lambdaT[i]);
          r[i] = sigmaRatio(lambdaS[i], lambdaT[i]);
        }
      }
      const A = perExample(tf, aS, rankOf);
      const R = perExample(tf, r, rankOf);
      const AT = perExample(tf, aT, rankOf);
      return tf.add(tf.mul(A, x), tf.mul(R, tf.sub(z, tf.mul(AT, x))));
    });
  const renoise = (zK, eps, lambdaK, lambdaS) =>
    tf.tidy(() => {
      const ratio = alphaRatio(lambdaS, lambdaK);
      const s2 = (1 - Math.exp(lambdaS - lambdaK)) * sigmaOf(lambdaS) ** 2;
      return tf.add(tf.mul(zK, ratio), tf.mul(eps, Math.sqrt(Math.max(s2, 0))));
    });

  /**
   * Draws samples. Either { classId, w, count } (all alike) or { classes: [..], w: [..] } (one per entry).
   * Returns x (float32, NOT clipped; values ≈ [-1, 1]), its shape and the network evaluations per sample.
   */
  async function sample({ classId = 0, w = 0, count = 1, classes, seed = 0, steps = manifest.steps, sampler = 'ddim', onStep } = {}) {
    const cls = Int32Array.from(classes ?? new Array(count).fill(classId));
    const b = cls.length;
    for (const c of cls) {
      if (!Number.isInteger(c) || c < 0 || c >= manifest.numClasses) throw new Error('class ' + c + ' does not exist (0..' + (manifest.numClasses - 1) + ')');
    }
    const ws = Float32Array.from(Array.isArray(w) || ArrayBuffer.isView(w) ? w : new Array(b).fill(w));
    if (ws.length !== b) throw new Error('sample: ' + b + ' classes but ' + ws.length + ' guidance weights');
    if (!Number.isInteger(steps) || steps < 1) throw new Error('steps must be a positive integer, got ' + steps);
    if (sampler !== 'ddim' && sampler !== 'stochastic') throw new Error('sampler must be "ddim" or "stochastic"');
    const shape = [b].concat(exampleShape);
    const size = shape.reduce((a, c) => a * c, 1);
    const rng = new Rng(seed, 'sample');
    const n = steps;
    const fill = (v) => new Float32Array(b).fill(v);
    let z = tf.tensor(rng.normals(size), shape);
    try {
      for (let i = n; i >= 1; i--) {
        const t = i / n;
        const next = tf.tidy(() => {
          const x = denoiseX(z, fill(lam(t)), cls, ws);
          if (i === 1) return x;
          if (sampler === 'ddim') return ddimStep(z, x, fill(lam(t)), fill(lam((i - 1) / n)), false);
          const k = (i - 2) / n;
          const s = (i - 1) / n;
          const zK = ddimStep(z, x, fill(lam(t)), fill(lam(k)), k === 0);
          return renoise(zK, tf.tensor(rng.normals(size), shape), lam(k), lam(s));
        });
        z.dispose();
        z = next;
        if (onStep) onStep(n - i + 1, n);
        await new Promise((r) => setTimeout(r, 0));
      }
      if (decode) {
        // a latent-space student: the images are the decoder's output
        const img = decode(z);
        z.dispose();
        z = img;
      }
      const x = await z.data();
      return { x: x instanceof Float32Array ? x : Float32Array.from(x), shape: decode ? [b].concat(manifest.decoder.imageShape) : shape, nfe: n };
    } finally {
      z.dispose();
    }
  }

  return {
    manifest,
    sample,
    dispose() {
      for (const v of P.values()) v.dispose();
      P.clear();
    },
  };
}

/** Loads manifest.json and the weights from a folder URL (http(s) via fetch; file: URLs through node:fs in Node). */
export async function loadStudent(tf, baseUrl) {
  const base = new URL(baseUrl ?? './', import.meta.url);
  const read = async (name, kind) => {
    const url = new URL(name, base);
    if (url.protocol === 'file:') {
      const fs = await import('node:fs/promises');
      const buf = await fs.readFile(url);
      return kind === 'json' ? JSON.parse(buf.toString('utf8')) : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    }
    const res = await fetch(url);
    if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
    return kind === 'json' ? res.json() : res.arrayBuffer();
  };
  const manifest = await read('manifest.json', 'json');
  const weights = await read(manifest.weightsFile, 'bin');
  return createStudent(tf, manifest, weights);
}
`;
