/**
 * The demo page written by `distill export`: index.html (no inline script, a strict CSP that allows only the export
 * folder's own origin, so the page works offline and cannot reach anything else) and demo.mjs (class, w, seed, count,
 * steps, sampler and backend controls; draws the samples; exposes `window.demo` for scripted use).
 *
 * Kept free of backticks and "${" so it can live in String.raw literals.
 */
export const INDEX_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:">
<link rel="icon" href="data:,">
<title>Distilled student</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.2rem; margin: 0 0 .3rem; }
  .sub { color: #666; margin-bottom: 1rem; }
  form { display: flex; flex-wrap: wrap; gap: .8rem 1.2rem; align-items: end; margin-bottom: 1rem; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #555; gap: .2rem; }
  input[type=number] { width: 6rem; }
  button { padding: .4rem 1.2rem; font-size: 14px; }
  canvas { image-rendering: pixelated; background: #fff; border: 1px solid #ccc; }
  #status { margin-top: .6rem; color: #333; min-height: 1.4em; }
  #status.error { color: #b00020; }
</style>
<script src="tfjs/tf-core.min.js"></script>
<script src="tfjs/tf-backend-cpu.min.js"></script>
<script src="tfjs/tf-backend-wasm.min.js"></script>
<script type="module" src="demo.mjs"></script>
</head>
<body data-state="loading">
<h1 id="title">Distilled student</h1>
<div class="sub" id="subtitle"></div>
<form id="controls">
  <label>Class <select id="class"></select></label>
  <label>Guidance w <span><input id="w-range" type="range" step="0.1"> <input id="w" type="number" step="0.1"></span></label>
  <label>Seed <input id="seed" type="number" step="1" value="0"></label>
  <label>Samples <input id="count" type="number" min="1" max="1024" step="1"></label>
  <label>Steps <input id="steps" type="number" min="1" max="1024" step="1"></label>
  <label>Sampler <select id="sampler"><option value="ddim">deterministic (DDIM)</option><option value="stochastic">stochastic</option></select></label>
  <label>Backend <select id="backend"></select></label>
  <button id="generate" type="submit" disabled>Generate</button>
</form>
<canvas id="out" width="320" height="320"></canvas>
<div id="status">Loading…</div>
</body>
</html>
`;

export const DEMO_MJS = String.raw`// demo.mjs — the export's demo page logic. window.demo.generate({ classId, w, seed, count, steps, sampler }) draws
// samples without touching the controls; the Generate button does the same from the controls.
import { createStudent } from './student.mjs';

const tf = window.tf;
const $ = (id) => document.getElementById(id);
const status = (text, error = false) => {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
};

async function fetchJson(name) {
  const r = await fetch(name);
  if (!r.ok) throw new Error(name + ': HTTP ' + r.status);
  return r.json();
}

const manifest = await fetchJson('manifest.json');
const weights = await (await fetch(manifest.weightsFile)).arrayBuffer();
let student;

function backendsAvailable() {
  const names = ['cpu'];
  if (tf.wasm && tf.findBackendFactory('wasm')) names.push('wasm');
  if (tf.findBackendFactory('webgl')) names.push('webgl');
  if (tf.findBackendFactory('webgpu')) names.push('webgpu');
  return names;
}

async function useBackend(name) {
  if (student) student.dispose();
  student = undefined;
  if (name === 'wasm') tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error('backend ' + name + ' could not be initialised in this browser');
  await tf.ready();
  student = createStudent(tf, manifest, weights);
  return tf.getBackend();
}

function draw(x, shape) {
  const canvas = $('out');
  const ctx = canvas.getContext('2d');
  const toByte = (v) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
  if (manifest.exampleShape.length === 3) {
    const [n, h, w, c] = shape;
    const cols = Math.ceil(Math.sqrt(n));
    const rows = Math.ceil(n / cols);
    const pad = 1;
    const img = new ImageData(cols * (w + pad) + pad, rows * (h + pad) + pad);
    img.data.fill(255);
    for (let k = 0; k < n; k++) {
      const ox = pad + (k % cols) * (w + pad);
      const oy = pad + Math.floor(k / cols) * (h + pad);
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const src = ((k * h + y) * w + xx) * c;
          const dst = ((oy + y) * img.width + ox + xx) * 4;
          const r = toByte(x[src]);
          img.data[dst] = r;
          img.data[dst + 1] = c === 3 ? toByte(x[src + 1]) : r;
          img.data[dst + 2] = c === 3 ? toByte(x[src + 2]) : r;
          img.data[dst + 3] = 255;
        }
      }
    }
    const scale = Math.max(1, Math.floor(480 / Math.max(img.width, img.height)));
    canvas.width = img.width * scale;
    canvas.height = img.height * scale;
    const tmp = document.createElement('canvas');
    tmp.width = img.width;
    tmp.height = img.height;
    tmp.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  } else {
    canvas.width = 400;
    canvas.height = 400;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, 400, 400);
    ctx.strokeStyle = '#ddd';
    ctx.beginPath();
    ctx.moveTo(200, 0); ctx.lineTo(200, 400); ctx.moveTo(0, 200); ctx.lineTo(400, 200);
    ctx.stroke();
    ctx.fillStyle = '#1f77b4';
    const r = 1.6;
    for (let i = 0; i < shape[0]; i++) {
      const px = 200 + x[2 * i] * 160;
      const py = 200 - x[2 * i + 1] * 160;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

async function generate({ classId = 0, w = manifest.defaultW, seed = 0, count = manifest.defaultCount, steps = manifest.steps, sampler = 'ddim' } = {}) {
  if (!student) throw new Error('the student is not loaded yet');
  const t0 = performance.now();
  const r = await student.sample({ classId, w, seed, count, steps, sampler });
  const ms = performance.now() - t0;
  draw(r.x, r.shape);
  const result = { x: Array.from(r.x), shape: r.shape, nfe: r.nfe, ms, backend: tf.getBackend(), classId, w, seed, count, steps, sampler };
  window.demo.last = result;
  return result;
}

function fillControls() {
  $('title').textContent = manifest.title;
  $('subtitle').textContent = manifest.description;
  for (const [i, name] of manifest.classNames.entries()) {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = i + (name !== String(i) ? ' — ' + name : '');
    $('class').append(o);
  }
  for (const el of [$('w-range'), $('w')]) {
    el.min = String(manifest.wRange[0]);
    el.max = String(manifest.wRange[1]);
    el.value = String(manifest.defaultW);
  }
  $('w-range').addEventListener('input', () => ($('w').value = $('w-range').value));
  $('w').addEventListener('input', () => ($('w-range').value = $('w').value));
  $('count').value = String(manifest.defaultCount);
  $('steps').value = String(manifest.steps);
  for (const b of backendsAvailable()) {
    const o = document.createElement('option');
    o.value = b;
    o.textContent = b;
    $('backend').append(o);
  }
  $('backend').addEventListener('change', async () => {
    $('generate').disabled = true;
    document.body.dataset.state = 'loading';
    try {
      const b = await useBackend($('backend').value);
      status('backend: ' + b);
      document.body.dataset.state = 'ready';
    } catch (e) {
      status(e.message, true);
      document.body.dataset.state = 'error';
    } finally {
      $('generate').disabled = false;
    }
  });
  $('controls').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('generate').disabled = true;
    document.body.dataset.state = 'busy';
    status('Sampling…');
    try {
      const r = await generate({
        classId: Number($('class').value),
        w: Number($('w').value),
        seed: Number($('seed').value),
        count: Number($('count').value),
        steps: Number($('steps').value),
        sampler: $('sampler').value,
      });
      status(r.count + ' sample(s), ' + r.steps + ' step(s) = ' + r.nfe + ' network evaluations each, ' + r.ms.toFixed(0) + ' ms on ' + r.backend);
      document.body.dataset.state = 'done';
    } catch (e) {
      status(e.message, true);
      document.body.dataset.state = 'error';
    } finally {
      $('generate').disabled = false;
    }
  });
}

window.demo = { manifest, generate, useBackend, last: undefined };
try {
  fillControls();
  const b = await useBackend('cpu');
  status('Ready (' + b + '). Choose a class and w, then Generate.');
  $('generate').disabled = false;
  document.body.dataset.state = 'ready';
} catch (e) {
  status(e.message, true);
  document.body.dataset.state = 'error';
}
`;
