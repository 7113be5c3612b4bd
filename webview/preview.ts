/**
 * The checkpoint preview webview: choose student steps, sampler, guidance weights, classes, seed and teacher steps,
 * "Render" asks the host to sample the teacher and the student for the same seeds, and the two grids are shown side
 * by side with their NFE and milliseconds per sample. A busy bar with Cancel while the host samples; each grid can be
 * saved as a PNG (the host shows the save dialog). Settings persist through getState/setState.
 * A second tab, Edit (edit.ts), edits or inpaints one image with the teacher and the student.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { HostToWebview, SampleResult, SamplerKind, StageChoice, StudentChoice } from '../src/protocol';
import { createEditTab, EditState } from './edit';
import { renderLabelledGrid } from './grid';
import { parseNumberList } from './model';
import { getState, h, installBaseStyles, onHostMessage, post, setDisabled, setState } from './vscode';

interface PreviewSettings {
  studentSteps: number;
  /** The student's unit (e.g. "consistency-2") picked in a run that lists its students. */
  student?: string;
  sampler: SamplerKind;
  w: string;
  classes: string;
  seed: number;
  teacherSteps: number;
}
interface PreviewState {
  runDir?: string;
  checkpoint?: string;
  settings?: Partial<PreviewSettings>;
  tab?: 'sample' | 'edit';
  edit?: Partial<EditState>;
}

installBaseStyles();

const STUDENT_STEPS = [1, 2, 4, 8];
const saved = getState<PreviewState>();
const s0 = typeof saved.settings === 'object' && saved.settings !== null ? saved.settings : {};
const settings: PreviewSettings = {
  studentSteps: STUDENT_STEPS.includes(s0.studentSteps as number) ? (s0.studentSteps as number) : 4,
  student: typeof s0.student === 'string' ? s0.student : undefined,
  sampler: s0.sampler === 'stochastic' ? 'stochastic' : 'ddim',
  w: typeof s0.w === 'string' ? s0.w : '0, 1, 2, 4',
  classes: typeof s0.classes === 'string' ? s0.classes : '0-9',
  seed: Number.isInteger(s0.seed) ? (s0.seed as number) : 0,
  teacherSteps:
    Number.isInteger(s0.teacherSteps) && (s0.teacherSteps as number) >= 1 ? (s0.teacherSteps as number) : 64,
};
const state: PreviewState = {
  runDir: saved.runDir,
  checkpoint: saved.checkpoint,
  settings,
  tab: saved.tab === 'edit' ? 'edit' : 'sample',
  edit: saved.edit,
};
const persist = (): void => setState(state);

let initialised = false;
let stage: StageChoice = 'progressive';
/** The run's few-step students (each method, each step count); empty: the host did not list them. */
let students: StudentChoice[] = [];
let nextRequestId = 1;
let current: { id: number; w: number[]; classes: number[] } | undefined;
const results: { teacher?: SampleResult; student?: SampleResult } = {};

// ─────────────────────────────────── DOM ───────────────────────────────────
type ValueEl = HTMLElement & { value: string };
const title = h('h1', { id: 'title' }, 'Checkpoint preview');
const subtitle = h('p', { class: 'muted', id: 'subtitle' });

function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
  control.id = id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('span', { class: 'muted' }, hint) : undefined,
  );
}

const studentSelect = h(
  'vscode-single-select',
  { 'aria-label': 'Student sampling steps' },
  ...STUDENT_STEPS.map((n) =>
    h('vscode-option', { value: String(n), selected: n === settings.studentSteps }, `${n} step${n === 1 ? '' : 's'}`),
  ),
) as ValueEl;
/** "consistency · 2 steps": a student as the pickers show it. */
function studentLabel(s: StudentChoice): string {
  return `${s.method} · ${s.steps} step${s.steps === 1 ? '' : 's'}${s.trained ? '' : ' (not trained yet)'}`;
}
let studentPicker = h('vscode-single-select', { 'aria-label': 'Student', id: 'student' }) as ValueEl;
const studentPickerField = h(
  'div',
  { class: 'field', hidden: true, id: 'student-field' },
  h('label', { for: 'student' }, 'Student'),
  studentPicker,
  h('span', { class: 'muted' }, 'each method, each step count'),
);

/** Rebuilds the student picker from the run's students (hidden when the host lists none). */
function showStudents(list: StudentChoice[], first: string | undefined): void {
  students = list;
  studentPickerField.hidden = !list.length;
  if (!list.length) {
    settings.student = undefined;
    return;
  }
  const trained = list.filter((s) => s.trained);
  const pick =
    [settings.student, first].find((u) => u !== undefined && trained.some((s) => s.unit === u)) ??
    trained[trained.length - 1]?.unit ??
    list[list.length - 1].unit;
  settings.student = pick;
  const next = h(
    'vscode-single-select',
    { 'aria-label': 'Student' },
    ...list.map((s) =>
      h('vscode-option', { value: s.unit, selected: s.unit === pick, disabled: !s.trained }, studentLabel(s)),
    ),
  ) as ValueEl;
  next.id = 'student';
  next.addEventListener('change', () => {
    const chosen = students.find((s) => s.unit === next.value);
    if (!chosen) return;
    settings.student = chosen.unit;
    // a student samples at its own step count unless asked otherwise
    if (STUDENT_STEPS.includes(chosen.steps)) {
      settings.studentSteps = chosen.steps;
      studentSelect.value = String(chosen.steps);
    }
    persist();
  });
  studentPicker.replaceWith(next);
  studentPicker = next;
  const chosen = list.find((s) => s.unit === pick);
  if (chosen && STUDENT_STEPS.includes(chosen.steps) && settings.studentSteps !== chosen.steps && !s0.studentSteps) {
    settings.studentSteps = chosen.steps;
    studentSelect.value = String(chosen.steps);
  }
}

const samplerSelect = h(
  'vscode-single-select',
  { 'aria-label': 'Sampler' },
  h('vscode-option', { value: 'ddim', selected: settings.sampler === 'ddim' }, 'Deterministic (DDIM)'),
  h('vscode-option', { value: 'stochastic', selected: settings.sampler === 'stochastic' }, 'Stochastic'),
) as ValueEl;
const wField = h('vscode-textfield', {
  value: settings.w,
  label: 'Guidance weights w',
  placeholder: '0, 1, 2, 4',
}) as ValueEl;
const classField = h('vscode-textfield', {
  value: settings.classes,
  label: 'Classes',
  placeholder: '0-9 or 1, 3, 7',
}) as ValueEl;
const seedField = h('vscode-textfield', { type: 'number', min: 0, value: settings.seed, label: 'Seed' }) as ValueEl;
const teacherField = h('vscode-textfield', {
  type: 'number',
  min: 1,
  max: 4096,
  value: settings.teacherSteps,
  label: 'Teacher steps',
}) as ValueEl;
const renderBtn = h('vscode-button', { id: 'render' }, 'Render');
const formError = h('p', { class: 'error', id: 'form-error', role: 'alert' });

const busyBar = h('div', { class: 'bar-fill' });
const busyWrap = h(
  'div',
  {
    class: 'bar-wrap',
    role: 'progressbar',
    'aria-label': 'Sampling progress',
    'aria-valuemin': 0,
    'aria-valuemax': 100,
    'aria-valuenow': 0,
  },
  h('div', { class: 'bar' }),
  busyBar,
);
const busyText = h('span', { id: 'busy-text', class: 'num', 'aria-live': 'polite' });
const cancelBtn = h('vscode-button', { id: 'cancel', secondary: true }, 'Cancel');
const busyRow = h('div', { class: 'busy', id: 'busy', hidden: true }, busyWrap, busyText, cancelBtn);

function resultPane(
  which: 'teacher' | 'student',
  label: string,
): { root: HTMLElement; heading: HTMLElement; meta: HTMLElement; grid: HTMLElement; save: HTMLElement } {
  const heading = h('h2', { id: `${which}-title` }, label);
  const meta = h('p', { class: 'muted num', id: `${which}-meta` });
  const grid = h('div', { class: 'grid-figure', id: `${which}-grid` });
  const save = h(
    'vscode-button',
    { id: `${which}-save`, secondary: true, disabled: true, 'aria-label': `Save the ${which} grid as PNG` },
    'Save grid as PNG',
  );
  save.addEventListener('click', () => {
    const r = results[which];
    if (r && !save.hasAttribute('disabled')) post({ type: 'savePng', which, pngBase64: r.pngBase64 });
  });
  const root = h(
    'section',
    { class: 'card result', id: `${which}-result`, 'aria-labelledby': `${which}-title` },
    heading,
    meta,
    grid,
    save,
  );
  return { root, heading, meta, grid, save };
}
const teacherPane = resultPane('teacher', 'Teacher');
const studentPane = resultPane('student', 'Student');

const editTab = createEditTab(typeof state.edit === 'object' && state.edit !== null ? state.edit : {}, (e) => {
  state.edit = e;
  persist();
});
const tabButtons = (['sample', 'edit'] as const).map((t) =>
  h(
    'button',
    { type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': `panel-${t}` },
    t === 'sample' ? 'Sample' : 'Edit',
  ),
);
const samplePanel = h('div', { role: 'tabpanel', id: 'panel-sample', 'aria-labelledby': 'tab-sample' });
const editPanel = h('div', { role: 'tabpanel', id: 'panel-edit', 'aria-labelledby': 'tab-edit' }, editTab.root);
function showTab(t: 'sample' | 'edit'): void {
  state.tab = t;
  persist();
  tabButtons.forEach((b, i) => {
    const on = (i === 0 ? 'sample' : 'edit') === t;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  });
  samplePanel.hidden = t !== 'sample';
  editPanel.hidden = t !== 'edit';
}
tabButtons.forEach((b, i) => {
  b.addEventListener('click', () => showTab(i === 0 ? 'sample' : 'edit'));
  b.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
    const next = tabButtons[1 - i];
    showTab(i === 0 ? 'edit' : 'sample');
    next.focus();
  });
});

document.body.append(
  h('header', {}, title, subtitle),
  h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'Preview' }, ...tabButtons),
  samplePanel,
  editPanel,
);
samplePanel.append(
  h(
    'section',
    { class: 'card', 'aria-label': 'Sampling settings' },
    h(
      'div',
      { class: 'form' },
      studentPickerField,
      field('student-steps', 'Student steps', studentSelect),
      field('sampler', 'Sampler', samplerSelect),
      field('w', 'Guidance weights w', wField, 'comma separated, ≥ 0'),
      field('classes', 'Classes', classField, 'ids or ranges'),
      field('seed', 'Seed', seedField),
      field('teacher-steps', 'Teacher steps', teacherField, '2 NFE per step'),
    ),
    h('div', { class: 'row' }, renderBtn),
    formError,
    busyRow,
  ),
  h('div', { class: 'results' }, teacherPane.root, studentPane.root),
);

// ──────────────────────────────── behaviour ────────────────────────────────
function readSettings(): void {
  settings.studentSteps = Number(studentSelect.value) || settings.studentSteps;
  settings.sampler = samplerSelect.value === 'stochastic' ? 'stochastic' : 'ddim';
  settings.w = wField.value;
  settings.classes = classField.value;
  const seed = Number(seedField.value);
  if (Number.isInteger(seed) && seed >= 0) settings.seed = seed;
  const ts = Number(teacherField.value);
  if (Number.isInteger(ts) && ts >= 1 && ts <= 4096) settings.teacherSteps = ts;
  persist();
}
for (const el of [studentSelect, samplerSelect, wField, classField, seedField, teacherField])
  el.addEventListener('change', readSettings);

function setBusy(on: boolean): void {
  busyRow.hidden = !on;
  setDisabled(renderBtn, on || !initialised);
  if (!on) {
    busyBar.style.width = '0%';
    busyText.textContent = '';
  }
}

function renderRequest(): void {
  if (!initialised || current) return;
  readSettings();
  const w = parseNumberList(wField.value, { max: 16 });
  const classes = parseNumberList(classField.value, { integer: true, max: 100 });
  const seed = Number(seedField.value);
  const teacherSteps = Number(teacherField.value);
  const problems: string[] = [];
  if (!w) problems.push('guidance weights must be 1–16 numbers ≥ 0');
  if (!classes) problems.push('classes must be 1–100 class ids (e.g. 0-9 or 1, 3, 7)');
  if (!Number.isInteger(seed) || seed < 0) problems.push('seed must be a whole number ≥ 0');
  if (!Number.isInteger(teacherSteps) || teacherSteps < 1 || teacherSteps > 4096)
    problems.push('teacher steps must be 1–4096');
  formError.textContent = problems.length ? `Cannot render: ${problems.join('; ')}.` : '';
  if (!w || !classes || problems.length) return;
  const id = nextRequestId++;
  current = { id, w, classes };
  setBusy(true);
  busyText.textContent = 'Starting…';
  post({
    type: 'preview',
    requestId: id,
    studentSteps: settings.studentSteps,
    teacherSteps,
    sampler: settings.sampler,
    w,
    classes,
    seed,
    ...(students.length && settings.student ? { student: settings.student } : {}),
  });
}
renderBtn.addEventListener('click', () => {
  if (!renderBtn.hasAttribute('disabled')) renderRequest();
});
cancelBtn.addEventListener('click', () => {
  if (current) post({ type: 'cancelPreview', requestId: current.id });
});

function showResult(which: 'teacher' | 'student', r: SampleResult | undefined, w: number[], classes: number[]): void {
  const pane = which === 'teacher' ? teacherPane : studentPane;
  results[which] = r;
  setDisabled(pane.save, !r);
  if (!r) {
    pane.meta.textContent =
      which === 'student' ? 'No student checkpoint in this run yet.' : 'No teacher checkpoint in this run.';
    pane.grid.replaceChildren();
    return;
  }
  pane.heading.textContent = `${which === 'teacher' ? 'Teacher' : 'Student'} — ${r.label}`;
  pane.meta.textContent = `${r.steps} step${r.steps === 1 ? '' : 's'} · NFE ${r.nfe} · ${r.msPerSample.toFixed(r.msPerSample < 10 ? 2 : 1)} ms/sample`;
  pane.meta.dataset.nfe = String(r.nfe);
  renderLabelledGrid(pane.grid, {
    src: `data:image/png;base64,${r.pngBase64}`,
    w: r.cols === w.length ? w : w.slice(0, r.cols),
    classes,
    alt: `${which} samples (${r.label}): rows are classes, columns are guidance weights`,
  });
}

function handle(m: HostToWebview): void {
  if (editTab.handle(m)) return;
  switch (m.type) {
    case 'init':
      if (m.view !== 'preview') return;
      initialised = true;
      editTab.reset(state.runDir === m.runDir);
      stage = m.stage;
      showStudents(m.students ?? [], m.student);
      if (state.runDir !== m.runDir) {
        // A different run: start from its defaults (w from its config; every class up to ten).
        settings.w = m.wDefaults.join(', ');
        settings.classes = m.classes > 1 ? `0-${Math.min(m.classes, 10) - 1}` : '0';
        wField.value = settings.w;
        classField.value = settings.classes;
      }
      state.runDir = m.runDir;
      state.checkpoint = m.checkpoint;
      persist();
      title.textContent = `Checkpoint preview — ${m.runDir.split(/[\\/]/).filter(Boolean).pop() ?? m.runDir}`;
      subtitle.textContent = `${m.checkpoint ?? `newest ${stage} checkpoint`} · ${m.classes} classes${students.length ? ` · ${students.filter((x) => x.trained).length} of ${students.length} students trained` : ''}`;
      document.body.dataset.ready = 'true';
      current = undefined;
      setBusy(false);
      return;
    case 'previewBusy': {
      if (!current || m.requestId !== current.id) return;
      const frac = m.total > 0 ? Math.min(1, Math.max(0, m.done / m.total)) : 0;
      busyBar.style.width = `${(frac * 100).toFixed(1)}%`;
      busyWrap.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
      busyText.textContent = `${m.phase ? `Sampling ${m.phase}: ` : ''}${m.done} / ${m.total}`;
      return;
    }
    case 'previewResult': {
      if (!current || m.requestId !== current.id) return;
      const { w, classes } = current;
      current = undefined;
      setBusy(false);
      formError.textContent = '';
      showResult('teacher', m.teacher, w, classes);
      showResult('student', m.student, w, classes);
      return;
    }
    case 'previewError':
      if (!current || m.requestId !== current.id) return;
      current = undefined;
      setBusy(false);
      formError.textContent = m.message;
      return;
    default:
      return; // dashboard messages are not for this view
  }
}

onHostMessage(handle);
showTab(state.tab ?? 'sample');
setBusy(false);
post({ type: 'ready' });
