/**
 * The stage-2 training FLOPs spent to reach a few-step student: the sum over its method's units from the first down
 * to its own (progressive-64-32 … its phase; consistency-4 … its student), each steps × batch × network passes per
 * example × the network's forward FLOPs per example. Passes per example: progressive, two frozen DDIM steps of the
 * phase it distils plus the student's forward and backward (≈ 3 passes); consistency, one frozen step of the stage-1
 * student, one stop-gradient pass of the student for its target, plus forward and backward.
 */
import { ResolvedConfig, stageSettings, students } from '../run/config';
import type { DistillMethod } from '../run/events';

const PASSES_PER_EXAMPLE: Record<DistillMethod, number> = { progressive: 2 + 3, consistency: 1 + 1 + 3 };

export function studentTrainingFlops(
  cfg: ResolvedConfig,
  flopsPerExample: number,
  student: { method: DistillMethod; steps: number },
): number {
  const chain = students(cfg).filter((s) => s.method === student.method);
  const k = chain.findIndex((s) => s.steps === student.steps);
  if (k < 0)
    throw new Error(
      `no ${student.method} student has ${student.steps} steps; available: ${chain.map((s) => s.steps).join(', ') || 'none'}`,
    );
  const st = stageSettings(cfg, student.method);
  return (k + 1) * st.steps * st.batch * PASSES_PER_EXAMPLE[student.method] * flopsPerExample;
}
