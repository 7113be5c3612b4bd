/**
 * Pure data of the dashboard: loss series per training unit (with rewinds after a resume), EMA smoothing,
 * min/max decimation, and the list of sample grids. No DOM here, so it is cheap to test and to reason about.
 */
import type { LossEvent, RunEvent, SamplesEvent, StageStartEvent, UnitStage } from '../src/engine/run/events';

export interface UnitSeries {
  unit: string;
  stage?: UnitStage;
  /** Planned optimiser steps of the unit (from stage_start); 0 when unknown. */
  totalSteps: number;
  steps: number[];
  losses: number[];
}

/** Loss history of a run, one series per unit in the order the units started. */
export class LossStore {
  private readonly byUnit = new Map<string, UnitSeries>();
  readonly order: string[] = [];
  /** Bumped whenever the set of units or their planned sizes change (the chart rebuilds its series then). */
  layoutVersion = 0;

  get units(): UnitSeries[] {
    return this.order.map((u) => this.byUnit.get(u) as UnitSeries);
  }

  get(unit: string): UnitSeries | undefined {
    return this.byUnit.get(unit);
  }

  private ensure(unit: string): UnitSeries {
    let s = this.byUnit.get(unit);
    if (!s) {
      s = { unit, totalSteps: 0, steps: [], losses: [] };
      this.byUnit.set(unit, s);
      this.order.push(unit);
      this.layoutVersion++;
    }
    return s;
  }

  stageStart(e: StageStartEvent): void {
    const s = this.ensure(e.unit);
    if (s.stage !== e.stage || s.totalSteps !== e.totalSteps) this.layoutVersion++;
    s.stage = e.stage;
    s.totalSteps = e.totalSteps;
  }

  /** Appends one point; a step at or before the last one (a resume from an older checkpoint) replaces the tail. */
  loss(e: LossEvent): void {
    if (!Number.isFinite(e.step) || !Number.isFinite(e.loss)) return;
    const s = this.ensure(e.unit);
    const n = s.steps.length;
    if (n > 0 && e.step <= s.steps[n - 1]) {
      const cut = lowerBound(s.steps, e.step);
      s.steps.length = cut;
      s.losses.length = cut;
    }
    s.steps.push(e.step);
    s.losses.push(e.loss);
  }

  /** X offset of each unit on the shared "global step" axis: the planned sizes of the units before it. */
  offsets(): Map<string, number> {
    const out = new Map<string, number>();
    let x = 0;
    for (const s of this.units) {
      out.set(s.unit, x);
      const last = s.steps.length ? s.steps[s.steps.length - 1] : 0;
      x += Math.max(s.totalSteps, last);
    }
    return out;
  }

  pointCount(): number {
    let n = 0;
    for (const s of this.byUnit.values()) n += s.steps.length;
    return n;
  }
}

function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** TensorBoard-style debiased exponential moving average; `weight` in [0, 1). */
export function ema(values: ArrayLike<number>, weight: number): number[] {
  const out = new Array<number>(values.length);
  if (!(weight > 0)) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  const w = Math.min(weight, 0.9999);
  let last = 0;
  let debiasPow = 1;
  for (let i = 0; i < values.length; i++) {
    last = last * w + (1 - w) * values[i];
    debiasPow *= w;
    out[i] = last / (1 - debiasPow);
  }
  return out;
}

/**
 * Indices that keep the shape of a series in at most ~`maxPoints` points: for each bucket its first, minimum
 * and maximum (in index order), plus the very last point. Returns undefined when no decimation is needed.
 */
export function decimateIndices(values: ArrayLike<number>, maxPoints: number): number[] | undefined {
  const n = values.length;
  if (n <= maxPoints) return undefined;
  const buckets = Math.max(1, Math.floor(maxPoints / 3));
  const size = n / buckets;
  const idx: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(n, Math.floor((b + 1) * size));
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (values[i] < values[lo]) lo = i;
      if (values[i] > values[hi]) hi = i;
    }
    const picks = [start, lo, hi].sort((a, b2) => a - b2);
    for (const p of picks) if (idx.length === 0 || idx[idx.length - 1] !== p) idx.push(p);
  }
  if (idx[idx.length - 1] !== n - 1) idx.push(n - 1);
  return idx;
}

export interface AlignedData {
  /** Global step of every point, ascending. */
  x: number[];
  /** One array per unit (same length as x), null outside the unit. */
  raw: (number | null)[][];
  smooth: (number | null)[][];
  units: string[];
  /** Points recorded per unit (before decimation) and points drawn per unit. */
  recorded: number[];
  drawn: number[];
  boundaries: { unit: string; x: number }[];
}

/**
 * Lays the units out on one shared x axis (each unit after the previous one's planned size) as uPlot's
 * aligned columns, smoothing each unit separately and decimating units longer than `maxPerUnit` points.
 * `only` restricts to one unit, drawn on its own step axis.
 */
export function alignedData(store: LossStore, smoothing: number, maxPerUnit: number, only?: string): AlignedData {
  const all = store.units;
  const units = only ? all.filter((u) => u.unit === only) : all;
  const offsets = only ? new Map(units.map((u) => [u.unit, 0])) : store.offsets();
  const cols = units.map((s) => {
    const smooth = ema(s.losses, smoothing);
    const keep = decimateIndices(s.losses, maxPerUnit);
    const off = offsets.get(s.unit) ?? 0;
    const pick = <T>(a: ArrayLike<T>): T[] => (keep ? keep.map((i) => a[i]) : Array.from(a));
    return { x: pick(s.steps).map((v) => v + off), raw: pick(s.losses), smooth: pick(smooth) };
  });
  const total = cols.reduce((n, c) => n + c.x.length, 0);
  const x = new Array<number>(total);
  const raw = cols.map(() => new Array<number | null>(total).fill(null));
  const smooth = cols.map(() => new Array<number | null>(total).fill(null));
  let k = 0;
  // Units occupy disjoint, increasing x ranges, so concatenation keeps x sorted.
  cols.forEach((c, j) => {
    for (let i = 0; i < c.x.length; i++, k++) {
      x[k] = c.x[i];
      raw[j][k] = c.raw[i];
      smooth[j][k] = c.smooth[i];
    }
  });
  const boundaries = only ? [] : units.map((u) => ({ unit: u.unit, x: offsets.get(u.unit) ?? 0 }));
  return {
    x,
    raw,
    smooth,
    units: units.map((u) => u.unit),
    recorded: units.map((u) => u.steps.length),
    drawn: cols.map((c) => c.x.length),
    boundaries,
  };
}

/** The dashboard's view of a run's event log: loss series, sample grids and a few facts for the header. */
export class RunModel {
  readonly loss = new LossStore();
  readonly grids: SamplesEvent[] = [];
  lastError?: string;

  add(events: RunEvent[]): { loss: boolean; grids: boolean } {
    let loss = false;
    let grids = false;
    for (const e of events) {
      switch (e.type) {
        case 'stage_start':
          this.loss.stageStart(e);
          loss = true;
          break;
        case 'loss':
          this.loss.loss(e);
          loss = true;
          break;
        case 'samples':
          this.grids.push(e);
          grids = true;
          break;
        case 'error':
          this.lastError = e.message;
          break;
        case 'run_start':
          this.lastError = undefined;
          break;
      }
    }
    return { loss, grids };
  }
}

/** Parses "0, 1.5, 3" into numbers; returns undefined when any item is not a finite number ≥ 0. */
export function parseNumberList(text: string, opts: { integer?: boolean; max?: number } = {}): number[] | undefined {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  const out: number[] = [];
  for (const p of parts) {
    const range = opts.integer ? /^(\d+)\s*-\s*(\d+)$/.exec(p) : null;
    if (range) {
      const a = Number(range[1]);
      const b = Number(range[2]);
      if (b < a || b - a > 1000) return undefined;
      for (let v = a; v <= b; v++) out.push(v);
      continue;
    }
    const v = Number(p);
    if (!Number.isFinite(v) || v < 0 || (opts.integer && !Number.isInteger(v))) return undefined;
    out.push(v);
  }
  if (out.length === 0 || (opts.max !== undefined && out.length > opts.max)) return undefined;
  return out;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}

export function formatLoss(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(3) : v.toPrecision(4);
}

/** A quality metric of the evaluation report (FID, SWD), with the precision of report.md's tables. */
export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(4);
}

export function formatPercent(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)} %`;
}

/** A ratio or share in [0, ~1] (recall, diversity ÷ real data's), as report.md prints it: "0.812". */
export function formatRatio(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(v >= 10 ? 1 : 3);
}

/** "170× (128× fewer NFE)": wall-clock speed-up of the student over the reference teacher, and the NFE ratio. */
export function formatSpeedup(speedup: number | null | undefined, nfeRatio: number | null | undefined): string {
  const x = (v: number) => (v >= 10 ? v.toFixed(0) : Number.isInteger(v) ? String(v) : v.toFixed(1));
  const nfe =
    nfeRatio !== null && nfeRatio !== undefined && Number.isFinite(nfeRatio) && nfeRatio > 0
      ? `${x(nfeRatio)}× fewer NFE`
      : '';
  if (speedup === null || speedup === undefined || !Number.isFinite(speedup) || speedup <= 0) return nfe || '—';
  return nfe ? `${x(speedup)}× (${nfe})` : `${x(speedup)}×`;
}
