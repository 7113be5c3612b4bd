/**
 * `distill export`: writes a distilled student as a self-contained folder that runs in a browser (offline) or Node:
 *
 *   manifest.json   format, network config, example shape, classes, schedule, steps, tensor table (name, shape, offset)
 *   weights.bin     the checkpoint's evaluation weights (EMA when present), float32 little-endian, back to back
 *   student.mjs     ES module: rebuilds the network on a TensorFlow.js instance passed in, samples with K steps
 *                   (same op order, float64 coefficients, seeded sfc32 + Box–Muller noise as the Node sampler)
 *   demo.mjs, index.html   demo page with class / w / seed controls
 *   tfjs/           tf-core.min.js, tf-backend-cpu.min.js (+ tf-backend-wasm.min.js and its .wasm binaries)
 *   README.md
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEMO_MJS, INDEX_HTML } from './demo-page';
import { STUDENT_MJS } from './student-module';
import { ensureBackend, finalStudentSteps, loadDenoiser, loadRunConfig, studentUnit, TaskOptions } from '../open-run';
import type { DistillMethod } from '../../run/events';
import { listCheckpoints, writeFileAtomic } from '../../run/run-folder';
import { disposeDenoiser } from '../../method/samplers';
import { readCheckpointHeader } from '../../run/checkpoint';

export const STUDENT_FORMAT = 'diffusion-distiller-student/1';

export interface ExportOptions extends TaskOptions {
  runDir: string;
  /** Which student: the stage-1 w-conditioned student ('guided'), a progressive phase's ('progressive', default) or a consistency student ('consistency'). */
  stage?: 'guided' | DistillMethod;
  /** Sampling steps K: for 'progressive' and 'consistency' it picks the student that samples with K steps. */
  steps?: number;
  /** Output folder (default <run>/export/<unit>). */
  out?: string;
  /** A specific checkpoint (relative to the run or absolute) instead of the unit's newest. */
  checkpoint?: string;
  /** Folder holding tf-core.min.js / tf-backend-*.min.js (default: found beside the bundle or in node_modules). */
  tfjsDir?: string;
}

export interface ExportResult {
  outDir: string;
  files: string[];
  summary: string;
  manifest: StudentManifest;
}

export interface StudentManifest {
  format: string;
  title: string;
  description: string;
  run: string;
  unit: string;
  stage: 'guided' | DistillMethod;
  checkpoint: string;
  checkpointStep: number;
  steps: number;
  nfePerSample: number;
  withW: boolean;
  parameterization: string;
  schedule: { logSnrMin: number; logSnrMax: number };
  model: {
    kind: string;
    channels: number[];
    blocksPerLevel: number;
    attention: boolean;
    groups: number;
    embedDim: number;
    wFreqMax: number;
    hidden: number;
    depth: number;
  };
  exampleShape: number[];
  dataKind: 'image' | 'toy';
  numClasses: number;
  classNames: string[];
  wRange: [number, number];
  defaultW: number;
  defaultCount: number;
  parameters: number;
  weightsFile: string;
  weightsBytes: number;
  tensors: { name: string; shape: number[]; offset: number }[];
  backends: string[];
  /**
   * Latent-space runs: the autoencoder's decoder, whose tensors are in the same weights file under "decoder/" names;
   * `sample()` decodes latent / scale into imageShape images. exampleShape is then the latent's shape.
   */
  decoder?: {
    channels: number[];
    groups: number;
    scale: number;
    latentShape: number[];
    imageShape: number[];
    parameters: number;
  };
}

/** tfjs browser bundles: name in the export → package and file. */
const TFJS_FILES: { out: string; pkg: string; file: string; optional: boolean }[] = [
  { out: 'tf-core.min.js', pkg: '@tensorflow/tfjs-core', file: 'dist/tf-core.min.js', optional: false },
  {
    out: 'tf-backend-cpu.min.js',
    pkg: '@tensorflow/tfjs-backend-cpu',
    file: 'dist/tf-backend-cpu.min.js',
    optional: false,
  },
  {
    out: 'tf-backend-wasm.min.js',
    pkg: '@tensorflow/tfjs-backend-wasm',
    file: 'dist/tf-backend-wasm.min.js',
    optional: true,
  },
];
const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

function packageDir(pkg: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    // not resolvable from here (a bundle without node_modules next to it): walk up from this file
  }
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const cand = path.join(dir, 'node_modules', pkg);
    if (fs.existsSync(path.join(cand, 'package.json'))) return cand;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Finds the tfjs browser bundles and wasm binaries to copy; throws naming every place it looked for a required one. */
export function locateTfjsFiles(opts: { tfjsDir?: string; wasmDir?: string } = {}): { out: string; src: string }[] {
  const found: { out: string; src: string }[] = [];
  for (const f of TFJS_FILES) {
    const tried: string[] = [];
    const cands: string[] = [];
    if (opts.tfjsDir) cands.push(path.join(opts.tfjsDir, f.out));
    cands.push(path.join(__dirname, 'tfjs', f.out));
    const pd = packageDir(f.pkg);
    if (pd) cands.push(path.join(pd, f.file));
    const hit = cands.find((c) => {
      tried.push(c);
      return fs.existsSync(c);
    });
    if (hit) found.push({ out: f.out, src: hit });
    else if (!f.optional)
      throw new Error(
        `export: ${f.out} (from ${f.pkg}) not found; looked in ${tried.join(', ')}. Pass tfjsDir or install ${f.pkg}.`,
      );
  }
  if (found.some((f) => f.out === 'tf-backend-wasm.min.js')) {
    const dirs = [
      opts.wasmDir,
      opts.tfjsDir,
      path.join(__dirname, 'wasm'),
      packageDir('@tensorflow/tfjs-backend-wasm') && path.join(packageDir('@tensorflow/tfjs-backend-wasm')!, 'dist'),
    ].filter((d): d is string => !!d);
    const dir = dirs.find((d) => WASM_BINARIES.every((b) => fs.existsSync(path.join(d, b))));
    if (dir) for (const b of WASM_BINARIES) found.push({ out: b, src: path.join(dir, b) });
    else return found.filter((f) => f.out !== 'tf-backend-wasm.min.js'); // the wasm backend is useless without its binaries
  }
  return found;
}

function readme(m: StudentManifest, hasWasm: boolean): string {
  const outShape = m.decoder ? m.decoder.imageShape : m.exampleShape;
  const kind =
    m.dataKind === 'image'
      ? `${outShape.join('×')} images (H×W×C, values in [-1, 1])${m.decoder ? `, sampled as ${m.decoder.latentShape.join('×')} latents and decoded by the run's autoencoder (its decoder, ${m.decoder.parameters.toLocaleString('en-US')} of the weights, is included)` : ''}`
      : '2-D points';
  return `# ${m.title}

${m.description}

Exported by Diffusion Distiller from run \`${m.run}\`, unit \`${m.unit}\`, checkpoint \`${m.checkpoint}\` (step ${m.checkpointStep}).
The student draws ${kind} of ${m.numClasses} classes in **${m.steps} step${m.steps === 1 ? '' : 's'} = ${m.nfePerSample} network evaluation${m.nfePerSample === 1 ? '' : 's'} per sample**,
at any guidance weight w in [${m.wRange[0]}, ${m.wRange[1]}] (x̂ = (1 + w)·x̂(c) − w·x̂(∅) was distilled into the network; w = 0 is the plain conditional model).

## Files

| file | what |
| --- | --- |
| \`manifest.json\` | format \`${m.format}\`, network configuration, classes, schedule, steps, tensor table (name, shape, byte offset) |
| \`${m.weightsFile}\` | ${m.parameters.toLocaleString('en-US')} float32 weights, little-endian, back to back (${m.weightsBytes.toLocaleString('en-US')} bytes) |
| \`student.mjs\` | ES module: rebuilds the network on the TensorFlow.js you pass in and samples it |
| \`index.html\`, \`demo.mjs\` | demo page: class, w, seed, number of samples, steps, sampler, backend |
| \`tfjs/\` | TensorFlow.js 4.x browser bundles (cpu${hasWasm ? ' and wasm' : ''} backends), so the page works offline |

## Demo page

Serve this folder over HTTP (ES modules and \`fetch\` do not work from \`file://\`), e.g. \`npx http-server .\` or
\`python3 -m http.server\`, and open \`index.html\`. The page loads nothing from outside this folder (its
Content-Security-Policy forbids it). Backends: cpu (default)${hasWasm ? ', wasm' : ''}, and webgl/webgpu when you add their tfjs bundles.

## From code

\`\`\`js
import { loadStudent } from './student.mjs';
// browser: after <script src="tfjs/tf-core.min.js"> and <script src="tfjs/tf-backend-cpu.min.js">
const student = await loadStudent(window.tf, new URL('./', location.href));
// Node:   const student = await loadStudent(await import('@tensorflow/tfjs-core'), new URL('./', import.meta.url));
//         (with @tensorflow/tfjs-backend-cpu or -wasm imported so a backend is registered)
const { x, shape, nfe } = await student.sample({ classId: 0, w: ${m.defaultW}, count: 16, seed: 0 });
// x: Float32Array of shape [count, ${outShape.join(', ')}], not clipped; clip to [-1, 1] for display
student.dispose();
\`\`\`

\`sample()\` options: \`classId\`, \`w\`, \`count\` (or \`classes\` and \`w\` as per-sample arrays), \`seed\`,
\`steps\` (default ${m.steps}; the student was trained for exactly ${m.steps}), \`sampler\` (\`"ddim"\` deterministic, default, or
\`"stochastic"\`: a DDIM step of length 2/N, then re-noising to t − 1/N; still one evaluation per step).

## Reproducibility

The module reproduces the engine's forward pass op for op and draws its noise from the same seeded generator
(sfc32 seeded by (seed, "sample"), Box–Muller), so \`sample({ classes, w, seed, steps })\` gives the same values as
\`distill sample … --seed\` with the same batch. On the tfjs cpu backend the values agree with the Node sampler on the
cpu backend to float32 rounding (the export test requires max |Δ| < 1e-4); other backends (wasm, webgl) differ by their
own float rounding (typically < 1e-3).
`;
}

/** Exports a distilled student (see the file header). Returns the folder and the files written. */
export async function exportStudent(opts: ExportOptions): Promise<ExportResult> {
  const runDir = path.resolve(opts.runDir);
  const cfg = loadRunConfig(runDir);
  const log = opts.onLog ?? (() => {});
  const stage = opts.stage ?? 'progressive';
  if ((stage as string) === 'teacher')
    throw new Error(
      '--stage: the teacher is not a distilled student (2 evaluations per step); export "guided", "progressive" or "consistency"',
    );
  if (stage !== 'guided' && stage !== 'progressive' && stage !== 'consistency')
    throw new Error(`--stage: expected guided, progressive or consistency, got "${stage}"`);
  const steps = opts.steps ?? (stage === 'guided' ? cfg.progressive.n0 : finalStudentSteps(cfg, stage));
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer, got ${steps}`);
  const unit = stage === 'guided' ? 'guided' : studentUnit(cfg, stage, steps);
  let file: string;
  if (opts.checkpoint) {
    file = path.resolve(runDir, opts.checkpoint);
    if (!fs.existsSync(file)) throw new Error(`--checkpoint: ${file} does not exist`);
    if (path.basename(path.dirname(file)) !== unit)
      throw new Error(`--checkpoint: ${file} is not a checkpoint of ${unit}`);
  } else {
    const list = listCheckpoints(runDir, unit);
    if (!list.length) throw new Error(`${runDir}: ${unit} has no checkpoint yet (train the run further first)`);
    file = path.join(runDir, list[list.length - 1].file);
  }
  const header = readCheckpointHeader(file);
  if (!header.withW) throw new Error(`${file}: not a w-conditioned student checkpoint`);
  if (!header.final)
    log(
      `note: ${path.relative(runDir, file)} is not the final checkpoint of ${unit} (step ${header.step}/${header.totalSteps})`,
    );

  const outDir = path.resolve(opts.out ?? path.join(runDir, 'export', `${unit}`));
  if (fs.existsSync(outDir)) {
    if (!fs.statSync(outDir).isDirectory()) throw new Error(`--out: ${outDir} exists and is not a folder`);
    const entries = fs.readdirSync(outDir);
    const isExport = (() => {
      try {
        return JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')).format === STUDENT_FORMAT;
      } catch {
        return false;
      }
    })();
    if (entries.length && !isExport)
      throw new Error(`--out: ${outDir} is not empty and holds no earlier export; choose another folder`);
  }
  const tfjs = locateTfjsFiles({ tfjsDir: opts.tfjsDir, wasmDir: opts.wasmDir });
  const hasWasm = tfjs.some((f) => f.out === 'tf-backend-wasm.min.js');
  const aborted = () => {
    if (opts.signal?.aborted) throw new Error('export cancelled');
  };

  // The exact weights the Node sampler uses: loaded into the network (names and shapes checked), then read back.
  await ensureBackend(opts.backend ?? cfg.backend, opts.threads ?? cfg.threads, opts.wasmDir);
  const d = await loadDenoiser(runDir, cfg, file, stage);
  let manifest: StudentManifest;
  let body: Buffer;
  try {
    const tensors: StudentManifest['tensors'] = [];
    const parts: Buffer[] = [];
    let offset = 0;
    const decoderParams = d.codec
      ? d.codec.decoder.params().map(({ name, variable }) => ({ name: `decoder/${name}`, variable }))
      : [];
    for (const { name, variable } of [...d.net.params.list(), ...decoderParams]) {
      const data = (await variable.data()) as Float32Array;
      const buf = Buffer.alloc(data.length * 4);
      for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], i * 4);
      tensors.push({ name, shape: variable.shape.slice(), offset });
      parts.push(buf);
      offset += buf.length;
    }
    body = Buffer.concat(parts);
    const infoFile = path.join(runDir, 'dataset.json');
    const info = fs.existsSync(infoFile)
      ? (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { classNames: string[]; kind: 'image' | 'toy' })
      : {
          classNames: Array.from({ length: d.net.numClasses }, (_, i) => String(i)),
          kind: d.net.exampleShape.length === 3 ? ('image' as const) : ('toy' as const),
        };
    const nfe = steps;
    const w0 = Math.min(Math.max(2, cfg.guidance.wMin), cfg.guidance.wMax);
    manifest = {
      format: STUDENT_FORMAT,
      title: `${cfg.name}: ${steps}-step distilled student`,
      description: `${stage === 'guided' ? 'Stage-1 (guided) student' : `${stage === 'progressive' ? 'Progressive' : 'Consistency'} student (${unit})`}: ${nfe} network evaluation${nfe === 1 ? '' : 's'} per sample, guidance weight w in [${cfg.guidance.wMin}, ${cfg.guidance.wMax}].`,
      run: path.basename(runDir),
      unit,
      stage,
      checkpoint: path.relative(runDir, file),
      checkpointStep: header.step,
      steps,
      nfePerSample: nfe,
      withW: true,
      parameterization: cfg.model.parameterization,
      schedule: { logSnrMin: cfg.diffusion.logSnrMin, logSnrMax: cfg.diffusion.logSnrMax },
      model: { ...cfg.model },
      exampleShape: d.net.exampleShape.slice(),
      dataKind: info.kind,
      numClasses: d.net.numClasses,
      classNames: info.classNames,
      wRange: [cfg.guidance.wMin, cfg.guidance.wMax],
      defaultW: w0,
      defaultCount: info.kind === 'image' ? 16 : 512,
      parameters: d.net.params.count() + decoderParams.reduce((n, p) => n + p.variable.size, 0),
      weightsFile: 'weights.bin',
      weightsBytes: body.length,
      tensors,
      backends: ['cpu', ...(hasWasm ? ['wasm'] : [])],
      ...(d.codec
        ? {
            decoder: {
              channels: d.codec.decoder.channels.slice(),
              groups: d.codec.decoder.groups,
              scale: d.codec.scale,
              latentShape: d.codec.latentShape.slice(),
              imageShape: d.codec.imageShape.slice(),
              parameters: decoderParams.reduce((n, p) => n + p.variable.size, 0),
            },
          }
        : {}),
    };
  } finally {
    disposeDenoiser(d);
  }

  // an earlier export's manifest goes first, so an interrupted overwrite never looks complete
  fs.rmSync(path.join(outDir, 'manifest.json'), { force: true });
  const written: string[] = [];
  const total = 6 + tfjs.length;
  const put = (rel: string, data: string | Uint8Array) => {
    aborted();
    const abs = path.join(outDir, rel);
    writeFileAtomic(abs, data);
    written.push(abs);
    opts.onProgress?.(written.length, total);
  };
  put('weights.bin', body);
  put('student.mjs', STUDENT_MJS);
  put('demo.mjs', DEMO_MJS);
  put('index.html', INDEX_HTML);
  for (const f of tfjs) put(path.join('tfjs', f.out), fs.readFileSync(f.src));
  put('README.md', readme(manifest, hasWasm));
  put('manifest.json', JSON.stringify(manifest, null, 2) + '\n'); // last: its presence marks a complete export
  const summary = `exported ${unit} (${steps} step${steps === 1 ? '' : 's'}, ${manifest.parameters.toLocaleString('en-US')} parameters) to ${outDir}`;
  log(summary);
  return { outDir, files: written, summary, manifest };
}
