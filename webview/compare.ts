/**
 * The Compare view of a sweep (dashboard family): one row per run — varied values, state and node, stage and step,
 * final loss per unit and, where evaluated, the 4-step student's and the teacher's quality at each w — sortable by
 * any column (click a header; again to reverse), overlaid loss curves of the selected runs (one unit at a time, log
 * y) and the selected runs' few-step student grids side by side. Built as DOM nodes from the validated `compare`
 * message; sort, selection and unit persist through getState/setState.
 */
import type { CompareRow, CompareView } from '../src/protocol';
import { getState, h, installBaseStyles, onHostMessage, post, setState } from './vscode';

interface CompareState {
  sort?: string;
  desc?: boolean;
  selected?: string[];
  unit?: string;
}

installBaseStyles(`
table.compare { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 8px 0; }
table.compare th, table.compare td { padding: 3px 8px; border-bottom: 1px solid var(--vscode-panel-border); text-align: right; white-space: nowrap; }
table.compare th { cursor: pointer; user-select: none; }
table.compare th[aria-sort="ascending"]::after { content: " ▲"; }
table.compare th[aria-sort="descending"]::after { content: " ▼"; }
table.compare td.name, table.compare th.name { text-align: left; }
table.compare tr.selected td { background: color-mix(in srgb, var(--vscode-focusBorder) 18%, transparent); }
.curves svg { width: 100%; max-width: 900px; height: 280px; }
.grids { display: flex; flex-wrap: wrap; gap: 12px; }
.grids figure { margin: 0; }
.grids img { image-rendering: pixelated; width: 220px; border: 1px solid var(--vscode-panel-border); }
.grids figcaption { font-size: 11px; max-width: 220px; overflow-wrap: anywhere; }
.legend span { margin-right: 12px; }
.scroll { overflow-x: auto; max-width: 100%; }
a.open-run { color: var(--vscode-textLink-foreground, #3794ff); }
`);

const saved = getState<CompareState>();
const state: CompareState = {
  sort: typeof saved.sort === 'string' ? saved.sort : undefined,
  desc: saved.desc === true,
  selected: Array.isArray(saved.selected)
    ? saved.selected.filter((s): s is string => typeof s === 'string')
    : undefined,
  unit: typeof saved.unit === 'string' ? saved.unit : undefined,
};
let view: CompareView | undefined;

const COLORS = [
  '#4e9fea',
  '#e8a33d',
  '#5fbf6a',
  '#d9534f',
  '#a67fd8',
  '#46c2c2',
  '#e377c2',
  '#bcbd22',
  '#8c8c8c',
  '#ff7f0e',
];

const title = h('h1', { id: 'title' }, 'Compare runs');
const summary = h('p', { id: 'summary', class: 'muted' });
const table = h('table', { class: 'compare', id: 'compare-table' });
const unitSelect = h('select', { id: 'curve-unit', 'aria-label': 'Unit of the loss curves' });
const curves = h('div', {
  class: 'curves',
  id: 'curves',
  role: 'img',
  'aria-label': 'Loss curves of the selected runs',
});
const legend = h('div', { class: 'legend', id: 'curve-legend' });
const grids = h('div', { class: 'grids', id: 'grids' });
document.body.append(
  h('header', {}, title, summary),
  h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Runs'),
    h(
      'p',
      { class: 'muted' },
      'Click a header to sort, a row to select it for the curves and grids, a name to open its dashboard.',
    ),
    h('div', { class: 'scroll' }, table),
  ),
  h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Loss curves of the selected runs'),
    h('div', { class: 'row' }, h('label', { for: 'curve-unit' }, 'Unit'), unitSelect),
    curves,
    legend,
  ),
  h('section', { class: 'card' }, h('h2', {}, 'Few-step students side by side'), grids),
);
unitSelect.addEventListener('change', () => {
  state.unit = (unitSelect as HTMLSelectElement).value;
  setState(state);
  renderCurves();
});

interface Column {
  key: string;
  label: string;
  value: (r: CompareRow) => number | string | undefined;
  text?: (r: CompareRow) => string;
}

const fmt = (v: number | undefined | null): string =>
  v === undefined || v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);

function columns(v: CompareView): Column[] {
  const cols: Column[] = [{ key: 'name', label: 'run', value: (r) => r.name }];
  for (const p of v.params)
    cols.push({
      key: `p:${p}`,
      label: p,
      value: (r) => (typeof r.params[p] === 'number' ? (r.params[p] as number) : String(r.params[p])),
      text: (r) => String(r.params[p]),
    });
  cols.push({
    key: 'state',
    label: 'state',
    value: (r) => r.state ?? r.status,
    text: (r) => `${r.state ?? r.status}${r.node ? ` @${r.node}` : ''}`,
  });
  cols.push({
    key: 'stage',
    label: 'stage · step',
    value: (r) => (r.unit ? `${r.unit} ${String(r.step ?? 0).padStart(9, '0')}` : ''),
    text: (r) => (r.unit ? `${r.unit} ${r.step}/${r.totalSteps}` : '–'),
  });
  for (const u of v.units)
    cols.push({ key: `l:${u}`, label: `${u} loss`, value: (r) => r.losses[u], text: (r) => fmt(r.losses[u]) });
  const ws = [...new Set(v.rows.flatMap((r) => r.quality?.w ?? []))].sort((a, b) => a - b);
  const q = v.rows.find((r) => r.quality)?.quality;
  const metric = q?.metric ?? '';
  const student = q?.studentSteps ? `${q.studentSteps}-step student` : 'student';
  const teacher = q ? `teacher ${q.teacherSteps}` : 'teacher';
  for (const w of ws) {
    const at = (r: CompareRow, which: 'student' | 'teacher') => {
      const i = r.quality?.w.indexOf(w) ?? -1;
      return i >= 0 ? (r.quality![which][i] ?? undefined) : undefined;
    };
    cols.push({
      key: `s:${w}`,
      label: `${student} ${metric} w=${w}`,
      value: (r) => at(r, 'student'),
      text: (r) => fmt(at(r, 'student')),
    });
    cols.push({
      key: `t:${w}`,
      label: `${teacher} ${metric} w=${w}`,
      value: (r) => at(r, 'teacher'),
      text: (r) => fmt(at(r, 'teacher')),
    });
  }
  return cols;
}

function sortedRows(v: CompareView, cols: Column[]): CompareRow[] {
  const col = cols.find((c) => c.key === state.sort);
  if (!col) return v.rows;
  const dir = state.desc ? -1 : 1;
  return [...v.rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    if (x === undefined && y === undefined) return 0;
    if (x === undefined) return 1; // missing values last either way
    if (y === undefined) return -1;
    return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir;
  });
}

function selected(): string[] {
  if (!view) return [];
  const names = view.rows.map((r) => r.name);
  const sel = (state.selected ?? names.slice(0, 4)).filter((n) => names.includes(n));
  return sel;
}

function renderTable(): void {
  if (!view) return;
  const cols = columns(view);
  const sel = new Set(selected());
  const head = h(
    'tr',
    {},
    ...cols.map((c) => {
      const th = h(
        'th',
        {
          class: c.key === 'name' ? 'name' : '',
          scope: 'col',
          tabindex: 0,
          'data-key': c.key,
          'aria-sort': state.sort === c.key ? (state.desc ? 'descending' : 'ascending') : 'none',
        },
        c.label,
      );
      const act = () => {
        if (state.sort === c.key) state.desc = !state.desc;
        else {
          state.sort = c.key;
          state.desc = false;
        }
        setState(state);
        renderTable();
      };
      th.addEventListener('click', act);
      th.addEventListener('keydown', (e) => (e as KeyboardEvent).key === 'Enter' && act());
      return th;
    }),
  );
  const body = sortedRows(view, cols).map((r) => {
    const tr = h('tr', {
      class: sel.has(r.name) ? 'selected' : '',
      'data-run': r.name,
      'aria-selected': sel.has(r.name),
    });
    for (const c of cols) {
      if (c.key === 'name') {
        const a = h('a', { href: '#', class: 'open-run' }, r.name);
        a.addEventListener('click', (e) => {
          e.preventDefault();
          e.stopPropagation();
          post({ type: 'openRun', runDir: r.runDir });
        });
        tr.append(h('td', { class: 'name' }, a));
      } else tr.append(h('td', {}, c.text ? c.text(r) : String(c.value(r) ?? '–')));
    }
    tr.addEventListener('click', () => {
      const cur = new Set(selected());
      if (cur.has(r.name)) cur.delete(r.name);
      else cur.add(r.name);
      state.selected = [...cur];
      setState(state);
      renderTable();
      renderCurves();
      renderGrids();
    });
    return tr;
  });
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function renderCurves(): void {
  if (!view) return;
  const units = view.units;
  const unit = state.unit && units.includes(state.unit) ? state.unit : units[units.length - 1];
  unitSelect.replaceChildren(...units.map((u) => h('option', { value: u, selected: u === unit }, u)));
  const rows = view.rows.filter((r) => selected().includes(r.name));
  const series = rows
    .map((r, i) => ({
      r,
      color: COLORS[view!.rows.indexOf(r) % COLORS.length],
      pts: (unit && r.curves[unit]) || [],
      i,
    }))
    .filter((s) => s.pts.length);
  if (!unit || !series.length) {
    curves.replaceChildren(h('p', { class: 'empty' }, 'Select runs with losses to see their curves.'));
    legend.replaceChildren();
    return;
  }
  const W = 900;
  const H = 280;
  const pad = 40;
  const all = series.flatMap((s) => s.pts);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => Math.log10(Math.max(p[1], 1e-12)));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const X = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const Y = (y: number) => H - pad - ((Math.log10(Math.max(y, 1e-12)) - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, 'data-unit': unit });
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
  const label = (x: number, y: number, t: string, anchor = 'middle') => {
    const el = svg('text', { x, y, 'text-anchor': anchor, fill: 'var(--vscode-foreground, #ccc)', 'font-size': 11 });
    el.textContent = t;
    root.append(el);
  };
  label(pad, H - pad + 14, String(x0), 'start');
  label(W - pad, H - pad + 14, String(x1), 'end');
  label(pad - 4, pad + 4, (10 ** y1).toPrecision(3), 'end');
  label(pad - 4, H - pad, (10 ** y0).toPrecision(3), 'end');
  label(W / 2, H - 6, `${unit}: step (loss on a log scale)`);
  for (const s of series) {
    root.append(
      svg('polyline', {
        points: s.pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: s.color,
        'stroke-width': 1.5,
        'data-run': s.r.name,
      }),
    );
  }
  curves.replaceChildren(root);
  legend.replaceChildren(
    ...series.map((s) => {
      const span = h('span', { 'data-run': s.r.name }, `━ ${s.r.name}`);
      span.style.color = s.color; // CSSOM, allowed by the CSP (style attributes are not)
      return span;
    }),
  );
}

function renderGrids(): void {
  if (!view) return;
  const rows = view.rows.filter((r) => selected().includes(r.name));
  const figs = rows
    .filter((r) => r.grid)
    .map((r) =>
      h(
        'figure',
        { 'data-run': r.name },
        h('img', { src: r.grid!.src, alt: `${r.name}: ${r.grid!.unit} step ${r.grid!.step}` }),
        h('figcaption', {}, `${r.name} · ${r.grid!.unit} · step ${r.grid!.step}`),
      ),
    );
  grids.replaceChildren(
    ...(figs.length ? figs : [h('p', { class: 'empty' }, 'No student grid yet for the selected runs.')]),
  );
}

onHostMessage((m) => {
  if (m.type !== 'compare') return;
  view = m.view;
  title.textContent = `Compare: ${view.name}`;
  const counts = new Map<string, number>();
  for (const r of view.rows) counts.set(r.state ?? r.status, (counts.get(r.state ?? r.status) ?? 0) + 1);
  summary.textContent = `${view.rows.length} runs (${view.launcher}) · ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')} · ${view.sweepDir}`;
  renderTable();
  renderCurves();
  renderGrids();
});
post({ type: 'ready' });
