/**
 * The report's training cost per student: the cumulative stage-2 training FLOPs to reach each few-step student
 * (train/training-cost.ts) and, where events.jsonl has them, the wall seconds of its chain's units.
 */
import { ResolvedConfig, students } from '../run/config';
import type { DistillMethod, RunEvent } from '../run/events';
import { studentTrainingFlops } from '../train/training-cost';

export interface TrainingCost {
  method: DistillMethod;
  steps: number;
  /** The student's unit (e.g. "progressive-4-2", "consistency-2"). */
  unit: string;
  /** Stage-2 training FLOPs of every unit of the method up to and including this student's. */
  flops: number;
  /**
   * Wall seconds of those units from events.jsonl (stage_end of the session that finished each unit; a unit stopped
   * and resumed counts its last session only); absent until every one of them has finished.
   */
  seconds?: number;
}

/** Every student of the config with its cumulative training cost, in students(cfg) order. */
export function studentTrainingCost(cfg: ResolvedConfig, events: RunEvent[], flopsPerExample: number): TrainingCost[] {
  const seconds = new Map<string, number>();
  for (const e of events) if (e.type === 'stage_end') seconds.set(e.unit, (seconds.get(e.unit) ?? 0) + e.seconds);
  const list = students(cfg);
  return list.map((s, i) => {
    const chain = list.slice(0, i + 1).filter((o) => o.method === s.method);
    const done = chain.every((o) => seconds.has(o.unit));
    const flops = studentTrainingFlops(cfg, flopsPerExample, s);
    const cost: TrainingCost = { method: s.method, steps: s.steps, unit: s.unit, flops };
    if (done) cost.seconds = chain.reduce((a, o) => a + seconds.get(o.unit)!, 0);
    return cost;
  });
}

/**
 * Per step count that more than one method trains: which reaches it with fewer FLOPs, e.g. "2 steps: consistency
 * with 0.42× the FLOPs of progressive (1.2e12 vs 2.9e12)".
 */
export function cheaperMethod(cost: TrainingCost[]): { steps: number; line: string }[] {
  const counts = [...new Set(cost.map((c) => c.steps))].sort((a, b) => b - a);
  const out: { steps: number; line: string }[] = [];
  for (const steps of counts) {
    const at = cost.filter((c) => c.steps === steps).sort((a, b) => a.flops - b.flops);
    if (at.length < 2) continue;
    const [best, next] = at;
    const e = (v: number) => v.toExponential(2);
    out.push({
      steps,
      line:
        best.flops === next.flops
          ? `${steps} step${steps === 1 ? '' : 's'}: ${best.method} and ${next.method} cost the same (${e(best.flops)} FLOPs)`
          : `${steps} step${steps === 1 ? '' : 's'}: ${best.method} with ${(best.flops / next.flops).toFixed(2)}× the FLOPs of ${next.method} (${e(best.flops)} vs ${e(next.flops)})`,
    });
  }
  return out;
}
