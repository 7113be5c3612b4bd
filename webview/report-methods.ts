/**
 * The report panel's comparison of the stage-2 methods, drawn from the report's numbers (no remote content): each
 * student's quality per w in columns grouped by step count (the best of each step count marked), quality vs NFE as a
 * small SVG with the Pareto front (report.json's `pareto`, when it has one) and what each student cost to train
 * (`trainingCost`). Older reports without them show only what they have.
 */
import { spansDecade } from '../src/engine/eval/log-scale';
import type { ReportView } from '../src/protocol';
import { formatDuration, formatMetric, formatPercent } from './model';
import { h } from './vscode';

export const REPORT_METHODS_CSS = `
table.report-methods td.best { font-weight: 600; color: var(--vscode-testing-iconPassed, #73c991); }
table.report-methods th.group { text-align: center; }
.pareto svg { width: 100%; max-width: 640px; height: 260px; }
.pareto .legend span { margin-right: 12px; }
`;

/** A method's colour in the plots (teacher and others grey). */
const METHOD_COLORS: Record<string, string> = {
  progressive: '#4e9fea',
  consistency: '#e8a33d',
  guided: '#5fbf6a',
  teacher: '#8c8c8c',
};
/** The y axis of the quality-vs-NFE plot, by report.json's `pareto.measure`. */
const MEASURE_NAMES: Record<string, string> = {
  fid: 'FID',
  swdReal: 'SWD',
  mseToExact: 'distance to the exact teacher',
};
const colorOf = (method: string | undefined): string => METHOD_COLORS[method ?? ''] ?? '#a67fd8';
const stepsText = (n: number) => `${n} step${n === 1 ? '' : 's'}`;

/** Quality per w of every student: a column group per step count, a column per method; undefined without students. */
export function methodsTable(r: ReportView): HTMLElement | undefined {
  const cols = r.students;
  if (!cols.length) return undefined;
  const groups: { steps: number; n: number }[] = [];
  for (const c of cols) {
    const g = groups[groups.length - 1];
    if (g && g.steps === c.steps) g.n++;
    else groups.push({ steps: c.steps, n: 1 });
  }
  const image = r.kind === 'image';
  const body = r.rows.map((row, i) => {
    // the best of each step count where two or more students have a number there
    const best = new Map<number, number>();
    const count = new Map<number, number>();
    for (const c of cols) {
      const v = c.quality[i];
      if (v === null || v === undefined) continue;
      count.set(c.steps, (count.get(c.steps) ?? 0) + 1);
      if (v < (best.get(c.steps) ?? Infinity)) best.set(c.steps, v);
    }
    for (const [steps, n] of count) if (n < 2) best.delete(steps);
    return h(
      'tr',
      { 'data-w': row.w },
      h('th', { scope: 'row' }, String(row.w)),
      ...cols.map((c) => {
        const v = c.quality[i] ?? null;
        const acc = c.accuracy[i] ?? null;
        return h(
          'td',
          {
            class: `num${v !== null && v === best.get(c.steps) ? ' best' : ''}`,
            'data-method': c.method,
            'data-steps': c.steps,
            title: image && acc !== null ? `accuracy ${formatPercent(acc)}` : undefined,
          },
          formatMetric(v),
        );
      }),
    );
  });
  return h(
    'table',
    { class: 'report report-methods', id: 'report-methods' },
    h(
      'caption',
      { class: 'muted' },
      `Each method's student at each step count (DDIM, same seeds): ${r.metric} per w, lower is better; the best at each step count with two or more students in bold.`,
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col', rowspan: 2 }, 'w'),
        ...groups.map((g) => h('th', { class: 'group', scope: 'colgroup', colspan: g.n }, stepsText(g.steps))),
      ),
      h(
        'tr',
        {},
        ...cols.map((c) =>
          h(
            'th',
            { scope: 'col', 'data-method': c.method, 'data-steps': c.steps, title: `NFE ${c.nfe ?? '?'}` },
            c.method,
          ),
        ),
      ),
    ),
    h('tbody', {}, ...body),
  );
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Quality vs NFE (log x): every point of the report's `pareto`, the front joined by a line; undefined without one. */
export function paretoPlot(r: ReportView): HTMLElement | undefined {
  const points = r.pareto?.points ?? [];
  if (!points.length) return undefined;
  const W = 640;
  const H = 260;
  const pad = 44;
  const lx = points.map((p) => Math.log2(p.nfe));
  const ys = points.map((p) => p.quality);
  const [x0, x1] = [Math.min(...lx), Math.max(...lx)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const logY = spansDecade(ys); // as quality-vs-nfe.png
  const ty = (q: number) => (logY ? Math.log10(q) : q);
  const X = (nfe: number) => pad + ((Math.log2(nfe) - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const Y = (q: number) => H - pad - ((ty(q) - ty(y0)) / (ty(y1) - ty(y0) || 1)) * (H - 2 * pad);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, id: 'pareto-plot' });
  root.append(
    svg('rect', {
      x: pad,
      y: pad,
      width: W - 2 * pad,
      height: H - 2 * pad,
      fill: 'none',
      stroke: 'var(--vscode-charts-lines, #555)',
    }),
  );
  const label = (x: number, y: number, t: string, anchor = 'middle') =>
    root.append(
      svg('text', { x, y, 'text-anchor': anchor, fill: 'var(--vscode-foreground, #ccc)', 'font-size': 11 }, t),
    );
  label(pad, H - pad + 14, String(2 ** x0), 'start');
  label(W - pad, H - pad + 14, String(2 ** x1), 'end');
  label(pad - 4, pad + 4, formatMetric(y1), 'end');
  label(pad - 4, H - pad, formatMetric(y0), 'end');
  const measure = MEASURE_NAMES[r.pareto?.measure ?? ''] ?? r.metric;
  label(
    W / 2,
    H - 6,
    `NFE per sample (log scale) vs ${measure}${logY ? ' (log scale)' : ''} (lower is better)${r.pareto?.w !== undefined ? `, w = ${r.pareto.w}` : ''}`,
  );
  const front = points.filter((p) => p.front).sort((a, b) => a.nfe - b.nfe);
  if (front.length > 1)
    root.append(
      svg('polyline', {
        points: front.map((p) => `${X(p.nfe).toFixed(1)},${Y(p.quality).toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: 'var(--vscode-foreground, #ccc)',
        'stroke-dasharray': '4 3',
        'stroke-width': 1,
        'data-front': 'line',
      }),
    );
  for (const p of points) {
    const c = svg('circle', {
      cx: X(p.nfe).toFixed(1),
      cy: Y(p.quality).toFixed(1),
      r: p.front ? 5 : 3.5,
      fill: colorOf(p.method),
      stroke: p.front ? 'var(--vscode-foreground, #ccc)' : 'none',
      'data-method': p.method ?? '',
      'data-front': String(p.front),
    });
    c.append(
      svg('title', {}, `${p.label}: NFE ${p.nfe}, ${measure} ${formatMetric(p.quality)}${p.front ? ' (front)' : ''}`),
    );
    root.append(c);
  }
  const methods = [...new Set(points.map((p) => p.method ?? 'other'))];
  const legend = h(
    'div',
    { class: 'legend' },
    ...methods.map((m) => {
      const span = h('span', { 'data-method': m }, `● ${m}`);
      span.style.color = colorOf(m); // CSSOM, allowed by the CSP (style attributes are not)
      return span;
    }),
    h('span', { class: 'muted' }, '- - - the front: no point is better at fewer NFE'),
  );
  return h(
    'figure',
    { class: 'pareto', id: 'report-pareto', role: 'img', 'aria-label': `Quality vs NFE, ${points.length} points` },
    root,
    legend,
  );
}

/** "3.2 GFLOP", "1.5 PFLOP": a count of floating-point operations with an SI prefix. */
export function formatFlops(flops: number): string {
  const units = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  let v = flops;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toPrecision(3)} ${units[i]}FLOP`;
}

/** What each student cost to train; undefined when the report does not say. */
export function trainingCostTable(r: ReportView): HTMLElement | undefined {
  const costs = r.trainingCost ?? [];
  if (!costs.length) return undefined;
  const withTime = costs.some((c) => c.seconds !== undefined);
  return h(
    'table',
    { class: 'report', id: 'report-cost' },
    h(
      'caption',
      { class: 'muted' },
      "Training cost of each student: the stage-2 compute (and time) of its method's units up to its own.",
    ),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'method'),
        h('th', { scope: 'col' }, 'steps'),
        h('th', { scope: 'col' }, 'compute'),
        withTime ? h('th', { scope: 'col' }, 'time') : undefined,
      ),
    ),
    h(
      'tbody',
      {},
      ...costs.map((c) =>
        h(
          'tr',
          { 'data-method': c.method, 'data-steps': c.steps },
          h('td', {}, c.method),
          h('td', { class: 'num' }, String(c.steps)),
          h('td', { class: 'num', title: `${c.flops} floating-point operations` }, formatFlops(c.flops)),
          withTime ? h('td', { class: 'num' }, c.seconds !== undefined ? formatDuration(c.seconds) : '–') : undefined,
        ),
      ),
    ),
  );
}
