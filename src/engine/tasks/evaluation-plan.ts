/**
 * What `distill eval` will compare and what it will cost, before anything is loaded: the models, samplers and step
 * counts a run's report covers, the options resolved against its config, the quick and full presets, and the time
 * estimated from the run's own measured sampling speed. Reads only the run folder (no TensorFlow.js), so the editor
 * can show it before it starts an evaluation.
 */
import * as fs from 'fs';
import * as path from 'path';
import { K_DC, K_PR } from '../eval/scores';
import { readCheckpointHeader } from '../run/checkpoint';
import { ResolvedConfig, students as studentList } from '../run/config';
import type { DistillMethod, RunEvent } from '../run/events';
import { FILES, listCheckpoints } from '../run/run-folder';

/** What made a report row: the teacher, the stage-1 (guided) student, or a few-step student of a stage-2 method. */
export type ModelName = 'teacher' | 'guided' | DistillMethod;

/** DDIM steps of the exact teacher's reference samples: fine enough that the solver's own error is negligible. */
export const EXACT_REFERENCE_STEPS = 1024;

/**
 * The unit name of the exact teacher built from the data's mixture beside a trained teacher (data.kind "mixture",
 * teacher.kind "trained"): not a unit of the run, it has no checkpoint; evaluate.ts builds it from the training data.
 */
export const DATA_EXACT_UNIT = 'exact-teacher';

/** The options an evaluation's plan depends on (a subset of EvaluateOptions). */
export interface EvalChoices {
  /** Guidance weights (default eval.w of the config). */
  w?: number[];
  /** Samples per configuration (default eval.samples), spread evenly over the classes. */
  samples?: number;
  teacherSteps?: number[];
  studentSteps?: number[];
  /** Base seed of the sampling noise (default config seed + 1000). */
  seed?: number;
}

/** One row configuration of the report: a model, its sampler and step count, and its NFE per example. */
export interface Config {
  model: ModelName;
  unit: string;
  sampler: 'ddim' | 'stochastic';
  steps: number;
  nfe: number;
}

function latest(runDir: string, unit: string): { file: string; step: number; final: boolean } | undefined {
  const list = listCheckpoints(runDir, unit);
  if (!list.length) return undefined;
  const file = path.join(runDir, list[list.length - 1].file);
  const h = readCheckpointHeader(file);
  return { file, step: h.step, final: h.final };
}

function checkList(name: string, v: number[] | undefined, { integer = false, min = 0 } = {}): void {
  if (v === undefined) return;
  if (
    !Array.isArray(v) ||
    !v.length ||
    v.some((x) => !Number.isFinite(x) || x < min || (integer && !Number.isInteger(x)))
  ) {
    throw new Error(
      `${name}: expected a non-empty list of ${integer ? 'integers' : 'numbers'} ≥ ${min}, got ${JSON.stringify(v)}`,
    );
  }
}

/**
 * Where the distance to exact (mseToExact) comes from: the run's own exact teacher (the report's reference row), or,
 * for a trained teacher on mixture data in pixel space, the exact teacher of the data's mixture, sampled beside the
 * rows (`fromData`; it is not a row, and its reference and floor cost one more set of samples each per w).
 */
export interface ExactPlan {
  reference: Config;
  fromData: boolean;
}

/** Which models, samplers and step counts the report covers (and notes on what is missing). */
export function planEvaluation(
  runDir: string,
  cfg: ResolvedConfig,
  { teacherSteps: asked, studentSteps }: { teacherSteps: number[]; studentSteps: number[] },
): {
  configs: Config[];
  reference: Config;
  exact?: ExactPlan;
  notes: string[];
  checkpoints: Record<string, { file: string; step: number; final: boolean }>;
} {
  const notes: string[] = [];
  // an exact teacher's reference is its own EXACT_REFERENCE_STEPS-step DDIM, the truth mseToExact is measured against
  const exact = cfg.teacher.kind === 'exact';
  const teacherSteps = exact ? [...new Set([EXACT_REFERENCE_STEPS, ...asked])] : asked;
  if (exact && !asked.includes(EXACT_REFERENCE_STEPS))
    notes.push(
      `the exact teacher is also sampled at ${EXACT_REFERENCE_STEPS} DDIM steps: the reference of the distance to exact (mseToExact)`,
    );
  const checkpoints: Record<string, { file: string; step: number; final: boolean }> = {};
  const teacher = latest(runDir, 'teacher');
  if (!teacher)
    throw new Error(`${runDir}: the teacher has no checkpoint yet; train the run first (distill resume ${runDir})`);
  checkpoints.teacher = teacher;
  // every few-step student of every stage-2 method whose step count is asked for, in training order
  const students: { unit: string; steps: number; method: DistillMethod }[] = [];
  const skipped = new Map<DistillMethod, number[]>();
  for (const st of studentList(cfg)) {
    if (!studentSteps.includes(st.steps)) {
      skipped.set(st.method, [...(skipped.get(st.method) ?? []), st.steps]);
      continue;
    }
    const ck = latest(runDir, st.unit);
    if (!ck) {
      notes.push(`${st.unit} (${st.method} ${st.steps}-step student) has no checkpoint yet: not evaluated`);
      continue;
    }
    checkpoints[st.unit] = ck;
    students.push(st);
  }
  for (const [method, steps] of skipped)
    notes.push(
      `${method} students with ${steps.join(', ')} steps are not in eval.studentSteps (${studentSteps.join(', ')}): not evaluated`,
    );
  const guided = latest(runDir, 'guided');
  if (guided) checkpoints.guided = guided;
  else notes.push('the guided (stage-1) student has no checkpoint yet: not evaluated');
  for (const [unit, ck] of Object.entries(checkpoints)) {
    if (!ck.final)
      notes.push(
        `${unit}: checkpoint ${path.relative(runDir, ck.file)} is not final (step ${ck.step}); the unit is still training or was stopped`,
      );
  }

  const teacherSet = [...new Set([...teacherSteps, ...students.map((s) => s.steps)])].sort((a, b) => b - a);
  const configs: Config[] = teacherSet.map((steps) => ({
    model: 'teacher',
    unit: 'teacher',
    sampler: 'ddim',
    steps,
    nfe: 2 * steps,
  }));
  const samplers = (steps: number): ('ddim' | 'stochastic')[] => (steps >= 2 ? ['ddim', 'stochastic'] : ['ddim']);
  if (guided) {
    const cheap = teacherSet.filter((s) => s <= 64);
    if (teacherSet.some((s) => s > 64))
      notes.push(`the guided student is sampled at ≤ 64 steps only (${cheap.join(', ')})`);
    for (const steps of cheap)
      for (const sampler of samplers(steps))
        configs.push({ model: 'guided', unit: 'guided', sampler, steps, nfe: steps });
  }
  for (const s of students)
    for (const sampler of samplers(s.steps))
      configs.push({ model: s.method, unit: s.unit, sampler, steps: s.steps, nfe: s.steps });
  if (students.some((s) => s.steps === 1))
    notes.push(
      'at 1 step the stochastic sampler is the deterministic one (its last step is deterministic): only DDIM is listed',
    );
  let exactPlan: ExactPlan | undefined;
  if (exact) exactPlan = { reference: configs[0], fromData: false };
  else if (cfg.data.kind === 'mixture') {
    if (cfg.model.space === 'latent')
      notes.push(
        "no distance to exact: the data's mixture is known, but this run's models sample in latent space, not from the exact teacher's noise",
      );
    else {
      const steps = EXACT_REFERENCE_STEPS;
      exactPlan = {
        reference: { model: 'teacher', unit: DATA_EXACT_UNIT, sampler: 'ddim', steps, nfe: 2 * steps },
        fromData: true,
      };
      notes.push(
        `the data's mixture is known: every row is also measured against the exact teacher of that mixture at ${steps} DDIM steps (mseToExact), the trained teacher's own error included`,
      );
    }
  }
  return { configs, reference: configs[0], ...(exactPlan ? { exact: exactPlan } : {}), notes, checkpoints };
}

// ───────────────────────────── presets and cost ─────────────────────────────

export type EvalPresetName = 'quick' | 'full';

/** The options of a preset: `full` is the config's eval section; `quick` two w, a 64-step reference, few samples. */
export function evaluationPreset(name: EvalPresetName, cfg: ResolvedConfig, numClasses: number): EvalChoices {
  if (name === 'full')
    return {
      w: cfg.eval.w,
      samples: cfg.eval.samples,
      teacherSteps: cfg.eval.teacherSteps,
      studentSteps: cfg.eval.studentSteps,
    };
  const w = [...new Set([0, Math.min(2, cfg.guidance.wMax)])];
  // the fewest samples the k-NN measures accept, and at least 200
  const samples = Math.max(200, numClasses * (Math.max(K_PR, K_DC) + 1));
  return { w, samples, teacherSteps: [64], studentSteps: cfg.eval.studentSteps };
}

export interface EvaluationCost {
  /** Network evaluations per example summed over every row of the report. */
  nfe: number;
  /** Sampled examples: rows × samples per row. */
  examples: number;
  /** Estimated sampling seconds, from the run's own measured milliseconds per network evaluation; null when unmeasured. */
  seconds: number | null;
  /** Where the milliseconds per evaluation came from. */
  basis: string;
  /** True when the judge classifier is not cached yet and trains first (its time is not in `seconds`). */
  trainsJudge: boolean;
}

/**
 * What an evaluation will cost before it starts: its network evaluations, and seconds estimated from the run's own
 * measured ms per network evaluation (the end-of-run table's rows, events.jsonl), the median over those rows.
 */
export function estimateEvaluation(
  runDir: string,
  cfg: ResolvedConfig,
  opts: EvalChoices,
  events: RunEvent[],
  numClasses: number,
): EvaluationCost {
  const { ws, teacherSteps, studentSteps, requested } = resolveSettings(opts, cfg);
  const n = samplesPerClass(requested, numClasses) * numClasses;
  const plan = planEvaluation(runDir, cfg, { teacherSteps, studentSteps });
  // with an exact teacher, one more reference set per w: the floor of the distance to exact; with the data's exact
  // teacher beside a trained one, two: its reference and its floor
  const exactNfe = plan.exact ? (plan.exact.fromData ? 2 : 1) * plan.exact.reference.nfe : 0;
  const nfe = ws.length * (plan.configs.reduce((a, c) => a + c.nfe, 0) + exactNfe);
  const perNfe: number[] = [];
  for (const e of events)
    if (e.type === 'summary')
      for (const r of e.rows) if (r.nfe > 0 && r.msPerSample > 0) perNfe.push(r.msPerSample / r.nfe);
  perNfe.sort((a, b) => a - b);
  const ms = perNfe.length ? perNfe[Math.floor(perNfe.length / 2)] : null;
  return {
    nfe: nfe * n,
    examples: ws.length * plan.configs.length * n,
    seconds: ms === null ? null : (ms * nfe * n) / 1000,
    basis:
      ms === null
        ? 'no measured sampling speed in this run yet (its end-of-run table measures it)'
        : `${ms.toFixed(3)} ms per network evaluation, measured by this run's end-of-run table`,
    trainsJudge: cfg.data.kind !== 'toy2d' && !fs.existsSync(path.join(runDir, FILES.eval, 'classifier.ckpt')),
  };
}

/** What one evaluation covers: the options resolved against the run's config, checked. */
export interface EvalSettings {
  ws: number[];
  teacherSteps: number[];
  studentSteps: number[];
  requested: number;
  seed: number;
}

export function resolveSettings(opts: EvalChoices, cfg: ResolvedConfig): EvalSettings {
  checkList('--w', opts.w);
  checkList('teacherSteps', opts.teacherSteps, { integer: true, min: 1 });
  checkList('studentSteps', opts.studentSteps, { integer: true, min: 1 });
  const requested = opts.samples ?? cfg.eval.samples;
  if (!Number.isInteger(requested) || requested < 2)
    throw new Error(`--samples: expected an integer ≥ 2, got ${requested}`);
  return {
    ws: opts.w ?? cfg.eval.w,
    teacherSteps: opts.teacherSteps ?? cfg.eval.teacherSteps,
    studentSteps: opts.studentSteps ?? cfg.eval.studentSteps,
    requested,
    seed: opts.seed ?? cfg.seed + 1000,
  };
}

/** Samples per class: enough for the k-NN measures, or an error that names --samples and the smallest count that works. */
export function samplesPerClass(requested: number, numClasses: number): number {
  const perClass = Math.ceil(requested / numClasses);
  const kMax = Math.max(K_PR, K_DC);
  if (perClass <= kMax) {
    throw new Error(
      `samples: ${requested} per configuration spread over ${numClasses} classes is ${perClass} per class; precision, recall, ` +
        `density and coverage compare each sample with its ${kMax} nearest neighbours of the same class, so they need at least ` +
        `${kMax + 1} per class: use --samples ${numClasses * (kMax + 1)} or more (eval.samples in the config)`,
    );
  }
  return perClass;
}
