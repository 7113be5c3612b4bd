/**
 * The commands of `distill`, one entry each: name, summary, usage, positional arguments, typed options and the
 * handler. `main.ts` dispatches to them and adds `help` and `version`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeNpy } from '../engine/io/npy';
import {
  DEVICE_OPTIONS,
  flag,
  isInteger,
  isPositiveInteger,
  number,
  numberList,
  oneOf,
  OptionSpec,
  required,
  text,
  UsageError,
} from './args';
import { Command, defineCommand } from './command';
import { formatEvalReport } from './eval-summary';
import { engine, ensureData, ensureRunData, onDevice, wasmDir } from './engine';
import { launcherFlag, LAUNCHER_OPTIONS, SLURM_OPTIONS, submitRunCommand, sweepCommand, SWEEP_OPTIONS } from './sweep';
import { train } from './train';

const STAGES = ['teacher', 'guided', 'progressive', 'consistency'] as const;

/** An output file whose name must match `pattern`; `expected` says what it must end in. */
function outFile(
  value: string,
  help: string,
  pattern: RegExp,
  expected: string,
  opts: { echo?: boolean } = {},
): OptionSpec<string> {
  return {
    value,
    help,
    parse: (raw, f) => {
      if (!pattern.test(raw)) throw new UsageError(`${f}: expected ${expected}${opts.echo ? `, got "${raw}"` : ''}`);
      return raw;
    },
  };
}

/** A comma-separated list of sampling step counts, each ≥ 1. */
function stepList(value: string, help: string): OptionSpec<number[]> {
  const list = numberList(value, help, { integer: true });
  return {
    ...list,
    parse: (raw, f) => {
      const v = list.parse(raw, f);
      if (v.some((x) => x < 1)) throw new UsageError(`${f}: step counts must be ≥ 1`);
      return v;
    },
  };
}

const RUN_OPTIONS = {
  ...DEVICE_OPTIONS,
  ...LAUNCHER_OPTIONS,
  detach: flag('with --launcher slurm: return once the job is submitted instead of following it'),
  ...SLURM_OPTIONS,
};

const run = defineCommand({
  name: 'run',
  summary: 'Train a run: the guided teacher, stage 1 (one student for all w), then the step halvings.',
  usage: `distill run CONFIG [--runs-dir DIR] [--name NAME] [--backend auto|webgpu|wasm|cpu|tensorflow] [--threads N]
            [--launcher local|slurm [--detach] [--partition P] [--time T] [--gres G] [--cpus-per-task N] [--mem M]
            [--account A] [--qos Q]]`,
  args: [{ name: 'CONFIG', help: 'a *.distill.json config (a new run folder), or a run folder a sweep prepared' }],
  options: {
    'runs-dir': text('DIR', 'where the new run folder goes (default: runs)'),
    name: text('NAME', "the run folder's name (default: the config's name and a time stamp)"),
    ...RUN_OPTIONS,
  },
  async run({ positional: [config], options: o }) {
    const launcher = launcherFlag(o);
    const target = path.resolve(config);
    if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
      // a run folder prepared by a sweep (or the Slurm launcher) that has not trained yet
      if (!fs.existsSync(path.join(target, 'run.json')))
        throw new UsageError(`${target}: expected a config file or a prepared run folder (no run.json)`);
      if (fs.statSync(path.join(target, 'events.jsonl')).size > 0)
        throw new UsageError(`${target} has already started; continue it with distill resume ${config}`);
      if (launcher === 'slurm') return submitRunCommand(target, o);
      return train(target, o);
    }
    const { createRun, validateConfigFile } = await engine();
    const v = validateConfigFile(config);
    if (!v.ok) {
      console.error(`${config}: invalid configuration:\n  - ${v.errors.join('\n  - ')}`);
      return 2;
    }
    await ensureData(v.config.data); // before the run folder exists, so a failed install leaves none behind
    const runDir = await createRun({ configPath: config, runsDir: o['runs-dir'] ?? 'runs', name: o.name });
    if (launcher === 'slurm') return submitRunCommand(runDir, o);
    return train(runDir, o);
  },
});

const resume = defineCommand({
  name: 'resume',
  summary: 'Continue a stopped or failed run exactly where its last checkpoint left off.',
  usage: 'distill resume RUN_DIR [--backend …] [--threads N] [--launcher local|slurm [--detach] …]',
  args: [{ name: 'RUN_DIR', help: 'the run folder' }],
  options: RUN_OPTIONS,
  async run({ positional: [dir], options: o }) {
    const runDir = path.resolve(dir);
    if (!fs.existsSync(path.join(runDir, 'run.json')))
      throw new UsageError(`${runDir}: not a run folder (no run.json)`);
    if (launcherFlag(o) === 'slurm') return submitRunCommand(runDir, o);
    return train(runDir, o);
  },
});

const sweep = defineCommand({
  name: 'sweep',
  summary: 'Train one run per variant of a sweep file, locally or as a Slurm job array, then print a table.',
  usage: `distill sweep SWEEP.json [--runs-dir DIR] [--launcher local|slurm] [--max-parallel N] [--dry-run] [--detach]
              [--partition P] [--time T] …`,
  notes: 'One run per variant under RUNS_DIR/<sweep name>/; the same command again never starts a variant twice.',
  args: [{ name: 'SWEEP.json', help: 'a *.sweep.json file: a base config and the grid of values to try' }],
  options: SWEEP_OPTIONS,
  run: ({ positional: [file], options }) => sweepCommand(file, options),
});

const sample = defineCommand({
  name: 'sample',
  summary: 'Sample a trained model: a PNG grid (rows = classes, columns = w) or .npy arrays with their class labels.',
  usage: `distill sample RUN_DIR --stage teacher|guided|progressive|consistency [--steps K] [--sampler ddim|stochastic]
               --w W[,W…] [--classes 0,1,…] [--per-class N] [--seed S] --out FILE.png|FILE.npy`,
  args: [{ name: 'RUN_DIR', help: 'the run folder' }],
  options: {
    stage: required(
      oneOf(
        STAGES,
        'STAGE',
        'teacher, guided (stage 1), progressive or consistency (a few-step student)',
        'teacher, guided, progressive or consistency',
      ),
      'teacher, guided, progressive or consistency',
    ),
    steps: number(
      'K',
      "sampling steps (default: the student's target steps; the teacher's sampling.teacherSteps)",
      'a positive integer',
      isPositiveInteger,
    ),
    sampler: oneOf(['ddim', 'stochastic'] as const, 'S', 'ddim (default) or stochastic', 'ddim or stochastic'),
    w: required(
      numberList('W[,W…]', 'guidance weights: one column each in a .png; exactly one for a .npy'),
      'e.g. --w 0,1,2,4 for a .png, or --w 2 for a .npy',
    ),
    classes: numberList('LIST', 'class ids, comma-separated (default: every class)', { integer: true }),
    'per-class': number(
      'N',
      'samples per class and w (default: 1 in a .png, 100 in a .npy)',
      'a positive integer',
      isPositiveInteger,
      { echo: false },
    ),
    seed: number('S', 'random seed (default 0): the same seed gives the same samples', 'an integer', isInteger, {
      echo: false,
    }),
    out: required(
      outFile(
        'FILE',
        'FILE.png: an image grid; FILE.npy: float32 samples in [-1, 1] and FILE.labels.npy',
        /\.(png|npy)$/,
        'a file name ending in .png or .npy',
      ),
      'a file name ending in .png or .npy',
    ),
    ...DEVICE_OPTIONS,
  },
  async run({ positional: [dir], options: o }) {
    const { stage, out, w } = o;
    const { loadRunConfig, sampleGrid, sampleArrays } = await engine();
    const runDir = path.resolve(dir);
    const cfg = loadRunConfig(runDir);
    const steps =
      o.steps ??
      (stage === 'progressive'
        ? cfg.progressive.targetSteps
        : stage === 'consistency'
          ? (cfg.consistency?.studentSteps.at(-1) ?? cfg.progressive.targetSteps)
          : cfg.sampling.teacherSteps);
    const perClass = o['per-class'] ?? (out.endsWith('.npy') ? 100 : 1);
    const common = {
      runDir,
      stage,
      steps,
      sampler: o.sampler ?? 'ddim',
      classes: o.classes ?? [],
      perClass,
      seed: o.seed ?? 0,
    } as const;
    const bopts = { backend: o.backend, threads: o.threads, wasmDir: wasmDir() };
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    if (out.endsWith('.png')) {
      const r = await sampleGrid({ ...common, w }, bopts);
      fs.writeFileSync(out, Buffer.from(r.pngBase64, 'base64'));
      console.log(
        `${out}: ${r.rows}×${r.cols} grid (rows = classes, columns = w ${w.join(', ')}); ${r.label}; ${r.msPerSample.toFixed(2)} ms per sample${await onDevice()}`,
      );
    } else {
      if (w.length !== 1) throw new UsageError('--w: a .npy file holds one guidance weight; give exactly one value');
      const r = await sampleArrays({ ...common, w: w[0] }, bopts);
      fs.writeFileSync(out, encodeNpy(r.x, r.shape));
      const labelsFile = out.replace(/\.npy$/, '.labels.npy');
      fs.writeFileSync(labelsFile, encodeNpy(r.labels, [r.labels.length]));
      console.log(
        `${out}: float32 [${r.shape.join(', ')}] in [-1, 1]; ${labelsFile}: int32 class ids; ${r.nfe} NFE, ${r.msPerSample.toFixed(2)} ms per sample${await onDevice()}`,
      );
    }
    return 0;
  },
});

const edit = defineCommand({
  name: 'edit',
  summary: 'Edit an image with a trained model (SDEdit), or inpaint it with a mask.',
  usage: `distill edit RUN_DIR --image IN.png --class C --strength S --w W [--stage teacher|guided|progressive|consistency] [--steps K]
             [--mask MASK.png] [--seed N] --out OUT.png`,
  notes: `SDEdit: noise the image to t = S ∈ [0, 1] and denoise it towards class C (id or name) in K steps;
with --mask, inpainting: white = repaint, black = keep exactly. Default: the most distilled stage.`,
  args: [{ name: 'RUN_DIR', help: 'the run folder' }],
  options: {
    image: required(text('IN.png', 'the input image, PNG or JPEG'), 'the input image, PNG or JPEG'),
    class: required(text('C', 'the target class: its id or name'), 'the target class: its id or name'),
    strength: required(
      number('S', '0 keeps the input, 1 samples from pure noise', 'a number in [0, 1]', (n) => n >= 0 && n <= 1),
      'a number in [0, 1]: 0 keeps the input, 1 samples from pure noise',
    ),
    w: required(
      number('W', 'the guidance weight', 'a guidance weight ≥ 0', (n) => n >= 0),
      'the guidance weight, e.g. --w 2',
    ),
    stage: oneOf(
      STAGES,
      'STAGE',
      'the model (default: the most distilled one)',
      'teacher, guided, progressive or consistency',
    ),
    steps: number(
      'K',
      "sampling steps of the model's grid (default: the stage's)",
      'a positive integer',
      isPositiveInteger,
    ),
    mask: text('MASK.png', 'inpainting: white = repaint, black = keep exactly'),
    seed: number('N', 'random seed (default 0)', 'an integer', isInteger),
    out: required(
      outFile('OUT.png', 'the edited image', /\.png$/i, 'a file name ending in .png', { echo: true }),
      'the edited image, a .png file',
    ),
    ...DEVICE_OPTIONS,
  },
  async run({ positional: [runDir], options: o }) {
    const { image, class: cls, strength, w, out } = o;
    const { editRun } = await engine();
    const r = await editRun(
      { runDir, image, class: cls, strength, w, stage: o.stage, steps: o.steps, mask: o.mask, seed: o.seed ?? 0 },
      { backend: o.backend, threads: o.threads, wasmDir: wasmDir() },
    );
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, r.png);
    const what = o.mask !== undefined ? 'inpainted' : 'edited';
    console.log(
      `${out}: ${what} ${r.shape.join('×')} image towards class ${r.classId} (${r.className}) at w = ${w}, strength ${strength}; ` +
        `${r.unit} · ${path.basename(r.checkpoint)} · ${r.times.length - 1} step${r.times.length === 2 ? '' : 's'} of the ${r.steps}-step grid from t = ${strength} · ${r.nfe} NFE · ${r.ms.toFixed(1)} ms${await onDevice()}`,
    );
    return 0;
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'List the runs of a runs folder and its sweeps: status, stage, step, last loss, creation time.',
  usage: 'distill list [RUNS_DIR]',
  args: [{ name: 'RUNS_DIR', help: 'the runs folder (default: runs)', optional: true }],
  options: {},
  async run({ positional: [dir] }) {
    const { listRuns } = await import('../engine/run/run-folder');
    const runsDir = path.resolve(dir ?? 'runs');
    const { isSweepDir } = await import('../engine/run/sweep');
    // runs of sweeps (runs/<sweep>/<variant>/) are listed as <sweep>/<variant>
    const runs = [
      ...listRuns(runsDir),
      ...(fs.existsSync(runsDir) ? fs.readdirSync(runsDir, { withFileTypes: true }) : []).flatMap((d) =>
        d.isDirectory() && isSweepDir(path.join(runsDir, d.name))
          ? listRuns(path.join(runsDir, d.name)).map((r) => ({ ...r, name: `${d.name}/${r.name}` }))
          : [],
      ),
    ];
    if (!runs.length) {
      console.log(`no runs in ${runsDir}`);
      return 0;
    }
    const rows = [['run', 'status', 'stage', 'step', 'last loss', 'created']];
    for (const r of runs) {
      const s = r.summary;
      const cur = s.units.find((u) => u.unit === s.currentUnit);
      rows.push([
        r.name,
        s.status,
        s.currentUnit ?? '-',
        cur ? `${cur.step}/${cur.totalSteps}` : '-',
        cur?.lastLoss !== undefined ? cur.lastLoss.toPrecision(4) : '-',
        r.meta ? new Date(r.meta.createdAt).toISOString().replace('T', ' ').slice(0, 19) : '-',
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((l) => l[i].length)));
    for (const l of rows)
      console.log(
        l
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      );
    return 0;
  },
});

const exportCmd = defineCommand({
  name: 'export',
  summary: 'Export a distilled student: weights, student.mjs for TensorFlow.js and an offline demo page.',
  usage: 'distill export RUN_DIR [--stage progressive|consistency|guided] [--steps K] [--out DIR] [--checkpoint FILE]',
  args: [{ name: 'RUN_DIR', help: 'the run folder' }],
  options: {
    stage: oneOf(
      ['progressive', 'consistency', 'guided'] as const,
      'STAGE',
      'progressive (default) or consistency (a few-step student), or guided (stage 1)',
      'progressive, consistency or guided (the teacher is not a distilled student)',
    ),
    steps: number(
      'K',
      "which few-step student: the one sampling with K steps (default: the method's fewest steps)",
      'a positive integer',
      isPositiveInteger,
    ),
    out: text('DIR', 'the folder to write (default: RUN_DIR/export/<student>)'),
    checkpoint: text('FILE', "a checkpoint (relative to the run folder, or absolute) instead of the student's newest"),
    ...DEVICE_OPTIONS,
  },
  async run({ positional: [dir], options: o }) {
    const { exportStudent } = await engine();
    const r = await exportStudent({
      runDir: path.resolve(dir),
      stage: o.stage ?? 'progressive',
      steps: o.steps,
      out: o.out,
      checkpoint: o.checkpoint,
      backend: o.backend,
      threads: o.threads,
      wasmDir: wasmDir(),
    });
    console.log(r.summary);
    console.log(
      `open it: serve ${r.outDir} over HTTP (e.g. \`npx http-server ${path.relative(process.cwd(), r.outDir) || '.'}\`) and load index.html; see README.md there`,
    );
    return 0;
  },
});

const evalCmd = defineCommand({
  name: 'eval',
  summary: "Evaluate the teacher and every method's students at every w and write a quality report.",
  usage: `distill eval RUN_DIR [--preset quick|full] [--out DIR] [--w 0,1,2,4] [--samples N] [--teacher-steps 256,16,4]
             [--student-steps 1,2,4,8] [--seed S] [--backend …] [--threads N]`,
  notes: `Classifier-FID, accuracy, diversity or sliced Wasserstein, NFE and ms per sample for the teacher and each
stage-2 method's students (and the distance to the exact teacher where the data's mixture is known); the Pareto front
of quality vs NFE and each student's training FLOPs; prints a line per model and step count, and writes
RUN_DIR/eval/report.md, report.json and plots.`,
  args: [{ name: 'RUN_DIR', help: 'the run folder' }],
  options: {
    preset: oneOf(
      ['quick', 'full'] as const,
      'P',
      "quick (w 0 and 2, a 64-step reference, few samples) or full (the config's eval section, the default); options given beside it win",
      'quick or full',
    ),
    out: text('DIR', 'the report folder (default: RUN_DIR/eval)'),
    w: numberList('LIST', "guidance weights (default: the config's eval.w)"),
    samples: number(
      'N',
      "samples per model, w and metric (default: the config's eval.samples)",
      'an integer ≥ 2',
      (n) => Number.isInteger(n) && n >= 2,
    ),
    'teacher-steps': stepList('LIST', "the teacher's sampling steps (default: the config's eval.teacherSteps)"),
    'student-steps': stepList('LIST', "the students' sampling steps (default: the config's eval.studentSteps)"),
    seed: number('S', "random seed (default: the config's seed + 1000)", 'an integer', isInteger, { echo: false }),
    ...DEVICE_OPTIONS,
  },
  async run({ positional: [dir], options: o }) {
    const runDir = path.resolve(dir);
    const { evaluateRun } = await engine();
    await ensureRunData(runDir);
    const controller = new AbortController();
    const onSigint = () => {
      process.stderr.write('\nCancelling the evaluation (no report is written)…\n');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    let last = 0;
    try {
      const r = await evaluateRun({
        runDir,
        preset: o.preset,
        out: o.out,
        w: o.w,
        samples: o.samples,
        teacherSteps: o['teacher-steps'],
        studentSteps: o['student-steps'],
        seed: o.seed,
        backend: o.backend,
        threads: o.threads,
        wasmDir: wasmDir(),
        signal: controller.signal,
        onLog: (line) => console.log(line),
        onProgress: (done, total) => {
          const pctDone = total ? Math.floor((100 * done) / total) : 100;
          if (pctDone >= last + 10 && process.stderr.isTTY) {
            last = pctDone - (pctDone % 10);
            process.stderr.write(`  ${last} %\n`);
          }
        },
      });
      for (const line of formatEvalReport(r.data)) console.log(line);
      console.log(`\nreport: ${r.report}`);
      for (const f of r.files) if (f !== r.report) console.log(`        ${f}`);
      return 0;
    } catch (e) {
      if (controller.signal.aborted) {
        console.error('evaluation cancelled; no report written');
        return 130;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});

const backends = defineCommand({
  name: 'backends',
  summary: 'Show the TensorFlow.js backends of this machine: available or not and why, and what `auto` picks.',
  usage: 'distill backends [--json]',
  notes: 'Also the WebGPU adapter and its limits, CUDA devices, and how to install what is missing.',
  args: [],
  options: { json: flag('print the report as JSON') },
  async run({ options: o }) {
    const { describeBackends, formatBackends } = await import('../engine/backend/report');
    const r = await describeBackends({ wasmDir: wasmDir() });
    console.log(o.json ? JSON.stringify(r, null, 2) : formatBackends(r));
    return 0;
  },
});

/** Every command but `help` and `version`, in the order the overview lists them. */
export const COMMANDS: readonly Command[] = [run, resume, sweep, sample, edit, list, exportCmd, evalCmd, backends];
