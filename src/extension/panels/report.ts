/**
 * The dashboard's Report view, host side: reads `<run>/eval/report.json` (written by `distill eval`, see
 * src/engine/tasks/evaluate.ts; it is written last and atomically, so it exists only for a complete evaluation), checks its
 * shape (it is a file on disk, not trusted) and reduces it to the headline the dashboard shows — per w, the reference
 * teacher vs the few-step student and the teacher's own few-step DDIM, accuracy, recall and within-class diversity
 * (÷ real data's; null in reports written before they were measured) and speed-up — plus the plots as
 * webview URIs. fs and path only: no `vscode` import, so it is unit-tested directly.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES } from '../../engine/run/run-folder';
import type { DistillMethod } from '../../engine/run/events';
import type { ReportRow, ReportStudent, ReportView } from '../../protocol';

export const REPORT_FORMAT = 'diffusion-distiller-eval/1';
export const REPORT_JSON = 'report.json';
export const REPORT_MD = 'report.md';

/** The plots `distill eval` draws, in the order the dashboard shows them. */
export const PLOT_TITLES: Readonly<Record<string, string>> = {
  'quality-vs-nfe.png': 'Quality vs NFE per sample, one panel per w (log x)',
  'quality-vs-w.png': 'Quality vs guidance weight w, one panel per sampler',
  'accuracy-vs-w.png': 'Classifier accuracy vs guidance weight w, one panel per sampler',
  'recall-vs-w.png': 'Recall (diversity) and precision (fidelity) vs guidance weight w, per sampler',
};

const MAX_ROWS = 64;
const MAX_NOTES = 100;
const MAX_PLOTS = 16;
const MAX_STUDENTS = 32;
const MAX_PARETO = 1024;
const MAX_COSTS = 64;

/** Turns an absolute file path and its modification time into the URI the webview loads (a new time, a new URI). */
export type PlotUri = (absPath: string, mtimeMs: number) => string;

export function reportDir(runDir: string): string {
  return path.join(runDir, FILES.eval);
}

/** Size and modification time of report.json and the plots: it changes whenever any of them is rewritten. */
export function reportSignature(runDir: string): string {
  const dir = reportDir(runDir);
  return [REPORT_JSON, ...Object.keys(PLOT_TITLES)]
    .map((f) => {
      try {
        const st = fs.statSync(path.join(dir, f));
        return `${f}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${f}:-`;
      }
    })
    .join('|');
}

/**
 * The report of a run: undefined when it has none (never evaluated, or no evaluation finished); throws an Error
 * saying why when report.json exists but cannot be shown.
 */
export function readReport(runDir: string, toUri: PlotUri): ReportView | undefined {
  const dir = reportDir(runDir);
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, REPORT_JSON), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${REPORT_JSON} could not be read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${REPORT_JSON} is not valid JSON: ${(e as Error).message}`);
  }
  return buildReportView(json, (names) => listPlots(dir, names, toUri));
}

/** The plots among `names` (plain *.png file names only) that exist in `dir`, with their webview URIs. */
export function listPlots(dir: string, names: string[], toUri: PlotUri): ReportView['plots'] {
  const plots: ReportView['plots'] = [];
  for (const file of names) {
    if (!/^[A-Za-z0-9._-]+\.png$/.test(file) || plots.some((p) => p.file === file)) continue;
    const abs = path.join(dir, file);
    let mtimeMs: number;
    try {
      const st = fs.statSync(abs);
      if (!st.isFile()) continue;
      mtimeMs = st.mtimeMs;
    } catch {
      continue;
    }
    plots.push({ file, title: PLOT_TITLES[file] ?? file, src: toUri(abs, mtimeMs) });
    if (plots.length >= MAX_PLOTS) break;
  }
  return plots;
}

// ───────────────────────────── report.json → ReportView ─────────────────────────────
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** A metric: a finite number, or null (JSON has no NaN; a missing value is null too). */
const metric = (v: unknown): number | null => (isNum(v) ? v : null);

interface Row {
  w: number;
  model: 'teacher' | 'guided' | DistillMethod;
  sampler: 'ddim' | 'stochastic';
  steps: number;
  nfe: number;
  ms: number;
  fid: number | null;
  accuracy: number | null;
  swdReal: number | null;
  recall: number | null;
  diversity: number | null;
}

function parseRow(v: unknown, i: number): Row {
  const bad = (what: string) => new Error(`${REPORT_JSON}: row ${i + 1} has ${what}`);
  if (!isObj(v)) throw bad('no fields');
  if (!isNum(v.w)) throw bad('no guidance weight w');
  if (v.model !== 'teacher' && v.model !== 'guided' && v.model !== 'progressive' && v.model !== 'consistency')
    throw bad(`an unknown model ${JSON.stringify(v.model)}`);
  if (v.sampler !== 'ddim' && v.sampler !== 'stochastic') throw bad(`an unknown sampler ${JSON.stringify(v.sampler)}`);
  if (!Number.isInteger(v.steps) || (v.steps as number) < 1) throw bad('no step count');
  if (!isNum(v.nfe) || v.nfe <= 0) throw bad('no NFE');
  return {
    w: v.w,
    model: v.model,
    sampler: v.sampler,
    steps: v.steps as number,
    nfe: v.nfe,
    ms: isNum(v.msPerSample) ? v.msPerSample : NaN,
    fid: metric(v.fid),
    accuracy: metric(v.accuracy),
    swdReal: metric(v.swdReal),
    recall: metric(v.recall),
    diversity: metric(v.diversity),
  };
}

/** Checks a parsed report.json and reduces it to the dashboard's headline. `plots` picks the plots among file names. */
export function buildReportView(json: unknown, plots: (names: string[]) => ReportView['plots']): ReportView {
  if (!isObj(json)) throw new Error(`${REPORT_JSON} holds no report object`);
  if (json.format !== REPORT_FORMAT)
    throw new Error(`${REPORT_JSON} has format ${JSON.stringify(json.format)}, expected "${REPORT_FORMAT}"`);
  if (!Array.isArray(json.rows)) throw new Error(`${REPORT_JSON} has no rows`);
  const rows = json.rows.map(parseRow);
  const dataset = isObj(json.dataset) ? json.dataset : {};
  const kind: ReportView['kind'] =
    dataset.kind === 'toy'
      ? 'toy'
      : dataset.kind === 'image'
        ? 'image'
        : rows.some((r) => r.fid !== null)
          ? 'image'
          : 'toy';
  const quality = (r: Row | undefined): number | null => (r ? (kind === 'image' ? r.fid : r.swdReal) : null);

  const teacherRows = rows.filter((r) => r.model === 'teacher');
  const reference = isObj(json.reference) ? json.reference : {};
  const referenceSteps = Number.isInteger(reference.steps)
    ? (reference.steps as number)
    : teacherRows.length
      ? Math.max(...teacherRows.map((r) => r.steps))
      : 0;
  const referenceNfe = Number.isInteger(reference.nfe) ? (reference.nfe as number) : 2 * referenceSteps;

  // the headline student: progressive's (the paper's), else the other method's
  const fewStep = rows.filter((r) => (r.model === 'progressive' || r.model === 'consistency') && r.sampler === 'ddim');
  const students = fewStep.some((r) => r.model === 'progressive')
    ? fewStep.filter((r) => r.model === 'progressive')
    : fewStep;
  const studentSteps = students.length
    ? students.some((r) => r.steps === 4)
      ? 4
      : Math.min(...students.map((r) => r.steps))
    : null;
  const studentNfe =
    studentSteps === null ? null : (students.find((r) => r.steps === studentSteps)?.nfe ?? studentSteps);

  const real = isObj(json.real) ? json.real : {};
  const realDiversity = metric(real.diversity);
  const diversityRatio = (r: Row | undefined): number | null =>
    r && r.diversity !== null && realDiversity !== null && realDiversity > 0 ? r.diversity / realDiversity : null;
  const ws =
    Array.isArray(json.w) && json.w.length && json.w.every(isNum)
      ? (json.w as number[])
      : [...new Set(rows.map((r) => r.w))].sort((a, b) => a - b);
  const table: ReportRow[] = ws.slice(0, MAX_ROWS).map((w) => {
    const t = teacherRows.find((r) => r.w === w && r.steps === referenceSteps);
    const s = studentSteps === null ? undefined : students.find((r) => r.w === w && r.steps === studentSteps);
    const tf =
      studentSteps === null
        ? undefined
        : teacherRows.find((r) => r.w === w && r.steps === studentSteps && r.sampler === 'ddim');
    const speedup = t && s && t.ms > 0 && s.ms > 0 ? t.ms / s.ms : null;
    return {
      w,
      teacher: quality(t),
      student: quality(s),
      teacherFew: quality(tf),
      teacherAccuracy: kind === 'image' ? (t?.accuracy ?? null) : null,
      studentAccuracy: kind === 'image' ? (s?.accuracy ?? null) : null,
      speedup,
      nfeRatio: t && s ? t.nfe / s.nfe : null,
      teacherRecall: t?.recall ?? null,
      studentRecall: s?.recall ?? null,
      teacherDiversity: diversityRatio(t),
      studentDiversity: diversityRatio(s),
    };
  });

  const byStudent = new Map<string, Row[]>();
  for (const r of fewStep) {
    const key = `${r.model}:${r.steps}`;
    byStudent.set(key, [...(byStudent.get(key) ?? []), r]);
  }
  const methodOrder = (m: string) => (m === 'progressive' ? 0 : 1);
  const studentColumns: ReportStudent[] = [...byStudent.values()]
    .map((list) => ({
      method: list[0].model as DistillMethod,
      steps: list[0].steps,
      nfe: list[0].nfe,
      quality: table.map((t) => quality(list.find((r) => r.w === t.w))),
      accuracy: table.map((t) => (kind === 'image' ? (list.find((r) => r.w === t.w)?.accuracy ?? null) : null)),
    }))
    .sort((a, b) => a.steps - b.steps || methodOrder(a.method) - methodOrder(b.method))
    .slice(0, MAX_STUDENTS);

  const files = Array.isArray(json.files)
    ? json.files.filter((f): f is string => typeof f === 'string' && f.endsWith('.png'))
    : [];
  return {
    createdAt: typeof json.createdAt === 'string' ? json.createdAt : '',
    backend: typeof json.backend === 'string' ? json.backend : '',
    samples: Number.isInteger(json.samples) ? (json.samples as number) : 0,
    kind,
    metric: kind === 'image' ? 'FID' : 'SWD',
    referenceSteps,
    referenceNfe,
    studentSteps,
    studentNfe,
    rows: table,
    realQuality: metric(kind === 'image' ? real.fidHalves : real.swdHalves),
    realAccuracy: kind === 'image' ? metric(real.accuracy) : null,
    realRecall: metric(real.recall),
    students: studentColumns,
    ...optional('pareto', parsePareto(json.pareto, kind)),
    ...optional('trainingCost', parseTrainingCost(json.trainingCost)),
    notes: Array.isArray(json.notes)
      ? json.notes.filter((n): n is string => typeof n === 'string').slice(0, MAX_NOTES)
      : [],
    plots: plots(files.length ? files : Object.keys(PLOT_TITLES)),
  };
}

/** `{ [key]: value }` when value is defined, else nothing (a view's optional field is absent, not undefined). */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

/**
 * report.json's `pareto` (reports written before it have none; undefined then, or when it is not readable): the
 * points of one w — `{ model, steps, nfe, value }`, the value being the report's main distance named by `measure`
 * (lower is better; `quality`, `fid` or `swdReal` are read too) — and which are on `front` (the front's points
 * themselves, or indices into `points`; or a point's own `front: true`).
 */
export function parsePareto(v: unknown, kind: ReportView['kind']): ReportView['pareto'] {
  if (!isObj(v) || !Array.isArray(v.points)) return undefined;
  const distanceOf = (p: Obj): number | null =>
    isNum(p.value) ? p.value : isNum(p.quality) ? p.quality : metric(kind === 'image' ? p.fid : p.swdReal);
  const methodOf = (p: Obj): string | undefined =>
    typeof p.method === 'string' ? p.method : typeof p.model === 'string' ? p.model : undefined;
  const frontList = Array.isArray(v.front) ? v.front : [];
  const same = (f: unknown, p: Obj): boolean =>
    isObj(f) &&
    f.nfe === p.nfe &&
    distanceOf(f) === distanceOf(p) &&
    (methodOf(f) === undefined || methodOf(f) === methodOf(p)) &&
    (f.steps === undefined || p.steps === undefined || f.steps === p.steps);
  const onFront = (p: Obj, i: number): boolean =>
    p.front === true || p.onFront === true || frontList.some((f) => f === i || same(f, p));
  const setW = isNum(v.w) ? v.w : undefined;
  const points: NonNullable<ReportView['pareto']>['points'] = [];
  v.points.slice(0, MAX_PARETO).forEach((p, i) => {
    if (!isObj(p) || !isNum(p.nfe) || p.nfe <= 0) return;
    const q = distanceOf(p);
    if (q === null) return;
    const method = methodOf(p);
    const steps = Number.isInteger(p.steps) && (p.steps as number) > 0 ? (p.steps as number) : undefined;
    const w = isNum(p.w) ? p.w : setW;
    const label =
      typeof p.label === 'string' && p.label
        ? p.label
        : [
            method,
            steps !== undefined ? `${steps} step${steps === 1 ? '' : 's'}` : undefined,
            w !== undefined ? `w=${w}` : undefined,
          ]
            .filter(Boolean)
            .join(' · ') || `NFE ${p.nfe}`;
    points.push({
      label,
      ...optional('method', method),
      ...optional('steps', steps),
      ...optional('w', w),
      nfe: p.nfe,
      quality: q,
      front: onFront(p, i),
    });
  });
  if (!points.length) return undefined;
  return {
    ...optional('w', setW),
    ...optional('measure', typeof v.measure === 'string' && v.measure ? v.measure : undefined),
    points,
  };
}

/** report.json's `trainingCost` (`{ method, steps, flops, seconds? }[]`): the readable entries, or undefined. */
export function parseTrainingCost(v: unknown): ReportView['trainingCost'] {
  if (!Array.isArray(v)) return undefined;
  const out: NonNullable<ReportView['trainingCost']> = [];
  for (const c of v.slice(0, MAX_COSTS)) {
    if (!isObj(c) || typeof c.method !== 'string' || !Number.isInteger(c.steps) || !isNum(c.flops) || c.flops < 0)
      continue;
    out.push({
      method: c.method,
      steps: c.steps as number,
      flops: c.flops,
      ...optional('seconds', isNum(c.seconds) && c.seconds >= 0 ? c.seconds : undefined),
    });
  }
  return out.length ? out : undefined;
}
