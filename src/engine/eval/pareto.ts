/**
 * The Pareto front of quality against cost: among points (NFE per sample, a distance where lower is better), those no
 * other point beats on both — no cheaper-or-equal point that is at least as close, and strictly better on one of
 * the two. Points with the same NFE and the same value do not dominate each other: both stay on the front.
 */

/** One model configuration on the quality-vs-NFE plane. */
export interface ParetoPoint {
  /** The row's model: "teacher", "guided", or a stage-2 method ("progressive", "consistency"). */
  model: string;
  steps: number;
  nfe: number;
  /** The report's main distance (lower is better). */
  value: number;
}

/** True when `a` dominates `b`: no more NFE, no larger value, and strictly less of one. */
function dominates(a: ParetoPoint, b: ParetoPoint): boolean {
  return a.nfe <= b.nfe && a.value <= b.value && (a.nfe < b.nfe || a.value < b.value);
}

/**
 * The non-dominated points, by NFE ascending (then value, then model and steps, so the order is deterministic).
 * Points whose NFE or value is not a finite number take no part.
 */
export function paretoFront<T extends ParetoPoint>(points: readonly T[]): T[] {
  const ok = points.filter((p) => Number.isFinite(p.nfe) && Number.isFinite(p.value));
  return ok
    .filter((p) => !ok.some((q) => dominates(q, p)))
    .sort((a, b) => a.nfe - b.nfe || a.value - b.value || a.model.localeCompare(b.model) || a.steps - b.steps);
}

/** The points of one guidance weight and their front, as report.json stores them. */
export interface ParetoSet {
  w: number;
  /** The distance on the y axis: "fid" (classifier-FID), "swdReal" (SWD to held-out data) or "mseToExact". */
  measure: string;
  points: ParetoPoint[];
  front: ParetoPoint[];
}

/**
 * Per w, the deterministic (DDIM) rows as points — every model, every step count — and their Pareto front. Rows whose
 * measure is missing take no part.
 */
export function paretoByW<R extends { w: number; model: string; sampler: string; steps: number; nfe: number }>(
  rows: readonly R[],
  ws: readonly number[],
  measure: string,
  get: (row: R) => number | null | undefined,
): ParetoSet[] {
  return ws.map((w) => {
    const points: ParetoPoint[] = [];
    for (const r of rows) {
      if (r.w !== w || r.sampler !== 'ddim') continue;
      const v = get(r);
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      points.push({ model: r.model, steps: r.steps, nfe: r.nfe, value: v });
    }
    return { w, measure, points, front: paretoFront(points) };
  });
}

/** The w whose Pareto front report.json's `pareto` holds: the report's w nearest 2 (a guided one), the smaller on a tie. */
export function paretoW(ws: readonly number[]): number {
  return ws.reduce((best, w) => (Math.abs(w - 2) < Math.abs(best - 2) ? w : best), ws[0]);
}
