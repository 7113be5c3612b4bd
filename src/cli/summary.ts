/**
 * The final table of `distill run` (the quick start's "teacher vs student"): a row per model and step count — the
 * guided teacher, the teacher's own few-step DDIM and every distilled student (of each stage-2 method) — with steps,
 * NFE and ms per sample (averaged over w), then per w the quality metric (classifier accuracy, or sliced Wasserstein
 * distance for 2-D toy data), classifier-FID for images and, beside it, the diversity measures (recall against
 * held-out data, within-class diversity ÷ real data's), then what real held-out data gets, so that nobody reads
 * "student ≥ teacher" from accuracy alone; and per w each student's speed-up and gap to the teacher in per cent.
 * Plain strings: printed by the CLI, unit-tested directly.
 */
import type { SummaryReal, SummaryRow } from '../engine/run/events';

const fid = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(1);
const ratio = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3);

export function formatSummary(rows: SummaryRow[], real?: SummaryReal): string[] {
  if (!rows.length) return [];
  const accuracy = rows[0].metric === 'accuracy';
  const metricName = accuracy ? 'accuracy' : 'SWD to data ↓';
  const withDiversity = rows.some((r) => r.recall !== undefined);
  const withFid = rows.some((r) => r.fid !== undefined);
  const ws = [...new Set(rows.map((r) => r.w))];
  const perW = [metricName, ...(withFid ? ['cFID ↓'] : []), ...(withDiversity ? ['recall', 'diversity ÷ real'] : [])];
  const head = ['model', 'steps', 'NFE', 'ms/sample', ...ws.flatMap(() => perW)];
  const value = (r: SummaryRow | undefined) =>
    r === undefined ? '–' : r.metric === 'accuracy' ? `${(r.value * 100).toFixed(1)} %` : r.value.toFixed(4);
  const measures = (r: SummaryRow | undefined) => [
    value(r),
    ...(withFid ? [fid(r?.fid)] : []),
    ...(withDiversity ? [ratio(r?.recall), ratio(r?.diversity)] : []),
  ];
  // one line per model and step count, in the order the rows first name them
  const keys: { model: string; steps: number }[] = [];
  for (const r of rows) if (!keys.some((k) => k.model === r.model && k.steps === r.steps)) keys.push(r);
  const body = keys.map(({ model, steps }) => {
    const at = rows.filter((r) => r.model === model && r.steps === steps);
    const ms = at.reduce((a, r) => a + r.msPerSample, 0) / at.length;
    return [
      model,
      String(steps),
      String(at[0].nfe),
      ms.toFixed(2),
      ...ws.flatMap((w) => measures(at.find((r) => r.w === w))),
    ];
  });
  if (real && withDiversity) {
    const realCells = [
      real.accuracy === null ? '–' : `${(real.accuracy * 100).toFixed(1)} %`,
      ...(withFid ? [fid(real.fid)] : []),
      ratio(real.recall),
      ratio(real.diversity),
    ];
    body.push(['real held-out data', '', '', '', ...ws.flatMap(() => realCells)]);
  }
  const lines = [head, ...body];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const fixed = 4;
  const at = (i: number) => widths.slice(0, i).reduce((a, x) => a + x + 2, 0);
  // the w of each group of columns, above them
  let groups = '  ' + ' '.repeat(at(fixed));
  for (const [g, w] of ws.entries()) {
    const from = fixed + g * perW.length;
    const span = at(from + perW.length) - at(from) - 2;
    groups += `w = ${w}`.padStart(span) + (g < ws.length - 1 ? '  ' : '');
  }
  const out = [
    '',
    `Teacher vs student${keys.filter((k) => k.model !== 'teacher').length > 1 ? 's' : ''} (same seeds):`,
    groups,
  ];
  for (const [k, l] of lines.entries()) {
    out.push('  ' + l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
    if (k === 0) out.push('  ' + widths.map((w) => '─'.repeat(w)).join('  '));
  }
  const students = keys.filter((k) => k.model !== 'teacher');
  for (const w of ws) {
    const t = rows.find((r) => r.w === w);
    for (const k of students) {
      const s = rows.find((r) => r.w === w && r.model === k.model && r.steps === k.steps);
      if (!t || !s) continue;
      const speedUp = (t.msPerSample / s.msPerSample).toFixed(1);
      const g = studentGap(t, s);
      if (students.length > 1) {
        // several students: one line each, against the many-step teacher
        out.push(
          `  w = ${w}, ${k.model} ${k.steps} step${k.steps === 1 ? '' : 's'}: ${speedUp}× faster per sample than the ${t.steps}-step teacher${g ? `; gap: ${g}` : ''}`,
        );
        continue;
      }
      out.push(
        `  w = ${w}: speed-up of the ${s.steps}-step student over the ${t.steps}-step guided teacher: ${speedUp}× per sample`,
      );
      if (g) out.push(`  w = ${w}: the student's gap to the teacher: ${g}`);
    }
  }
  if (withFid) {
    out.push(
      `  cFID: classifier-FID in the judge's features against the held-out digits/images (lower is better; it sees both quality and lost variety${real?.fid !== undefined && real.fid !== null ? `; real held-out half vs half: ${fid(real.fid)}` : ''}); at this sample count it moves by a few % between seeds, \`distill eval\` measures it on more`,
    );
  }
  if (withDiversity) {
    out.push(
      `  recall: share of held-out ${accuracy ? 'examples' : 'points'} that the samples' k-NN manifold covers, per class${real ? ` (real data: ${real.perClass} held-out rows per class against the other half)` : ''};`,
      "  diversity ÷ real: within-class spread of the samples' features ÷ real data's. Below real on both: samples more alike than the data (lost modes), whatever the accuracy.",
    );
  }
  return out;
}

/**
 * The student's gap to its many-step teacher on the measure that sees both quality and diversity: classifier-FID for
 * images, sliced Wasserstein distance for toy data (both lower is better), as a signed percentage of the teacher's.
 */
export function studentGap(teacher: SummaryRow, student: SummaryRow): string | null {
  const [name, a, b, digits] =
    teacher.fid !== undefined && student.fid !== undefined
      ? ['classifier-FID', teacher.fid, student.fid, 1]
      : teacher.metric === 'swd' && student.metric === 'swd'
        ? ['SWD', teacher.value, student.value, 4]
        : ['', NaN, NaN, 0];
  if (!(a > 0) || !Number.isFinite(b)) return null;
  const pct = (b / a - 1) * 100;
  const verdict = pct <= 10 ? 'within 10 %' : 'more than 10 % worse';
  return `${name} ${b.toFixed(digits)} vs ${a.toFixed(digits)} (${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %: ${verdict})`;
}
