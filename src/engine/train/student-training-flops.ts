/**
 * What each few-step student cost to train: the stage-2 training FLOPs of every unit up to and including the
 * student's own, in its method's chain (progressive-64-32 … down to it; consistency-4 … down to it). A unit's FLOPs
 * are steps × batch × network passes per example × the network's forward FLOPs per example, with the passes counted
 * per method: progressive, two frozen DDIM steps of the unit it distils plus the student's forward and backward
 * (≈ 3 passes); consistency, one frozen step of the stage-1 student, one stop-gradient pass of the student for the
 * target, plus forward and backward.
 */
import { ResolvedConfig, stageSettings, students, units } from '../run/config';
import type { DistillMethod } from '../run/events';

/** Network passes per training example of one step of a stage-2 unit. */
export const PASSES_PER_EXAMPLE: Record<DistillMethod, number> = { progressive: 2 + 3, consistency: 1 + 1 + 3 };

/** Each student of the config with the cumulative stage-2 training FLOPs to reach it, in students(cfg) order. */
export function studentTrainingFlops(
  cfg: ResolvedConfig,
  flopsPerExample: number,
): { method: DistillMethod; steps: number; flops: number }[] {
  const unitOf = new Map(units(cfg).map((u) => [u.unit, u]));
  const total = new Map<DistillMethod, number>();
  return students(cfg).map((s) => {
    const st = stageSettings(cfg, unitOf.get(s.unit)!.stage);
    const flops = (total.get(s.method) ?? 0) + st.steps * st.batch * PASSES_PER_EXAMPLE[s.method] * flopsPerExample;
    total.set(s.method, flops);
    return { method: s.method, steps: s.steps, flops };
  });
}
