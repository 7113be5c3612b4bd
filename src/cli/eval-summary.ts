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

export function formatEvalReport(rep: EvalReport): string[] {
  const measure = rep.pareto?.measure ?? (rep.dataset.kind === 'image' ? 'fid' : 'swdReal');
  const get = (r: EvalRow | undefined) => (r ? (r[measure as 'fid' | 'swdReal' | 'mseToExact'] ?? null) : null);
  const ddim = rep.rows.filter((r) => r.sampler === 'ddim' && r.model !== 'guided');
  if (!ddim.length) return [];
  const keys: { model: string; steps: number; nfe: number }[] = [];
  for (const r of ddim) if (!keys.some((k) => k.model === r.model && k.steps === r.steps)) keys.push(r);
  // students first (method by method, most steps first), then the teacher's rows, reference first
  const students = keys.filter((k) => k.model !== 'teacher');
  const teacher = keys.filter((k) => k.model === 'teacher').sort((a, b) => b.steps - a.steps);
  const withRatio = measure !== 'mseToExact';
  const head = ['model', 'steps', 'NFE', ...rep.w.map((w) => `w = ${w}`)];
  const body = [...students, ...teacher].map((k) => [
    k.model === 'teacher' ? 'teacher' : `${k.model} student`,
    String(k.steps),
    String(k.nfe),
    ...rep.w.map((w) => {
      const r = ddim.find((x) => x.w === w && x.model === k.model && x.steps === k.steps);
      const t = ddim.find((x) => x.w === w && x.model === 'teacher' && x.steps === rep.reference.steps);
      const v = get(r);
      const tv = get(t);
      const ratio =
        withRatio && k.model !== 'teacher' && v !== null && tv !== null && tv > 0 ? ` (${(v / tv).toFixed(2)}×)` : '';
      return `${num(v)}${ratio}`;
    }),
  ]);
  const lines = [head, ...body];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const out = [
    '',
    `${NAMES[measure] ?? measure} (lower is better), DDIM${withRatio ? `; (×): ÷ the ${rep.reference.steps}-step teacher's` : ''}:`,
  ];
  for (const [i, l] of lines.entries()) {
    out.push('  ' + l.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) out.push('  ' + widths.map((w) => '─'.repeat(w)).join('  '));
  }
  for (const set of rep.paretoByW ?? [])
    out.push(
      `  Pareto front at w = ${set.w}: ${set.front.map((p) => `${p.model === 'teacher' ? 'teacher' : `${p.model} student`} ${p.steps} step${p.steps === 1 ? '' : 's'} (${p.nfe} NFE, ${num(p.value)})`).join(' → ')}`,
    );
  const cheaper = cheaperMethod(rep.trainingCost ?? []);
  if (cheaper.length) out.push('  fewer training FLOPs to reach', ...cheaper.map((c) => `    ${c.line}`));
  return out;
}
