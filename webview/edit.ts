/**
 * The checkpoint preview's Edit tab: choose an input (an image of the workspace through the host's file picker, or a
 * training example of the run), a target class, strength S, w, the student's steps (1–8) and the teacher's; paint
 * a mask on the input with the mouse (white = repaint, shown as a red overlay; empty = edit the whole image). "Edit"
 * asks the host to run the guided teacher (2 NFE per step) and the student (1 NFE per step) on the same input, mask
 * and seed; the input (with its mask) and both results are shown side by side with their NFE and milliseconds.
 * Images travel as PNG base64; the mask is painted at the model's resolution.
 */
import type { EditInput, EditTabResult, HostToWebview } from '../src/protocol';
import editCss from './edit.css';
import { adoptStyles, h, post, setDisabled } from './vscode';

export interface EditState {
  classId: number;
  strength: number;
  w: number;
  studentSteps: number;
  /** The student's unit (e.g. "consistency-2"); undefined: the progressive student at studentSteps, else the newest. */
  student?: string;
  teacherSteps?: number;
  seed: number;
  brush: number;
  example: number;
  input?: EditInput;
  /** The painted mask, one '0'/'1' per pixel of the input. */
  mask?: string;
  /** The last edit shown (its input and mask as sent, and both results), so it survives the webview being reloaded. */
  last?: EditShown;
}

interface EditShown {
  input: EditInput;
  mask?: string;
  inputMeta: string;
  teacher: EditTabResult;
  student?: EditTabResult;
  studentError?: string;
}

export interface EditTab {
  root: HTMLElement;
  /** Handles the Edit tab's host messages; false for any other. */
  handle(m: HostToWebview): boolean;
  /** The preview (re)initialised; a different run drops the input and the results. */
  reset(sameRun: boolean): void;
}

type ValueEl = HTMLElement & { value: string };
const STUDENT_STEPS = [1, 2, 3, 4, 5, 6, 7, 8];
const BRUSHES = [1, 2, 3, 4, 6, 8];

function clampInt(v: unknown, lo: number, hi: number, dflt: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : dflt;
}

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

function select(label: string, options: { value: number; text: string }[], selected: number): ValueEl {
  return h(
    'vscode-single-select',
    { 'aria-label': label },
    ...options.map((o) => h('vscode-option', { value: String(o.value), selected: o.value === selected }, o.text)),
  ) as ValueEl;
}

export function createEditTab(saved: Partial<EditState>, persist: (s: EditState) => void): EditTab {
  adoptStyles(editCss);
  const st: EditState = {
    classId: clampInt(saved.classId, 0, 99_999, 0),
    strength: typeof saved.strength === 'number' && saved.strength >= 0 && saved.strength <= 1 ? saved.strength : 0.6,
    w: typeof saved.w === 'number' && saved.w >= 0 && saved.w <= 100 ? saved.w : 2,
    studentSteps: clampInt(saved.studentSteps, 1, 8, 4),
    student: typeof saved.student === 'string' && saved.student ? saved.student : undefined,
    teacherSteps: clampInt(saved.teacherSteps, 1, 4096, 0) || undefined,
    seed: clampInt(saved.seed, 0, 2 ** 31 - 1, 0),
    brush: BRUSHES.includes(saved.brush as number) ? (saved.brush as number) : 3,
    example: clampInt(saved.example, 0, 99_999_999, 0),
    input: saved.input,
    mask: saved.mask,
    last: saved.last,
  };
  const save = (): void => persist(st);

  let info: Extract<HostToWebview, { type: 'editInfo' }> | undefined;
  let mask: Uint8Array = new Uint8Array(0);
  let inputImg: HTMLImageElement | undefined;
  let nextRequestId = 1;
  let current: number | undefined;
  /** The input, mask and caption of the edit in flight. */
  let pending: Pick<EditShown, 'input' | 'mask' | 'inputMeta'> | undefined;

  // ───────────────────────────── DOM ─────────────────────────────
  const noImages = h(
    'p',
    { class: 'empty', id: 'edit-unavailable' },
    'Editing needs a run on images; this run has none (or has not described its data yet).',
  );
  const pickBtn = h('vscode-button', { id: 'edit-pick' }, 'Choose image…');
  const exampleField = h('vscode-textfield', {
    type: 'number',
    min: 0,
    value: st.example,
    label: 'Training example',
  }) as ValueEl;
  const exampleBtn = h('vscode-button', { id: 'edit-use-example', secondary: true }, 'Use training example');
  const inputLabel = h('span', { class: 'muted', id: 'edit-input-label' }, 'No input chosen yet.');
  let classSelect = select('Target class', [{ value: 0, text: '0' }], 0);
  const classHolder = h('div', { class: 'field' }, h('label', { for: 'edit-class' }, 'Target class'));
  const strengthField = h('vscode-textfield', {
    type: 'number',
    min: 0,
    max: 1,
    step: 0.05,
    value: st.strength,
    label: 'Strength S',
  }) as ValueEl;
  const wField = h('vscode-textfield', {
    type: 'number',
    min: 0,
    step: 0.5,
    value: st.w,
    label: 'Guidance weight w',
  }) as ValueEl;
  let studentSelect = select(
    'Student steps',
    STUDENT_STEPS.map((n) => ({ value: n, text: `${n}` })),
    st.studentSteps,
  );
  const studentHolder = h('div', { class: 'field' }, h('label', { for: 'edit-student-steps' }, 'Student steps'));
  /** Which student edits: each method's at each step count (the run's students with a checkpoint). */
  let whichSelect = h('vscode-single-select', { 'aria-label': 'Student', id: 'edit-student' }) as ValueEl;
  const whichHolder = h(
    'div',
    { class: 'field', hidden: true, id: 'edit-student-field' },
    h('label', { for: 'edit-student' }, 'Student'),
  );
  const teacherField = h('vscode-textfield', {
    type: 'number',
    min: 1,
    max: 4096,
    value: st.teacherSteps ?? 64,
    label: 'Teacher steps',
  }) as ValueEl;
  const seedField = h('vscode-textfield', { type: 'number', min: 0, value: st.seed, label: 'Seed' }) as ValueEl;

  const canvas = h('canvas', {
    class: 'mask-canvas',
    id: 'edit-canvas',
    width: 1,
    height: 1,
    role: 'img',
    'aria-label': 'The input; paint on it to mark the region to repaint',
  });
  const brushSelect = select(
    'Brush size',
    BRUSHES.map((b) => ({ value: b, text: `${b} px` })),
    st.brush,
  );
  brushSelect.id = 'edit-brush';
  const eraseBox = h('input', { type: 'checkbox', id: 'edit-erase' });
  const clearBtn = h('vscode-button', { id: 'edit-clear-mask', secondary: true }, 'Clear mask');
  const maskInfo = h('p', { class: 'muted', id: 'edit-mask-info', 'aria-live': 'polite' });
  const editBtn = h('vscode-button', { id: 'edit-run' }, 'Edit');
  const formError = h('p', { class: 'error', id: 'edit-error', role: 'alert' });
  const busyBar = h('div', { class: 'bar-fill' });
  const busyWrap = h(
    'div',
    {
      class: 'bar-wrap',
      role: 'progressbar',
      'aria-label': 'Edit progress',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': 0,
    },
    h('div', { class: 'bar' }),
    busyBar,
  );
  const busyText = h('span', { id: 'edit-busy-text', class: 'num', 'aria-live': 'polite' });
  const cancelBtn = h('vscode-button', { id: 'edit-cancel', secondary: true }, 'Cancel');
  const busyRow = h('div', { class: 'busy', id: 'edit-busy', hidden: true }, busyWrap, busyText, cancelBtn);

  const figure = (id: string, title: string, media: HTMLElement) => {
    const heading = h('h2', { id: `${id}-title` }, title);
    const meta = h('p', { class: 'num', id: `${id}-meta` });
    const detail = h('p', { class: 'muted', id: `${id}-detail` });
    media.id = `${id}-image`;
    media.hidden = true;
    return {
      root: h('figure', { id, 'aria-labelledby': `${id}-title` }, heading, media, meta, detail),
      heading,
      meta,
      detail,
      media,
    };
  };
  const inputFig = figure(
    'edit-result-input',
    'Input (and mask)',
    h('canvas', { width: 1, height: 1, role: 'img', 'aria-label': 'The input with its mask' }),
  );
  const teacherFig = figure(
    'edit-result-teacher',
    'Teacher (2 NFE per step)',
    h('img', { alt: "The teacher's edit", draggable: 'false' }),
  );
  const studentFig = figure(
    'edit-result-student',
    'Student (1 NFE per step)',
    h('img', { alt: "The student's edit", draggable: 'false' }),
  );

  const form = h(
    'section',
    { class: 'card', 'aria-label': 'Edit settings' },
    h('div', { class: 'row' }, pickBtn, exampleField, exampleBtn, inputLabel),
    h(
      'div',
      { class: 'edit-input' },
      canvas,
      h(
        'div',
        { class: 'mask-tools' },
        h(
          'span',
          {},
          'Mask: paint with the mouse where the image is to be repainted; the rest is kept. No mask: the whole image is edited.',
        ),
        field('edit-brush', 'Brush', brushSelect),
        h('label', { for: 'edit-erase' }, eraseBox, ' Erase (mark as kept)'),
        h('div', { class: 'row' }, clearBtn),
        maskInfo,
      ),
    ),
    h(
      'div',
      { class: 'form' },
      classHolder,
      field('edit-strength', 'Strength S', strengthField, '0 keeps the input, 1 starts from noise'),
      field('edit-w', 'Guidance weight w', wField, '≥ 0'),
      whichHolder,
      studentHolder,
      field('edit-teacher-steps', 'Teacher steps', teacherField, '2 NFE per step'),
      field('edit-seed', 'Seed', seedField),
    ),
    h('div', { class: 'row' }, editBtn),
    formError,
    busyRow,
  );
  const results = h(
    'section',
    { class: 'card', 'aria-label': 'Edit results' },
    h('div', { class: 'edit-results' }, inputFig.root, teacherFig.root, studentFig.root),
  );
  const content = h('div', { id: 'edit-content' }, form, results);
  const root = h('div', { id: 'edit-tab' }, noImages, content);
  classHolder.append(classSelect);
  classSelect.id = 'edit-class';
  studentHolder.append(studentSelect);
  studentSelect.id = 'edit-student-steps';
  whichHolder.append(whichSelect);

  // ─────────────────────────── drawing ───────────────────────────
  const size = (): number => st.input?.size ?? 0;

  /** The input with the mask (1 = repaint) as a red overlay, at the model's resolution. */
  function drawInto(target: HTMLCanvasElement, img = inputImg, n = size(), m: ArrayLike<number> = mask): void {
    if (!n || !img) return;
    target.width = n;
    target.height = n;
    const ctx = target.getContext('2d');
    if (!ctx) return;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, n, n);
    ctx.fillStyle = 'rgba(255, 48, 48, 0.55)';
    for (let p = 0; p < m.length; p++) if (m[p]) ctx.fillRect(p % n, Math.floor(p / n), 1, 1);
  }

  const maskFromString = (str: string | undefined, n: number): Uint8Array => {
    const out = new Uint8Array(n * n);
    if (str && str.length === n * n) for (let p = 0; p < n * n; p++) out[p] = str.charCodeAt(p) === 49 ? 1 : 0;
    return out;
  };

  function maskCount(): number {
    let k = 0;
    for (const v of mask) k += v;
    return k;
  }

  function showMaskInfo(): void {
    const n = size();
    const k = maskCount();
    maskInfo.textContent = !n
      ? ''
      : k === 0
        ? 'No mask: the whole image is edited (SDEdit).'
        : `Mask: ${k} of ${n * n} pixels repainted (red), the rest kept (inpainting).`;
    maskInfo.dataset.repaint = String(k);
  }

  function redraw(): void {
    drawInto(canvas);
    showMaskInfo();
  }

  function saveMask(): void {
    st.mask = maskCount() ? Array.from(mask, (v) => (v ? '1' : '0')).join('') : undefined;
    save();
  }

  function setInput(input: EditInput | undefined, keepMask: boolean): void {
    st.input = input;
    const n = input?.size ?? 0;
    mask = maskFromString(keepMask ? st.mask : undefined, n);
    saveMask();
    inputImg = undefined;
    inputLabel.textContent = input
      ? `${input.label} (${input.size}×${input.size}${input.channels === 3 ? ' RGB' : ''})`
      : 'No input chosen yet.';
    canvas.dataset.loaded = 'false';
    if (!input) {
      canvas.width = 1;
      canvas.height = 1;
      showMaskInfo();
      updateButtons();
      return;
    }
    const img = new Image();
    img.addEventListener('load', () => {
      if (st.input !== input) return;
      inputImg = img;
      redraw();
      canvas.dataset.loaded = 'true';
    });
    img.src = `data:image/png;base64,${input.pngBase64}`;
    updateButtons();
  }

  let painting = false;
  function paintAt(ev: PointerEvent): void {
    const n = size();
    if (!n || !inputImg) return;
    const r = canvas.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return;
    const fx = ((ev.clientX - r.left) / r.width) * n;
    const fy = ((ev.clientY - r.top) / r.height) * n;
    const rad = st.brush / 2;
    const value = (eraseBox as HTMLInputElement).checked ? 0 : 1;
    const x0 = Math.max(0, Math.floor(fx - rad));
    const x1 = Math.min(n - 1, Math.floor(fx + rad));
    const y0 = Math.max(0, Math.floor(fy - rad));
    const y1 = Math.min(n - 1, Math.floor(fy + rad));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const under = x === Math.floor(fx) && y === Math.floor(fy);
        if (under || (x + 0.5 - fx) ** 2 + (y + 0.5 - fy) ** 2 <= rad * rad) mask[y * n + x] = value;
      }
    }
    redraw();
  }
  canvas.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || current !== undefined) return;
    painting = true;
    canvas.setPointerCapture?.(ev.pointerId);
    paintAt(ev);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (painting) paintAt(ev);
  });
  const endPaint = (): void => {
    if (!painting) return;
    painting = false;
    saveMask();
  };
  canvas.addEventListener('pointerup', endPaint);
  canvas.addEventListener('pointercancel', endPaint);
  canvas.addEventListener('lostpointercapture', endPaint);
  clearBtn.addEventListener('click', () => {
    if (clearBtn.hasAttribute('disabled')) return;
    mask.fill(0);
    saveMask();
    redraw();
  });

  /** The mask as a size×size grey PNG (white = repaint), base64; undefined when nothing is painted. */
  function maskPng(): string | undefined {
    const n = size();
    if (!n || maskCount() === 0) return undefined;
    const c = document.createElement('canvas');
    c.width = n;
    c.height = n;
    const ctx = c.getContext('2d');
    if (!ctx) return undefined;
    const img = ctx.createImageData(n, n);
    for (let p = 0; p < n * n; p++) {
      img.data.fill(mask[p] ? 255 : 0, 4 * p, 4 * p + 3);
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
  }

  // ─────────────────────────── behaviour ───────────────────────────
  function updateButtons(): void {
    const busy = current !== undefined;
    const ready = info !== undefined;
    setDisabled(editBtn, busy || !ready || !st.input);
    setDisabled(pickBtn, busy || !ready);
    setDisabled(exampleBtn, busy || !ready);
    setDisabled(clearBtn, busy || !st.input);
    busyRow.hidden = !busy;
    if (!busy) {
      busyBar.style.width = '0%';
      busyText.textContent = '';
    }
  }

  function readSettings(): string[] {
    const problems: string[] = [];
    const classId = Number(classSelect.value);
    if (info && Number.isInteger(classId) && classId >= 0 && classId < info.classNames.length) st.classId = classId;
    else problems.push('choose a target class');
    const s = Number(strengthField.value);
    if (strengthField.value.trim() !== '' && s >= 0 && s <= 1) st.strength = s;
    else problems.push('strength S must be a number from 0 to 1');
    const w = Number(wField.value);
    if (wField.value.trim() !== '' && w >= 0 && w <= 100) st.w = w;
    else problems.push('w must be a number from 0 to 100');
    const k = Number(studentSelect.value);
    if (STUDENT_STEPS.includes(k)) st.studentSteps = k;
    const t = Number(teacherField.value);
    if (Number.isInteger(t) && t >= 1 && t <= 4096) st.teacherSteps = t;
    else problems.push('teacher steps must be a whole number from 1 to 4096');
    const seed = Number(seedField.value);
    if (seedField.value.trim() !== '' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31) st.seed = seed;
    else problems.push('seed must be a whole number ≥ 0');
    const brush = Number(brushSelect.value);
    if (BRUSHES.includes(brush)) st.brush = brush;
    save();
    return problems;
  }
  for (const el of [strengthField, wField, teacherField, seedField, brushSelect])
    el.addEventListener('change', () => void readSettings());

  pickBtn.addEventListener('click', () => {
    if (pickBtn.hasAttribute('disabled')) return;
    formError.textContent = '';
    post({ type: 'editPickFile' });
  });
  exampleBtn.addEventListener('click', () => {
    if (exampleBtn.hasAttribute('disabled')) return;
    const i = Number(exampleField.value);
    if (!Number.isInteger(i) || i < 0) {
      formError.textContent = 'The training example must be a whole number ≥ 0.';
      return;
    }
    st.example = i;
    save();
    formError.textContent = '';
    post({ type: 'editPickExample', index: i });
  });
  editBtn.addEventListener('click', () => {
    if (editBtn.hasAttribute('disabled') || current !== undefined || !st.input) return;
    const problems = readSettings();
    formError.textContent = problems.length ? `Cannot edit: ${problems.join('; ')}.` : '';
    if (problems.length || st.teacherSteps === undefined) return;
    const k = maskCount();
    pending = {
      input: st.input,
      mask: st.mask,
      inputMeta: `${st.input.label}${k ? ` · mask: ${k} px repainted` : ' · no mask'}`,
    };
    current = nextRequestId++;
    updateButtons();
    busyText.textContent = 'Starting…';
    post({
      type: 'edit',
      requestId: current,
      imagePngBase64: st.input.pngBase64,
      maskPngBase64: maskPng(),
      classId: st.classId,
      strength: st.strength,
      w: st.w,
      studentSteps: st.studentSteps,
      ...(st.student ? { student: st.student } : {}),
      teacherSteps: st.teacherSteps,
      seed: st.seed,
    });
  });
  cancelBtn.addEventListener('click', () => {
    if (current !== undefined) post({ type: 'cancelEdit', requestId: current });
  });

  function showResult(fig: typeof teacherFig, r: EditTabResult | undefined, why?: string): void {
    const img = fig.media as HTMLImageElement;
    if (!r) {
      img.hidden = true;
      img.removeAttribute('src');
      fig.meta.textContent = why ?? '';
      fig.detail.textContent = '';
      delete fig.meta.dataset.nfe;
      return;
    }
    img.src = `data:image/png;base64,${r.pngBase64}`;
    img.hidden = false;
    fig.detail.textContent = r.label;
    fig.meta.textContent = `${r.stepsTaken} step${r.stepsTaken === 1 ? '' : 's'} · NFE ${r.nfe} · ${r.ms.toFixed(r.ms < 10 ? 2 : 0)} ms`;
    fig.meta.dataset.nfe = String(r.nfe);
    fig.meta.dataset.ms = String(r.ms);
  }

  function applyInfo(m: Extract<HostToWebview, { type: 'editInfo' }>): void {
    info = m;
    const names = m.classNames;
    if (st.classId >= names.length) st.classId = 0;
    const nextClass = select(
      'Target class',
      names.map((n, i) => ({ value: i, text: n === String(i) ? n : `${i} · ${n}` })),
      st.classId,
    );
    nextClass.id = 'edit-class';
    classSelect.replaceWith(nextClass);
    classSelect = nextClass;
    const own = new Set(m.studentSteps);
    if (!own.has(st.studentSteps) && saved.studentSteps === undefined)
      st.studentSteps = m.studentSteps.filter((k) => k <= 8).pop() ?? 4;
    const nextStudent = select(
      'Student steps',
      STUDENT_STEPS.map((n) => ({ value: n, text: own.has(n) ? `${n} (its own student)` : `${n}` })),
      st.studentSteps,
    );
    nextStudent.id = 'edit-student-steps';
    studentSelect.replaceWith(nextStudent);
    studentSelect = nextStudent;
    const students = m.students ?? [];
    whichHolder.hidden = !students.length;
    if (!students.some((x) => x.unit === st.student)) st.student = undefined;
    const nextWhich = h(
      'vscode-single-select',
      { 'aria-label': 'Student' },
      h('vscode-option', { value: '', selected: st.student === undefined }, 'at the chosen steps (progressive first)'),
      ...students.map((x) =>
        h(
          'vscode-option',
          { value: x.unit, selected: x.unit === st.student },
          `${x.method} · ${x.steps} step${x.steps === 1 ? '' : 's'}`,
        ),
      ),
    ) as ValueEl;
    nextWhich.id = 'edit-student';
    nextWhich.addEventListener('change', () => {
      const chosen = students.find((x) => x.unit === nextWhich.value);
      st.student = chosen?.unit;
      // a student edits at its own step count unless asked otherwise
      if (chosen && STUDENT_STEPS.includes(chosen.steps)) {
        st.studentSteps = chosen.steps;
        studentSelect.value = String(chosen.steps);
      }
      save();
    });
    whichSelect.replaceWith(nextWhich);
    whichSelect = nextWhich;
    if (st.teacherSteps === undefined) {
      st.teacherSteps = m.teacherSteps;
      teacherField.value = String(m.teacherSteps);
    }
    noImages.hidden = true;
    content.hidden = false;
    root.dataset.ready = 'true';
    save();
    updateButtons();
  }

  function handle(m: HostToWebview): boolean {
    switch (m.type) {
      case 'editInfo':
        applyInfo(m);
        return true;
      case 'editInput':
        formError.textContent = '';
        // the host re-sends the input to a reloaded webview: the same picture keeps its painted mask
        setInput(m.input, m.input.pngBase64 === st.input?.pngBase64);
        return true;
      case 'editBusy': {
        if (m.requestId !== current) return true;
        const frac = m.total > 0 ? Math.min(1, Math.max(0, m.done / m.total)) : 0;
        busyBar.style.width = `${(frac * 100).toFixed(1)}%`;
        busyWrap.setAttribute('aria-valuenow', String(Math.round(frac * 100)));
        busyText.textContent = `Editing with the ${m.phase}: step ${m.done} / ${m.total}`;
        return true;
      }
      case 'editResult':
        if (m.requestId !== current) return true;
        current = undefined;
        updateButtons();
        formError.textContent = '';
        if (pending) {
          st.last = { ...pending, teacher: m.teacher, student: m.student, studentError: m.studentError };
          save();
          showLast(st.last);
        }
        return true;
      case 'editError':
        if (m.requestId !== 0 && m.requestId !== current) return true;
        if (m.requestId !== 0) current = undefined;
        updateButtons();
        formError.textContent = m.message;
        return true;
      default:
        return false;
    }
  }

  function showLast(last: EditShown): void {
    const img = new Image();
    img.addEventListener('load', () => {
      if (st.last !== last) return;
      drawInto(inputFig.media as HTMLCanvasElement, img, last.input.size, maskFromString(last.mask, last.input.size));
      inputFig.media.hidden = false;
    });
    img.src = `data:image/png;base64,${last.input.pngBase64}`;
    inputFig.meta.textContent = last.inputMeta;
    showResult(teacherFig, last.teacher);
    showResult(studentFig, last.student, last.studentError ? `No student result: ${last.studentError}` : undefined);
    results.dataset.done = 'true';
  }

  function reset(sameRun: boolean): void {
    info = undefined;
    current = undefined;
    noImages.hidden = false;
    content.hidden = true;
    delete root.dataset.ready;
    if (!sameRun) {
      setInput(undefined, false);
      for (const f of [teacherFig, studentFig]) showResult(f, undefined);
      inputFig.media.hidden = true;
      inputFig.meta.textContent = '';
      st.last = undefined;
      delete results.dataset.done;
      save();
    }
    updateButtons();
  }

  content.hidden = true;
  setInput(st.input, true);
  if (st.last) showLast(st.last);
  return { root, handle, reset };
}
