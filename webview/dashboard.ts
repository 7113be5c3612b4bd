/**
 * The run dashboard webview: stage controls (launch / resume / stop), per-unit progress, the live loss chart,
 * the sample-grid history and the evaluation report (headline table and plots; Run evaluation / Re-evaluate).
 * Everything shown is derived from the host's `init` / `events` / `run` / `configs` / `report` messages and built as
 * DOM nodes (never HTML from data); UI choices (grid shown, smoothing, log scale, unit filter) persist through
 * getState/setState.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import uplotCss from 'uplot/dist/uPlot.min.css';
import type { SamplesEvent } from '../src/engine/run/events';
import type { ConfigEntry, HostToWebview, ReportView, RunView } from '../src/protocol';
import { LossChart, unitColor } from './chart';
import { renderLabelledGrid } from './grid';
import {
  AlignedData,
  formatDuration,
  formatLoss,
  formatMetric,
  formatPercent,
  formatRatio,
  formatSpeedup,
  RunModel,
} from './model';
import { methodsTable, paretoPlot, REPORT_METHODS_CSS, trainingCostTable } from './report-methods';
import { getState, h, installBaseStyles, onHostMessage, post, setDisabled, setState } from './vscode';

interface DashboardState {
  runDir?: string;
  /** Index of the grid shown; undefined follows the newest grid. */
  gridIndex?: number;
  smoothing: number;
  logScale: boolean;
  unit?: string;
}

installBaseStyles(uplotCss, REPORT_METHODS_CSS);

const saved = getState<DashboardState>();
const state: DashboardState = {
  runDir: typeof saved.runDir === 'string' ? saved.runDir : undefined,
  gridIndex: typeof saved.gridIndex === 'number' ? saved.gridIndex : undefined,
  smoothing: typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing < 1 ? saved.smoothing : 0.6,
  logScale: saved.logScale === true,
  unit: typeof saved.unit === 'string' ? saved.unit : undefined,
};
const persist = (): void => setState(state);

let model = new RunModel();
let run: RunView | undefined;
let configs: ConfigEntry[] = [];
let sampleBase = '';
let initialised = false;
/** Set after a command is posted; controls stay disabled until the host answers with fresh run/config state. */
let commandPending = false;
/** The run's evaluation report as the host last described it (`reportKnown` false until it has). */
let report: ReportView | undefined;
let reportProblem: string | undefined;
let reportKnown = false;
let evaluating = false;
/** Set when Run evaluation is clicked; the button stays disabled until the host answers. */
let evaluatePending = false;

// ─────────────────────────────────── DOM ───────────────────────────────────
const title = h('h1', { id: 'title' }, 'Diffusion Distiller');
const statusBadge = h('span', { class: 'status', id: 'status', 'data-status': 'new', role: 'status' }, 'no run');
const facts = h('dl', { class: 'facts', id: 'facts' });
const errorLine = h('p', { class: 'error', id: 'run-error', role: 'alert' });
const backendWarning = h('p', { class: 'warning', id: 'backend-warning', role: 'status' });

const resumeBtn = h('vscode-button', { id: 'resume', secondary: true, disabled: true }, 'Resume run');
const stopBtn = h('vscode-button', { id: 'stop', secondary: true, disabled: true }, 'Stop');
const configTable = h('table', { class: 'configs', id: 'configs' });
const unitsGrid = h('div', { class: 'units', id: 'units', role: 'list', 'aria-label': 'Progress per training unit' });

const unitSelect = h('vscode-single-select', { id: 'unit-filter', 'aria-label': 'Units shown in the chart' });
const smoothInput = h('input', {
  type: 'range',
  id: 'smoothing',
  min: 0,
  max: 0.99,
  step: 0.01,
  value: state.smoothing,
  'aria-describedby': 'smoothing-value',
});
const smoothValue = h('output', { id: 'smoothing-value', for: 'smoothing', class: 'num' });
const logToggle = h('vscode-checkbox', { id: 'log-scale', label: 'Log scale', checked: state.logScale });
const chartHost = h('div', { class: 'chart', id: 'loss-chart', role: 'img', 'aria-label': 'Training loss per unit' });
const legend = h('ul', { class: 'legend', id: 'loss-legend', 'aria-label': 'Loss series' });
const chartEmpty = h('p', { class: 'empty', id: 'loss-empty' }, 'No loss values yet.');

const gridSlider = h('input', { type: 'range', id: 'grid-slider', min: 0, max: 0, step: 1, value: 0, disabled: true });
const gridPosition = h('span', { id: 'grid-position', class: 'muted num' });
const gridCaption = h('p', { id: 'grid-caption', class: 'num', 'aria-live': 'polite' });
const gridHost = h('div', { class: 'grid-figure', id: 'grid' });

const evaluateBtn = h('vscode-button', { id: 'evaluate', disabled: true }, 'Run evaluation');
const openReportBtn = h('vscode-button', { id: 'open-report', secondary: true, hidden: true }, 'Open report.md');
const reportStatus = h('p', { id: 'report-status', class: 'muted', 'aria-live': 'polite' });
const reportErrorLine = h('p', { class: 'error', id: 'report-error', role: 'alert' });
const reportTable = h('table', { class: 'report', id: 'report-table' });
/** Each method's students side by side, quality vs NFE and training cost (reports that have them). */
const reportMethods = h('div', { id: 'report-methods-section' });
const reportNotes = h('ul', { class: 'notes muted', id: 'report-notes' });
const reportPlots = h('div', { class: 'plots', id: 'report-plots' });
const reportSection = h(
  'section',
  { class: 'card', id: 'report', 'aria-labelledby': 'h-report', hidden: true },
  h('h2', { id: 'h-report' }, 'Report'),
  h('div', { class: 'row' }, evaluateBtn, openReportBtn),
  reportStatus,
  reportErrorLine,
  reportTable,
  reportMethods,
  reportNotes,
  reportPlots,
);

document.body.append(
  h('header', {}, title, h('div', { class: 'row' }, statusBadge, facts), errorLine, backendWarning),
  h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-controls' },
    h('h2', { id: 'h-controls' }, 'Stages'),
    h('div', { class: 'row' }, resumeBtn, stopBtn),
    unitsGrid,
    configTable,
  ),
  h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-loss' },
    h('h2', { id: 'h-loss' }, 'Loss'),
    h(
      'div',
      { class: 'row' },
      h('label', { for: 'unit-filter' }, 'Show'),
      unitSelect,
      h('label', { for: 'smoothing' }, 'Smoothing (EMA)'),
      smoothInput,
      smoothValue,
      logToggle,
    ),
    chartEmpty,
    chartHost,
    legend,
  ),
  h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-samples' },
    h('h2', { id: 'h-samples' }, 'Samples over guidance weights'),
    h('div', { class: 'row' }, h('label', { for: 'grid-slider' }, 'Grid'), gridSlider, gridPosition),
    gridCaption,
    gridHost,
  ),
  reportSection,
);

// ───────────────────────────────── chart ─────────────────────────────────
function renderLegend(d: AlignedData, drawn: Record<string, number>): void {
  const items = d.units.map((unit, i) => {
    const series = model.loss.get(unit);
    const last = series && series.losses.length ? series.losses[series.losses.length - 1] : undefined;
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    sw.style.background = unitColor(model.loss.order.indexOf(unit));
    return h(
      'li',
      { 'data-unit': unit, 'data-points': d.recorded[i], 'data-drawn': drawn[unit] ?? 0 },
      sw,
      `${unit}: ${d.recorded[i].toLocaleString('en-US')} points`,
      last !== undefined ? `, last ${formatLoss(last)}` : '',
      d.drawn[i] < d.recorded[i] ? ` (drawn as ${d.drawn[i].toLocaleString('en-US')})` : '',
    );
  });
  legend.replaceChildren(...items);
  const empty = model.loss.pointCount() === 0;
  chartEmpty.hidden = !empty;
  chartHost.dataset.points = String(d.x.length);
}

const chart = new LossChart(chartHost, () => model.loss, chartOptions(), renderLegend);

function chartOptions(): { smoothing: number; logScale: boolean; unit?: string } {
  return { smoothing: state.smoothing, logScale: state.logScale, unit: state.unit };
}

function renderUnitFilter(): void {
  const units = model.loss.order;
  const wanted = ['', ...units].join('\n');
  if (unitSelect.dataset.units !== wanted) {
    unitSelect.dataset.units = wanted;
    const opts = [
      h('vscode-option', { value: '' }, 'All units'),
      ...units.map((u) => h('vscode-option', { value: u }, u)),
    ];
    unitSelect.replaceChildren(...opts);
  }
  if (state.unit && !units.includes(state.unit)) state.unit = undefined;
  (unitSelect as HTMLElement & { value: string }).value = state.unit ?? '';
}

unitSelect.addEventListener('change', () => {
  const v = (unitSelect as HTMLElement & { value: string }).value;
  state.unit = v ? v : undefined;
  persist();
  chart.setOptions(chartOptions());
});
smoothInput.addEventListener('input', () => {
  state.smoothing = Math.min(0.99, Math.max(0, Number(smoothInput.value) || 0));
  smoothValue.textContent = state.smoothing.toFixed(2);
  persist();
  chart.setOptions(chartOptions());
});
logToggle.addEventListener('change', () => {
  state.logScale = (logToggle as HTMLElement & { checked: boolean }).checked;
  persist();
  chart.setOptions(chartOptions());
});
smoothValue.textContent = state.smoothing.toFixed(2);

// ───────────────────────────────── grids ─────────────────────────────────
function sampleUrl(file: string): string {
  const rel = file
    .split(/[\\/]+/)
    .filter(Boolean)
    .map(encodeURIComponent)
    .join('/');
  return `${sampleBase.replace(/\/+$/, '')}/${rel}`;
}

function gridLabel(g: SamplesEvent): string {
  if (!g.w.length)
    return `${g.unit} · step ${g.step.toLocaleString('en-US')} · originals (top) over reconstructions (bottom)`;
  return `${g.unit} · step ${g.step.toLocaleString('en-US')} · ${g.steps} sampling step${g.steps === 1 ? '' : 's'}, NFE ${g.nfe}`;
}

let shownGrid: SamplesEvent | undefined;
function renderGrids(): void {
  const n = model.grids.length;
  setDisabled(gridSlider, n <= 1);
  gridSlider.max = String(Math.max(0, n - 1));
  if (n === 0) {
    gridPosition.textContent = '';
    gridCaption.textContent = 'No sample grids yet.';
    gridHost.replaceChildren();
    shownGrid = undefined;
    return;
  }
  if (state.gridIndex !== undefined && state.gridIndex >= n - 1) state.gridIndex = undefined;
  const idx = state.gridIndex ?? n - 1;
  const g = model.grids[idx];
  gridSlider.value = String(idx);
  const label = gridLabel(g);
  gridSlider.setAttribute('aria-valuetext', `grid ${idx + 1} of ${n}: ${label}`);
  gridPosition.textContent = `${idx + 1} / ${n}${state.gridIndex === undefined ? ' (newest)' : ''}`;
  gridCaption.textContent = label;
  gridCaption.dataset.unit = g.unit;
  gridCaption.dataset.step = String(g.step);
  if (g !== shownGrid) {
    shownGrid = g;
    // the autoencoder's grids (latent-space runs) have no w columns: a row of originals over their reconstructions
    if (!g.w.length)
      gridHost.replaceChildren(
        h('img', { src: sampleUrl(g.file), alt: `Reconstructions of ${label}`, class: 'recon', draggable: 'false' }),
      );
    else
      renderLabelledGrid(gridHost, {
        src: sampleUrl(g.file),
        w: g.w,
        classes: g.classes,
        alt: `Samples of ${label}: rows are classes, columns are guidance weights`,
      });
  }
}

gridSlider.addEventListener('input', () => {
  const n = model.grids.length;
  const idx = Math.max(0, Math.min(n - 1, Math.round(Number(gridSlider.value))));
  state.gridIndex = idx >= n - 1 ? undefined : idx;
  persist();
  renderGrids();
});

// ──────────────────────────── run / controls ─────────────────────────────
function fact(label: string, value: string, id: string): HTMLElement {
  return h('div', {}, h('dt', {}, label), h('dd', { id }, value));
}

function renderRun(): void {
  title.textContent = run ? `Run ${run.name}` : 'Diffusion Distiller';
  statusBadge.dataset.status = run?.status ?? 'new';
  statusBadge.textContent = run ? `${run.status}${run.active ? ' (this window)' : ''}` : 'no run';
  const cur = run?.units.find((u) => !u.done) ?? run?.units[run.units.length - 1];
  const items: HTMLElement[] = [];
  if (run) {
    items.push(fact('Backend', run.backend ?? '—', 'fact-backend'));
    if (run.device) items.push(fact('Device', run.device, 'fact-device'));
    items.push(
      fact('Rate', run.rate !== undefined ? `${run.rate.toFixed(run.rate < 10 ? 2 : 1)} steps/s` : '—', 'fact-rate'),
    );
    items.push(
      fact(
        'ETA',
        run.status === 'running' && run.etaSeconds !== undefined ? formatDuration(run.etaSeconds) : '—',
        'fact-eta',
      ),
    );
    if (cur) items.push(fact('Unit', cur.unit, 'fact-unit'));
  }
  facts.replaceChildren(...items);
  errorLine.textContent = run && run.status === 'failed' && model.lastError ? model.lastError : '';
  backendWarning.textContent = run?.backendWarning ? `⚠ ${run.backendWarning}` : '';

  unitsGrid.replaceChildren(
    ...(run?.units ?? []).flatMap((u) => {
      const frac = u.totalSteps > 0 ? Math.min(1, Math.max(0, u.step / u.totalSteps)) : u.done ? 1 : 0;
      const fill = h('div', { class: 'bar-fill' });
      fill.style.width = `${(frac * 100).toFixed(2)}%`;
      const bar = h(
        'div',
        {
          class: 'bar-wrap',
          role: 'progressbar',
          'aria-label': `${u.unit} progress`,
          'aria-valuemin': 0,
          'aria-valuemax': u.totalSteps,
          'aria-valuenow': u.step,
        },
        h('div', { class: 'bar' }),
        fill,
      );
      return [
        h('span', { role: 'listitem', 'data-unit': u.unit }, u.unit),
        bar,
        h(
          'span',
          { class: 'num' },
          `${u.step.toLocaleString('en-US')} / ${u.totalSteps.toLocaleString('en-US')}${u.done ? ' ✓' : ` (${Math.floor(frac * 100)}%)`}`,
        ),
      ];
    }),
  );
  renderControls();
}

function busy(): boolean {
  return commandPending || run?.active === true || run?.status === 'running';
}

function renderControls(): void {
  const b = busy();
  setDisabled(resumeBtn, !run || b || run.status === 'finished');
  setDisabled(stopBtn, !run || commandPending || !(run.active || run.status === 'running'));
  for (const btn of Array.from(configTable.querySelectorAll<HTMLElement>('vscode-button[data-config]'))) {
    const cfg = configs.find((c) => c.path === btn.dataset.config);
    setDisabled(btn, b || !cfg || cfg.error !== undefined);
  }
}

function renderConfigs(): void {
  if (configs.length === 0) {
    configTable.replaceChildren(h('caption', { class: 'muted' }, 'No *.distill.json configurations in the workspace.'));
    return;
  }
  const rows = configs.map((c, i) => {
    const btn = h(
      'vscode-button',
      { 'data-config': c.path, 'aria-label': `Launch ${c.label}`, id: `launch-${i}` },
      'Launch',
    );
    btn.addEventListener('click', () => {
      if (btn.hasAttribute('disabled') || busy()) return;
      commandPending = true;
      renderControls();
      post({ type: 'launch', configPath: c.path });
    });
    return h(
      'tr',
      {},
      h('td', {}, h('span', { title: c.path }, c.label)),
      h('td', { class: 'muted' }, c.stages.join(' → ')),
      h('td', {}, c.error ? h('span', { class: 'error' }, c.error) : btn),
    );
  });
  configTable.replaceChildren(
    h('caption', { class: 'muted' }, 'Workspace configurations'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Config'),
        h('th', { scope: 'col' }, 'Stages'),
        h('th', { scope: 'col' }, 'Action'),
      ),
    ),
    h('tbody', {}, ...rows),
  );
  renderControls();
}

resumeBtn.addEventListener('click', () => {
  if (!run || resumeBtn.hasAttribute('disabled')) return;
  commandPending = true;
  renderControls();
  post({ type: 'resume', runDir: run.runDir });
});
stopBtn.addEventListener('click', () => {
  if (!run || stopBtn.hasAttribute('disabled')) return;
  commandPending = true;
  renderControls();
  post({ type: 'stop', runDir: run.runDir });
});

// ───────────────────────────────── report ─────────────────────────────────
function renderReportControls(): void {
  const busyEval = evaluating || evaluatePending;
  evaluateBtn.textContent = busyEval ? 'Evaluating…' : report ? 'Re-evaluate' : 'Run evaluation';
  setDisabled(evaluateBtn, !run || !reportKnown || busyEval);
  openReportBtn.hidden = !report;
}

function reportTableRows(r: ReportView): HTMLElement[] {
  const image = r.kind === 'image';
  const q = r.metric;
  const s = r.studentSteps;
  const head: [string, string][] = [
    ['w', 'w'],
    ['teacher', `teacher ${r.referenceSteps} steps ${q}`],
    ['student', s === null ? `student ${q}` : `student ${s} step${s === 1 ? '' : 's'} ${q}`],
    ['teacher-few', s === null ? `teacher few-step DDIM ${q}` : `teacher ${s} steps DDIM ${q}`],
  ];
  if (image)
    head.push(
      ['teacher-accuracy', `accuracy teacher ${r.referenceSteps}`],
      ['student-accuracy', s === null ? 'accuracy student' : `accuracy student ${s}`],
    );
  // diversity beside accuracy (older reports have neither column)
  if (r.rows.some((x) => x.teacherRecall !== null || x.studentRecall !== null))
    head.push(
      ['teacher-recall', `recall teacher ${r.referenceSteps}`],
      ['student-recall', s === null ? 'recall student' : `recall student ${s}`],
    );
  if (r.rows.some((x) => x.teacherDiversity !== null || x.studentDiversity !== null))
    head.push(
      ['teacher-diversity', `diversity ÷ real, teacher ${r.referenceSteps}`],
      ['student-diversity', s === null ? 'diversity ÷ real, student' : `diversity ÷ real, student ${s}`],
    );
  head.push(['speedup', 'speed-up of the student']);
  const cells = (row: Record<string, string>, cls: string): HTMLElement =>
    h(
      'tr',
      { class: cls },
      ...head.map(([col], i) =>
        i === 0
          ? h('th', { scope: 'row', 'data-col': col }, row[col] ?? '')
          : h('td', { class: 'num', 'data-col': col }, row[col] ?? ''),
      ),
    );
  const body = r.rows.map((x) =>
    cells(
      {
        w: String(x.w),
        teacher: formatMetric(x.teacher),
        student: formatMetric(x.student),
        'teacher-few': formatMetric(x.teacherFew),
        'teacher-accuracy': formatPercent(x.teacherAccuracy),
        'student-accuracy': formatPercent(x.studentAccuracy),
        'teacher-recall': formatRatio(x.teacherRecall),
        'student-recall': formatRatio(x.studentRecall),
        'teacher-diversity': formatRatio(x.teacherDiversity),
        'student-diversity': formatRatio(x.studentDiversity),
        speedup: formatSpeedup(x.speedup, x.nfeRatio),
      },
      'w-row',
    ),
  );
  const caption =
    s === null
      ? `The guided teacher at ${r.referenceSteps} steps (${r.referenceNfe} NFE); no distilled student was evaluated. ${q}: lower is better; recall and diversity ÷ real: higher is more varied, real data in the last row.`
      : `The guided teacher at ${r.referenceSteps} steps (${r.referenceNfe} NFE) vs the ${s}-step distilled student (${r.studentNfe ?? s} NFE) and the teacher's own ${s}-step DDIM, same seeds. ${q}: lower is better; recall and diversity ÷ real: higher is more varied, real data in the last row.`;
  const real = cells(
    {
      w: 'real data',
      teacher: formatMetric(r.realQuality),
      'teacher-accuracy': formatPercent(r.realAccuracy),
      'teacher-recall': formatRatio(r.realRecall),
      'teacher-diversity': formatRatio(1),
    },
    'real-row',
  );
  real.title = `Held-out data, half vs half: the floor of ${q}${image ? ", and the judge's accuracy on real digits" : ''}`;
  return [
    h('caption', { class: 'muted' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...head.map(([col, label]) =>
          h('th', { scope: 'col', 'data-col': col, title: col === 'w' ? 'guidance weight w' : undefined }, label),
        ),
      ),
    ),
    h('tbody', {}, ...body),
    h('tfoot', {}, real),
  ];
}

function renderReport(): void {
  reportSection.hidden = !run;
  renderReportControls();
  reportErrorLine.textContent = reportProblem ? `The report cannot be shown: ${reportProblem}` : '';
  if (!reportKnown) reportStatus.textContent = '';
  else if (evaluating) reportStatus.textContent = 'Evaluating this run: progress and Cancel are in the notification.';
  else if (report) {
    const when =
      report.createdAt && !Number.isNaN(Date.parse(report.createdAt))
        ? new Date(report.createdAt).toLocaleString()
        : 'an unknown time';
    reportStatus.textContent = `Evaluated ${when} · ${report.samples.toLocaleString('en-US')} samples per configuration${report.backend ? ` · ${report.backend}` : ''}`;
  } else if (!reportProblem)
    reportStatus.textContent = 'Not evaluated yet: Run evaluation writes eval/report.md, report.json and the plots.';
  else reportStatus.textContent = '';
  reportTable.replaceChildren(...(report && report.rows.length ? reportTableRows(report) : []));
  reportMethods.replaceChildren(
    ...(report ? [methodsTable(report), paretoPlot(report), trainingCostTable(report)] : []).filter(
      (e): e is HTMLElement => e !== undefined,
    ),
  );
  reportNotes.replaceChildren(...(report?.notes ?? []).map((n) => h('li', {}, n)));
  const plots = report?.plots ?? [];
  const wanted = plots.map((p) => p.src).join('\n');
  if (reportPlots.dataset.srcs !== wanted) {
    reportPlots.dataset.srcs = wanted;
    reportPlots.replaceChildren(
      ...plots.map((p) => {
        const img = h('img', { src: p.src, alt: p.title, 'data-file': p.file });
        const fig = h('figure', { 'data-file': p.file }, img, h('figcaption', { class: 'muted' }, p.title));
        img.addEventListener('load', () => {
          // Plots with a panel per w are wide: they get the whole row.
          fig.classList.toggle('wide', img.naturalWidth > 3 * img.naturalHeight);
          fig.dataset.loaded = 'true';
        });
        img.addEventListener('error', () => (fig.dataset.loaded = 'error'));
        return fig;
      }),
    );
  }
}

evaluateBtn.addEventListener('click', () => {
  if (!run || evaluateBtn.hasAttribute('disabled')) return;
  evaluatePending = true;
  renderReportControls();
  post({ type: 'evaluate', runDir: run.runDir });
});
openReportBtn.addEventListener('click', () => {
  if (run && report) post({ type: 'openReport', runDir: run.runDir });
});

// ─────────────────────────────── messages ────────────────────────────────
function handle(m: HostToWebview): void {
  switch (m.type) {
    case 'init': {
      if (m.view !== 'dashboard') return;
      const sameRun = m.run?.runDir === state.runDir;
      model = new RunModel();
      model.add(m.events);
      run = m.run;
      configs = m.configs;
      sampleBase = m.sampleBase;
      commandPending = false;
      report = undefined;
      reportProblem = undefined;
      reportKnown = false;
      evaluating = false;
      evaluatePending = false;
      if (!sameRun) {
        state.gridIndex = undefined;
        state.unit = undefined;
      }
      state.runDir = m.run?.runDir;
      persist();
      initialised = true;
      document.body.dataset.ready = 'true';
      renderAll();
      return;
    }
    case 'events': {
      if (!initialised || !run || m.runDir !== run.runDir) return;
      const changed = model.add(m.events);
      if (changed.loss) {
        renderUnitFilter();
        chart.schedule();
      }
      if (changed.grids) renderGrids();
      return;
    }
    case 'run':
      if (!initialised || (run && m.run.runDir !== run.runDir)) return;
      if (!run) state.runDir = m.run.runDir;
      run = m.run;
      commandPending = false;
      persist();
      renderRun();
      renderReport();
      return;
    case 'configs':
      if (!initialised) return;
      configs = m.configs;
      commandPending = false;
      renderConfigs();
      return;
    case 'report':
      if (!initialised || !run || m.runDir !== run.runDir) return;
      report = m.report;
      reportProblem = m.error;
      reportKnown = true;
      evaluating = m.evaluating;
      evaluatePending = false;
      renderReport();
      return;
    default:
      return; // preview messages are not for this view
  }
}

function renderAll(): void {
  renderRun();
  renderConfigs();
  renderUnitFilter();
  chart.render();
  renderGrids();
  renderReport();
}

onHostMessage(handle);
renderAll();
post({ type: 'ready' });
