/**
 * What training a run costs, in FLOPs, for the report: each unit's steps × batch × network passes per example ×
 * the forward FLOPs of one pass on one example, with the passes each stage's loss takes (losses.ts), and the
 * stage-2 FLOPs spent to reach each few-step student. The autoencoder of a latent run is not counted: it is shared by
 * every stage.
 */
import { ResolvedConfig, stageSettings, students, units } from '../run/config';
import { DistillMethod, StageName } from '../run/events';

/**
 * Network passes per training example of a stage: `frozen` forward passes of the network it distils, `student`
 * stop-gradient forward passes of the student itself, and the student's forward and backward pass (`train`, counted
 * as 3 forward passes: the backward pass costs about two).
 */
export const PASSES_PER_EXAMPLE: Readonly<Record<StageName, { frozen: number; student: number; train: number }>> = {
  teacher: { frozen: 0, student: 0, train: 3 },
  // the guided teacher's conditional and unconditional passes
  guided: { frozen: 2, student: 0, train: 3 },
  // two DDIM steps of the previous phase's student
  progressive: { frozen: 2, student: 0, train: 3 },
  // one DDIM step of the stage-1 student, then the student's own stop-gradient step
  consistency: { frozen: 1, student: 1, train: 3 },
};

/** One unit's training cost. */
export interface UnitCost {
  unit: string;
  stage: StageName;
  steps: number;
  batch: number;
  /** Network passes per example (frozen + stop-gradient + forward and backward). */
  passes: number;
  /** steps × batch × passes × flopsPerExample. */
  flops: number;
}

/** Total passes per example of a stage. */
function passesOf(stage: StageName): number {
  const p = PASSES_PER_EXAMPLE[stage];
  return p.frozen + p.student + p.train;
}

/**
 * Every unit's training FLOPs in training order (config.ts `units`), for a network whose forward pass costs
 * `flopsPerExample` FLOPs per example. An exact teacher (teacher.kind "exact") is not trained and costs 0.
 */
export function unitTrainingCosts(cfg: ResolvedConfig, flopsPerExample: number): UnitCost[] {
  if (!(flopsPerExample >= 0)) throw new Error(`flopsPerExample: expected a number ≥ 0, got ${flopsPerExample}`);
  return units(cfg).map(({ unit, stage }) => {
    const st = stageSettings(cfg, stage);
    const steps = stage === 'teacher' && cfg.teacher.kind === 'exact' ? 0 : st.steps;
    const passes = passesOf(stage);
    return { unit, stage, steps, batch: st.batch, passes, flops: steps * st.batch * passes * flopsPerExample };
  });
}

/**
 * The stage-2 training FLOPs spent to reach a few-step student: the sum over its method's units from the first down to
 * its own (progressive-64-32 … its phase; consistency-4 … its student). Stage 1 and the teacher, shared by every
 * student, are not included.
 */
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
  const reached = new Set(chain.slice(0, k + 1).map((s) => s.unit));
  return unitTrainingCosts(cfg, flopsPerExample)
    .filter((c) => reached.has(c.unit))
    .reduce((sum, c) => sum + c.flops, 0);
}
