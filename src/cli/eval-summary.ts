/**
 * What `distill eval` prints after writing its report: a line per model and step count (DDIM) with w across — NFE and
 * the report's main distance, for the students also its ratio to the reference teacher's — then per w the Pareto
 * front of distance against NFE, and which stage-2 method reaches each step count with fewer training FLOPs. Plain
 * strings from report.json's data, unit-tested directly.
 */
import { type EvalReport, type EvalRow, f3 } from '../engine/tasks/evaluate';
import { cheaperMethod } from '../engine/tasks/student-cost';

const NAMES: Record<string, string> = {
  fid: 'classifier-FID',
  swdReal: 'SWD to held-out data',
  mseToExact: 'MSE to exact',
};

const num = f3;

type Key = { model: string; steps: number; nfe: number };

/** One table: a line per model and step count, w across; `cell` gives a row's value and its ratio (or ''). */
function table(
  rep: EvalReport,
  keys: Key[],
  ddim: EvalRow[],
  title: string,
  cell: (r: EvalRow | undefined, w: number, k: Key) => string,
): string[] {
  const head = ['model', 'steps', 'NFE', ...rep.w.map((w) => `w = ${w}`)];
  const body = keys.map((k) => [
    k.model === 'teacher' ? 'teacher' : `${k.model} student`,
    String(k.steps),
    String(k.nfe),
    ...rep.w.map((w) =>
      cell(
        ddim.find((x) => x.w === w && x.model === k.model && x.steps === k.steps),
        w,
        k,
      ),
    ),
  ]);
  const lines = [head, ...body];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const out = ['', title];
  for (const [i, l] of lines.entries()) {
    out.push('  ' + l.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) out.push('  ' + widths.map((w) => '─'.repeat(w)).join('  '));
  }
  return out;
}

export function formatEvalReport(rep: EvalReport): string[] {
  const measure = rep.pareto?.measure ?? (rep.dataset.kind === 'image' ? 'fid' : 'swdReal');
  const get = (r: EvalRow | undefined) => (r ? (r[measure as 'fid' | 'swdReal' | 'mseToExact'] ?? null) : null);
  const ddim = rep.rows.filter((r) => r.sampler === 'ddim' && r.model !== 'guided');
  if (!ddim.length) return [];
  const all: Key[] = [];
  for (const r of ddim) if (!all.some((k) => k.model === r.model && k.steps === r.steps)) all.push(r);
  // students first (method by method, most steps first), then the teacher's rows, reference first
  const keys = [
    ...all.filter((k) => k.model !== 'teacher'),
    ...all.filter((k) => k.model === 'teacher').sort((a, b) => b.steps - a.steps),
  ];
  const withRatio = measure !== 'mseToExact';
  const out = table(
    rep,
    keys,
    ddim,
    `${NAMES[measure] ?? measure} (lower is better), DDIM${withRatio ? `; (×): ÷ the ${rep.reference.steps}-step teacher's` : ''}:`,
    (r, w, k) => {
      const t = ddim.find((x) => x.w === w && x.model === 'teacher' && x.steps === rep.reference.steps);
      const v = get(r);
      const tv = get(t);
      const ratio =
        withRatio && k.model !== 'teacher' && v !== null && tv !== null && tv > 0 ? ` (${(v / tv).toFixed(2)}×)` : '';
      return `${num(v)}${ratio}`;
    },
  );
  if (rep.exact && ddim.some((r) => r.distToExact !== undefined)) {
    const img = rep.dataset.kind === 'image';
    out.push(
      ...table(
        rep,
        keys,
        ddim,
        `${img ? 'classifier-FID' : 'SWD'} to a second set of exact samples (lower is better); (×): ÷ the floor, the exact samples' own:`,
        (r, w) => {
          const f = rep.exact!.floor.find((x) => x.w === w);
          const floor = f ? (img ? f.fid : f.swd) : null;
          const v = r?.distToExact ?? null;
          return `${num(v)}${v !== null && floor ? ` (${(v / floor).toFixed(2)}×)` : ''}`;
        },
      ),
    );
  }
  for (const set of rep.paretoByW ?? [])
    out.push(
      `  Pareto front at w = ${set.w}: ${set.front.map((p) => `${p.model === 'teacher' ? 'teacher' : `${p.model} student`} ${p.steps} step${p.steps === 1 ? '' : 's'} (${p.nfe} NFE, ${num(p.value)})`).join(' → ')}`,
    );
  const cheaper = cheaperMethod(rep.trainingCost ?? []);
  if (cheaper.length) out.push('  fewer training FLOPs to reach', ...cheaper.map((c) => `    ${c.line}`));
  return out;
}
