/**
 * A sample grid image with its labels: a header "w = …" over every column and the class id beside every row
 * (a class spans `perClass` image rows; perClass is read off the image's aspect ratio once it has loaded).
 * Layout by CSS grid; sizes are set through the CSSOM, so the strict CSP needs no inline style attributes.
 */
import { h } from './vscode';

export interface GridSpec {
  src: string;
  w: number[];
  classes: number[];
  alt: string;
}

export function formatW(w: number): string {
  return `w = ${Number.isInteger(w) ? String(w) : String(Number(w.toFixed(3)))}`;
}

/** Renders the labelled grid into `host` (replacing its content) and returns the grid element. */
export function renderLabelledGrid(host: HTMLElement, spec: GridSpec): HTMLElement {
  const cols = Math.max(1, spec.w.length);
  const grid = h('div', {
    class: 'lgrid',
    role: 'group',
    'aria-label': spec.alt,
    'data-rows': spec.classes.length,
    'data-cols': cols,
  });
  const img = h('img', { src: spec.src, alt: spec.alt, draggable: 'false' });
  const corner = h('div', { class: 'corner', 'aria-hidden': 'true' }, 'class');
  corner.style.gridRow = '1';
  corner.style.gridColumn = '1';
  grid.append(corner);
  spec.w.forEach((w, j) => {
    const c = h('div', { class: 'colhead', role: 'columnheader' }, formatW(w));
    c.style.gridRow = '1';
    c.style.gridColumn = String(j + 2);
    grid.append(c);
  });
  const rowHeads = spec.classes.map((cls) => h('div', { class: 'rowhead', role: 'rowheader' }, String(cls)));
  grid.append(...rowHeads);
  img.style.gridColumn = `2 / span ${cols}`;
  grid.append(img);

  const layout = (imageRows: number, tile: number): void => {
    const k = spec.classes.length || 1;
    const perClass = imageRows % k === 0 && imageRows >= k ? imageRows / k : 1;
    const rows = perClass * k;
    grid.dataset.perClass = String(perClass);
    const avail = Math.max(160, (host.clientWidth || 480) - 48);
    const cell = Math.max(
      16,
      Math.min(tile * Math.max(1, Math.floor(Math.min(96, avail / cols) / Math.max(1, tile))), 160),
    );
    grid.style.gridTemplateColumns = `max-content repeat(${cols}, ${cell}px)`;
    grid.style.gridTemplateRows = `auto repeat(${rows}, ${cell}px)`;
    rowHeads.forEach((r, i) => {
      r.style.gridColumn = '1';
      r.style.gridRow = `${2 + i * perClass} / span ${perClass}`;
    });
    img.style.gridRow = `2 / span ${rows}`;
  };
  layout(spec.classes.length, 48);
  img.addEventListener('load', () => {
    const tile = img.naturalWidth / cols;
    if (tile > 0) layout(Math.max(1, Math.round(img.naturalHeight / tile)), tile);
    grid.dataset.loaded = 'true';
  });
  img.addEventListener('error', () => {
    grid.dataset.loaded = 'error';
  });
  host.replaceChildren(grid);
  return grid;
}
