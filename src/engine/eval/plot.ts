/**
 * Small line charts drawn pixel by pixel into an RGB buffer and encoded with io/png.ts (no canvas or chart library in
 * Node): panels side by side with axes, "nice" ticks (log₂ or linear x, log₁₀ or linear y), lines with markers, optional dashed reference
 * lines, and one shared legend underneath. Used by `distill eval` for quality-vs-NFE and quality-vs-w plots.
 */
import { encodePng } from '../io/png';
import { ADVANCE, glyph, GLYPH_H, GLYPH_W, textWidth } from './font';

export type Rgb = readonly [number, number, number];

export interface Series {
  name: string;
  color: Rgb;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  /** Start the y axis at 0 (when every value is ≥ 0). */
  yFromZero?: boolean;
  /** A log₁₀ y axis (values ≤ 0 are left out); yFromZero is ignored. */
  logY?: boolean;
  series: Series[];
  /** Horizontal reference lines (dashed), e.g. the real-vs-real value. */
  refLines?: { name: string; y: number; color: Rgb }[];
}

export const PALETTE: Rgb[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }
  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }
  /** A line of the given thickness; `dash` = [on, off] lengths in pixels. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1, dash?: [number, number]): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    const n = Math.max(1, Math.ceil(len * 2));
    const r = (thick - 1) / 2;
    for (let k = 0; k <= n; k++) {
      const s = (k / n) * len;
      if (dash && s % (dash[0] + dash[1]) > dash[0]) continue;
      const x = x0 + ((x1 - x0) * k) / n;
      const y = y0 + ((y1 - y0) * k) / n;
      for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy++)
        for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx++)
          if (dx * dx + dy * dy <= r * r + 0.5) this.set(x + dx, y + dy, c);
    }
  }
  disc(x: number, y: number, rad: number, c: Rgb): void {
    for (let dy = -rad; dy <= rad; dy++)
      for (let dx = -rad; dx <= rad; dx++) if (dx * dx + dy * dy <= rad * rad + 0.5) this.set(x + dx, y + dy, c);
  }
  /** Text with its top-left corner at (x, y); vertical = rotated 90° counter-clockwise, reading upwards from (x, y). */
  text(x: number, y: number, s: string, c: Rgb, scale = 1, vertical = false): void {
    for (let k = 0; k < s.length; k++) {
      const g = glyph(s[k]);
      for (let gy = 0; gy < GLYPH_H; gy++) {
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (g[gy][gx] !== '#') continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const px = (k * ADVANCE + gx) * scale + sx;
              const py = gy * scale + sy;
              if (vertical) this.set(x + py, y - px, c);
              else this.set(x + px, y + py, c);
            }
          }
        }
      }
    }
  }
}

/** Compact number labels: 0.0123 → "0.0123", 1234.5 → "1235", 1e-5 → "1.0E-5". */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).toUpperCase();
  if (a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(3)));
}

/** Ticks of a log₁₀ axis over [lo, hi] (values, not logs): 1, 2 and 5 per decade, thinned to about `count`. */
export function logTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo) || !(lo > 0)) return [lo];
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(12)));
    }
  if (out.length <= count) return out.length ? out : [lo, hi];
  const decades = out.filter((v) => Number.isInteger(Math.round(Math.log10(v) * 1e9) / 1e9));
  return decades.length >= 2 ? decades : out.filter((v) => /^[15]/.test(v.toExponential()));
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [228, 228, 228];
const AXIS: Rgb = [120, 120, 120];

/** Renders panels in a row (or `cols` per row) with one legend below; returns PNG bytes. */
export function plotPanels(
  panels: Panel[],
  { panelW = 440, panelH = 320, cols = panels.length }: { panelW?: number; panelH?: number; cols?: number } = {},
): Buffer {
  if (!panels.length) throw new Error('plotPanels: no panels');
  const rows = Math.ceil(panels.length / cols);
  // legend: unique series and reference lines, in order of first appearance
  const legend: { name: string; color: Rgb; dashed: boolean }[] = [];
  for (const p of panels) {
    for (const s of p.series)
      if (!legend.some((l) => l.name === s.name)) legend.push({ name: s.name, color: s.color, dashed: !!s.dashed });
    for (const r of p.refLines ?? [])
      if (!legend.some((l) => l.name === r.name)) legend.push({ name: r.name, color: r.color, dashed: true });
  }
  const width = cols * panelW;
  const itemW = Math.max(...legend.map((l) => textWidth(l.name) + 34), 60);
  const perRow = Math.max(1, Math.floor((width - 20) / itemW));
  const legendH = legend.length ? Math.ceil(legend.length / perRow) * 14 + 12 : 0;
  const cv = new Canvas(width, rows * panelH + legendH);

  panels.forEach((p, pi) => {
    const ox = (pi % cols) * panelW;
    const oy = Math.floor(pi / cols) * panelH;
    const left = ox + 62;
    const right = ox + panelW - 16;
    const top = oy + 26;
    const bottom = oy + panelH - 40;
    cv.text(ox + Math.round((panelW - textWidth(p.title)) / 2), oy + 8, p.title, INK);
    const shown = (q: { x: number; y: number }) =>
      Number.isFinite(q.x) && Number.isFinite(q.y) && (!p.logX || q.x > 0) && (!p.logY || q.y > 0);
    const pts = p.series.flatMap((s) => s.points).filter(shown);
    const refs = (p.refLines ?? []).filter((r) => Number.isFinite(r.y) && (!p.logY || r.y > 0));
    // y in axis units: log₁₀ of the value on a log axis
    const ty = (v: number) => (p.logY ? Math.log10(v) : v);
    const ys = [...pts.map((q) => ty(q.y)), ...refs.map((r) => ty(r.y))];
    let yLo = ys.length ? Math.min(...ys) : 0;
    let yHi = ys.length ? Math.max(...ys) : 1;
    const fromZero = p.yFromZero && !p.logY;
    if (fromZero && yLo >= 0) yLo = 0;
    if (yHi - yLo < 1e-12) {
      yHi += Math.max(Math.abs(yHi) * 0.1, 1e-3);
      yLo -= Math.max(Math.abs(yLo) * 0.1, 1e-3);
      if (fromZero && yLo < 0 && ys.every((v) => v >= 0)) yLo = 0;
    }
    const pad = (yHi - yLo) * 0.06;
    yHi += pad;
    if (!(fromZero && yLo === 0)) yLo -= pad;
    const xs = pts.map((q) => (p.logX ? Math.log2(q.x) : q.x));
    let xLo = xs.length ? Math.min(...xs) : 0;
    let xHi = xs.length ? Math.max(...xs) : 1;
    if (xHi - xLo < 1e-12) {
      xLo -= 0.5;
      xHi += 0.5;
    }
    const xPad = (xHi - xLo) * 0.04;
    xLo -= xPad;
    xHi += xPad;
    const X = (v: number) => left + ((right - left) * ((p.logX ? Math.log2(v) : v) - xLo)) / (xHi - xLo);
    const Y = (v: number) => bottom - ((bottom - top) * (ty(v) - yLo)) / (yHi - yLo);

    // grid + ticks
    for (const t of p.logY ? logTicks(10 ** yLo, 10 ** yHi, 6) : niceTicks(yLo, yHi, 5)) {
      const y = Math.round(Y(t));
      cv.line(left, y, right, y, GRID);
      const label = formatTick(t);
      cv.text(left - 6 - textWidth(label), y - 3, label, INK);
    }
    const xTicks = p.logX
      ? (() => {
          const lo = Math.ceil(xLo);
          const hi = Math.floor(xHi);
          const every = Math.max(1, Math.ceil((hi - lo + 1) / 9));
          const out: number[] = [];
          for (let e = lo; e <= hi; e++) if ((e - lo) % every === 0) out.push(2 ** e);
          return out;
        })()
      : niceTicks(xLo, xHi, 6);
    for (const t of xTicks) {
      const x = Math.round(X(t));
      cv.line(x, top, x, bottom, GRID);
      const label = formatTick(t);
      cv.text(x - Math.round(textWidth(label) / 2), bottom + 6, label, INK);
    }
    cv.line(left, bottom, right, bottom, AXIS);
    cv.line(left, top, left, bottom, AXIS);
    const xl = p.xLabel + (p.logX ? ' (LOG SCALE)' : '');
    cv.text(left + Math.round((right - left - textWidth(xl)) / 2), bottom + 20, xl, INK);
    const yl = p.yLabel + (p.logY ? ' (LOG SCALE)' : '');
    cv.text(ox + 6, top + Math.round((bottom - top + textWidth(yl)) / 2), yl, INK, 1, true);

    for (const r of refs) {
      const y = Math.round(Y(r.y));
      cv.line(left, y, right, y, r.color, 1, [5, 4]);
    }
    for (const s of p.series) {
      const q = s.points.filter(shown).sort((a, b) => a.x - b.x);
      for (let i = 1; i < q.length; i++)
        cv.line(X(q[i - 1].x), Y(q[i - 1].y), X(q[i].x), Y(q[i].y), s.color, 2, s.dashed ? [6, 4] : undefined);
      for (const v of q) cv.disc(Math.round(X(v.x)), Math.round(Y(v.y)), 3, s.color);
    }
  });

  legend.forEach((l, i) => {
    const x = 12 + (i % perRow) * itemW;
    const y = rows * panelH + 6 + Math.floor(i / perRow) * 14;
    cv.line(x, y + 3, x + 22, y + 3, l.color, 2, l.dashed ? [5, 3] : undefined);
    cv.text(x + 28, y, l.name, INK);
  });
  return encodePng(cv.data, cv.width, cv.height, 3);
}
