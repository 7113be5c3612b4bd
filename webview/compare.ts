/**
 * The Compare view of a sweep or of any runs picked together (dashboard family): one row per run — varied values
 * (a sweep's parameters, or the config fields the runs differ in), state and node, stage and step, final loss per
 * unit and, where evaluated, the 4-step student's and the teacher's quality at each w — sortable by any column (click
 * a header; again to reverse), overlaid loss curves of the selected runs (one unit, or every unit of a kind one after
 * the other; log y), each method's students at each step count in columns (quality at a chosen w, the best of each
 * step count marked) and their sample grids in the same columns. Built as DOM nodes from the validated `compare`
 * message; sort, selection, unit and w persist through getState/setState, with what the panel compares (the host
 * restores the panel from it after a reload).
 */
import type { CompareRow, CompareView } from '../src/protocol';
import { getState, h, installBaseStyles, onHostMessage, post, setState } from './vscode';

interface CompareState {
  sort?: string;
  desc?: boolean;
  selected?: string[];
  unit?: string;
  /** The guidance weight of the methods table. */
  w?: number;
  /** What the panel compares (read by the host's serializer). */
  sweepDir?: string;
  runDirs?: string[];
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
table.methods td.best { font-weight: 600; color: var(--vscode-testing-iconPassed, #73c991); }
table.methods th.group { text-align: center; }
table.student-grids td { vertical-align: top; text-align: center; }
table.student-grids img { image-rendering: pixelated; width: 160px; border: 1px solid var(--vscode-panel-border); }
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
  w: typeof saved.w === 'number' ? saved.w : undefined,
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
const wSelect = h('select', { id: 'methods-w', 'aria-label': 'Guidance weight of the methods table' });
const methodsTable = h('table', { class: 'compare methods', id: 'methods-table' });
const methodsNote = h('p', { class: 'muted', id: 'methods-note' });
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
  h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Methods at each step count'),
    h('div', { class: 'row' }, h('label', { for: 'methods-w' }, 'w'), wSelect),
    methodsNote,
    h('div', { class: 'scroll' }, methodsTable),
  ),
  h('section', { class: 'card' }, h('h2', {}, 'Few-step students side by side'), h('div', { class: 'scroll' }, grids)),
);
wSelect.addEventListener('change', () => {
  state.w = Number((wSelect as HTMLSelectElement).value);
  setState(state);
  renderMethods();
});
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
      text: (r) => (r.params[p] === null ? '–' : String(r.params[p])),
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
      renderMethods();
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

/** The kind of a unit: teacher, guided, progressive, consistency, autoencoder (progressive-64-32 → progressive). */
const kindOf = (unit: string): string => unit.split('-')[0];
const KIND = 'kind:';

/**
 * A run's loss curve for the picked entry: one unit's, or (KIND + kind) every unit of that kind in the run's order,
 * each after the one before on the step axis — runs with different phases (progressive-64-32 … or -128-64 …) overlay.
 */
function curveOf(r: CompareRow, entry: string): [number, number][] {
  if (!entry.startsWith(KIND)) return r.curves[entry] ?? [];
  const kind = entry.slice(KIND.length);
  const out: [number, number][] = [];
  let offset = 0;
  for (const [u, pts] of Object.entries(r.curves)) {
    if (kindOf(u) !== kind || !pts.length) continue;
    for (const [x, y] of pts) out.push([offset + x, y]);
    offset += pts[pts.length - 1][0];
  }
  return out;
}

function renderCurves(): void {
  if (!view) return;
  const units = view.units;
  const kinds = [...new Set(units.map(kindOf))].filter(
    (k) => units.filter((u) => kindOf(u) === k).length > 1 || !units.includes(k),
  );
  const entries = [...units, ...kinds.map((k) => KIND + k)];
  // By default the last unit every compared run has a curve of, so each run draws one (else the plans' last unit).
  const shared = units.filter((u) => view!.rows.every((r) => (r.curves[u] ?? []).length > 0));
  const unit =
    state.unit && entries.includes(state.unit) ? state.unit : (shared[shared.length - 1] ?? units[units.length - 1]);
  unitSelect.replaceChildren(
    ...units.map((u) => h('option', { value: u, selected: u === unit }, u)),
    ...kinds.map((k) =>
      h('option', { value: KIND + k, selected: KIND + k === unit }, `every ${k} unit, one after the other`),
    ),
  );
  const rows = view.rows.filter((r) => selected().includes(r.name));
  const series = rows
    .map((r, i) => ({
      r,
      color: COLORS[view!.rows.indexOf(r) % COLORS.length],
      pts: unit ? curveOf(r, unit) : [],
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
  label(
    W / 2,
    H - 6,
    `${unit.startsWith(KIND) ? `every ${unit.slice(KIND.length)} unit` : unit}: step (loss on a log scale)`,
  );
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

/** Every (step count, method) a selected run has a student of, fewest steps first, progressive before consistency. */
function studentColumns(rows: CompareRow[], of: (r: CompareRow) => { method: string; steps: number }[]) {
  const cols: { method: string; steps: number }[] = [];
  for (const r of rows)
    for (const s of of(r))
      if (!cols.some((c) => c.method === s.method && c.steps === s.steps))
        cols.push({ method: s.method, steps: s.steps });
  return cols.sort((a, b) => a.steps - b.steps || (a.method === b.method ? 0 : a.method === 'progressive' ? -1 : 1));
}

const stepsText = (n: number) => `${n} step${n === 1 ? '' : 's'}`;

/** Header rows of a by-step-count table: a group per step count, a column per method under it. */
function groupedHead(cols: { method: string; steps: number }[]): HTMLElement[] {
  const groups: { steps: number; n: number }[] = [];
  for (const c of cols) {
    const g = groups[groups.length - 1];
    if (g && g.steps === c.steps) g.n++;
    else groups.push({ steps: c.steps, n: 1 });
  }
  return [
    h(
      'tr',
      {},
      h('th', { class: 'name', rowspan: 2, scope: 'col' }, 'run'),
      ...groups.map((g) => h('th', { class: 'group', colspan: g.n, scope: 'colgroup' }, stepsText(g.steps))),
    ),
    h(
      'tr',
      {},
      ...cols.map((c) => h('th', { scope: 'col', 'data-method': c.method, 'data-steps': c.steps }, c.method)),
    ),
  ];
}

function renderMethods(): void {
  if (!view) return;
  const rows = view.rows.filter((r) => selected().includes(r.name) && r.quality?.students?.length);
  const ws = [...new Set(rows.flatMap((r) => r.quality!.w))].sort((a, b) => a - b);
  if (!rows.length || !ws.length) {
    wSelect.replaceChildren();
    methodsNote.textContent = 'No selected run has an evaluation report with its students yet (Evaluate Run).';
    methodsTable.replaceChildren();
    return;
  }
  const w = state.w !== undefined && ws.includes(state.w) ? state.w : ws.includes(2) ? 2 : ws[ws.length - 1];
  wSelect.replaceChildren(...ws.map((x) => h('option', { value: x, selected: x === w }, String(x))));
  const metric = rows[0].quality!.metric;
  methodsNote.textContent = `${metric} at w = ${w} of each student (lower is better); the best at each step count with two or more students in bold.`;
  const cols = studentColumns(rows, (r) => r.quality!.students!);
  const at = (r: CompareRow, c: { method: string; steps: number }): number | undefined => {
    const i = r.quality!.w.indexOf(w);
    const s = r.quality!.students!.find((x) => x.method === c.method && x.steps === c.steps);
    return i >= 0 && s ? (s.quality[i] ?? undefined) : undefined;
  };
  // the best of each step count where two or more students (of any run) have a number there
  const best = new Map<number, number>();
  const count = new Map<number, number>();
  for (const r of rows)
    for (const c of cols) {
      const v = at(r, c);
      if (v === undefined) continue;
      count.set(c.steps, (count.get(c.steps) ?? 0) + 1);
      if (v < (best.get(c.steps) ?? Infinity)) best.set(c.steps, v);
    }
  for (const [steps, n] of count) if (n < 2) best.delete(steps);
  const body = rows.map((r) =>
    h(
      'tr',
      { 'data-run': r.name },
      h('td', { class: 'name' }, r.name),
      ...cols.map((c) => {
        const v = at(r, c);
        return h(
          'td',
          {
            class: v !== undefined && v === best.get(c.steps) ? 'best' : '',
            'data-method': c.method,
            'data-steps': c.steps,
          },
          fmt(v),
        );
      }),
    ),
  );
  methodsTable.replaceChildren(h('thead', {}, ...groupedHead(cols)), h('tbody', {}, ...body));
}

function renderGrids(): void {
  if (!view) return;
  const rows = view.rows.filter((r) => selected().includes(r.name));
  const gridsOf = (r: CompareRow) =>
    r.students ??
    (r.grid ? [{ method: 'progressive', steps: 0, unit: r.grid.unit, step: r.grid.step, src: r.grid.src }] : []);
  const withGrids = rows.filter((r) => gridsOf(r).length);
  if (!withGrids.length) {
    grids.replaceChildren(h('p', { class: 'empty' }, 'No student grid yet for the selected runs.'));
    return;
  }
  const cols = studentColumns(withGrids, gridsOf);
  const body = withGrids.map((r) =>
    h(
      'tr',
      { 'data-run': r.name },
      h('td', { class: 'name' }, r.name),
      ...cols.map((c) => {
        const g = gridsOf(r).find((x) => x.method === c.method && x.steps === c.steps);
        return h(
          'td',
          { 'data-method': c.method, 'data-steps': c.steps },
          g
            ? h(
                'figure',
                { 'data-run': r.name },
                h('img', { src: g.src, alt: `${r.name}: ${g.unit} step ${g.step}` }),
                h('figcaption', {}, `${g.unit} · step ${g.step}`),
              )
            : '–',
        );
      }),
    ),
  );
  grids.replaceChildren(
    h(
      'table',
      { class: 'student-grids', id: 'student-grids' },
      h('thead', {}, ...groupedHead(cols)),
      h('tbody', {}, ...body),
    ),
  );
}

onHostMessage((m) => {
  if (m.type !== 'compare') return;
  view = m.view;
  title.textContent = `Compare: ${view.name}`;
  const counts = new Map<string, number>();
  for (const r of view.rows) counts.set(r.state ?? r.status, (counts.get(r.state ?? r.status) ?? 0) + 1);
  const states = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
  summary.textContent = view.sweepDir
    ? `${view.rows.length} runs (${view.launcher ?? 'sweep'}) · ${states} · ${view.sweepDir}`
    : `${view.rows.length} runs picked · ${states}`;
  // what the panel compares, for the host to restore it after a reload
  delete state.sweepDir;
  delete state.runDirs;
  if (view.sweepDir) state.sweepDir = view.sweepDir;
  else if (view.runDirs) state.runDirs = view.runDirs;
  setState(state);
  renderTable();
  renderCurves();
  renderMethods();
  renderGrids();
});
post({ type: 'ready' });
