/**
 * What every training unit shares (the autoencoder, the teacher, the guided student, each progressive phase): its
 * context, checkpoints with retention, exact resume from the newest valid checkpoint, and the step loop with its
 * stop requests, loss read-backs, grids and periodic saves.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointHeader, readCheckpoint, readCheckpointHeader, writeCheckpoint } from '../run/checkpoint';
import { ResolvedConfig, UnitSpec } from '../run/config';
import { Dataset } from '../data';
import { RunEvent } from '../run/events';
import { StepRecord, Trainer } from './optimizer';
import { Rng, RngState } from '../random/rng';
import { listCheckpoints, stepFileName } from '../run/run-folder';
import { ParallelPlan } from './data-parallel';
import type { LatentCodec } from '../method/samplers';

export interface StageContext {
  runDir: string;
  cfg: ResolvedConfig;
  /** The hash this unit's checkpoints carry (run.json's, or config.ts `unitHash` for a stage-2 method's unit). */
  hash: string;
  data: Dataset;
  emit: (e: RunEvent) => void;
  log: (line: string) => void;
  /** True when the run should save and stop (abort signal or stop.request). */
  shouldStop: () => boolean;
  /** Data-parallel workers for the training steps (see parallel.ts); absent = train in this process. */
  parallel?: ParallelPlan;
  /** Latent-space runs: `data` holds the encoded training set and grids decode through this (method/latent-codec.ts). */
  codec?: LatentCodec;
}

/** A unit the step loop trains: one entry of `units(cfg)`. */
export type UnitDef = UnitSpec;

export class TrainingDiverged extends Error {}

const now = () => Date.now();

/** Steps whose loss may wait on the device before a read-back even when the log interval is longer. */
const MAX_PENDING_STEPS = 1000;

/** The newest checkpoint of a unit that reads back intact; corrupt ones are reported and skipped. */
export function latestValidCheckpoint(
  runDir: string,
  unit: string,
  warn: (msg: string) => void,
):
  | {
      file: string;
      header: ReturnType<typeof readCheckpoint>['header'];
      arrays: ReturnType<typeof readCheckpoint>['arrays'];
    }
  | undefined {
  const list = listCheckpoints(runDir, unit);
  for (let i = list.length - 1; i >= 0; i--) {
    const file = path.join(runDir, list[i].file);
    try {
      const { header, arrays } = readCheckpoint(file);
      return { file, header, arrays };
    } catch (e) {
      warn(`${(e as Error).message}; falling back to an earlier checkpoint`);
    }
  }
  return undefined;
}

/**
 * Saves a checkpoint; the caller has flushed the Trainer (so every step in it is known to be finite). `extra`: further
 * header fields (the autoencoder's latent scale).
 */
export async function saveCheckpoint(
  ctx: StageContext,
  def: Pick<UnitDef, 'unit'>,
  tr: Trainer,
  rng: RngState,
  total: number,
  loss: number | undefined,
  extra: Pick<CheckpointHeader, 'latentScale'> = {},
): Promise<void> {
  if (tr.pendingSteps)
    throw new Error(`${def.unit}: internal error: checkpoint requested with ${tr.pendingSteps} unchecked steps`);
  const final = tr.step >= total;
  const rel = path.join('checkpoints', def.unit, stepFileName(tr.step, 'ckpt'));
  const arrays = await tr.state();
  writeCheckpoint(
    path.join(ctx.runDir, rel),
    {
      unit: def.unit,
      step: tr.step,
      totalSteps: total,
      final,
      configHash: ctx.hash,
      rng,
      withW: tr.net.withW,
      loss,
      savedAt: now(),
      ...extra,
    },
    arrays,
  );
  ctx.emit({ type: 'checkpoint', t: now(), unit: def.unit, step: tr.step, file: rel, final });
  // retention: keep the newest `keep` (a final checkpoint is always kept)
  const list = listCheckpoints(ctx.runDir, def.unit);
  const keep = ctx.cfg.checkpoint.keep;
  for (const c of list.slice(0, Math.max(0, list.length - keep))) {
    if (c.step >= total) continue;
    fs.rmSync(path.join(ctx.runDir, c.file), { force: true });
  }
}

/**
 * Continues a unit from its newest valid checkpoint (weights, EMA, Adam moments, step; corrupt ones are reported and
 * skipped) when it has one: returns the unit's Rng as saved and the last loss, or undefined for a fresh start.
 */
export function resumeUnit(
  ctx: StageContext,
  unit: string,
  trainer: Trainer,
): { rng: Rng; lastLoss: number | undefined } | undefined {
  const resume = latestValidCheckpoint(ctx.runDir, unit, (m) => {
    ctx.log(m);
    ctx.emit({ type: 'error', t: now(), unit, message: m });
  });
  if (!resume) return undefined;
  if (resume.header.configHash !== ctx.hash) {
    throw new Error(
      `${resume.file}: written for another configuration (hash ${resume.header.configHash}, run ${ctx.hash})`,
    );
  }
  trainer.load(resume.arrays, resume.header.step);
  ctx.log(`${unit}: resuming from step ${resume.header.step} (${path.relative(ctx.runDir, resume.file)})`);
  return { rng: new Rng(resume.header.rng), lastLoss: resume.header.loss };
}

/**
 * Whether a unit draws a sample grid before `step` of `total` (step 0: before training): every sampling.interval
 * steps, never with interval 0; the stage end draws its own.
 */
export function gridDue(cfg: ResolvedConfig, step: number, total: number): boolean {
  return step < total && cfg.sampling.interval > 0 && step % cfg.sampling.interval === 0;
}

/**
 * The step loop every unit shares (the stages and the autoencoder): a stop request saves a checkpoint and returns
 * 'stopped'; the steps' losses are read back (`flush`) only at the log interval, before grids and checkpoints and
 * every MAX_PENDING_STEPS; loss events carry the steps per second since the last one. Returns 'finished' at `total`.
 */
export async function stepLoop(
  ctx: StageContext,
  unit: string,
  trainer: Trainer,
  total: number,
  {
    trainOne,
    flush,
    grid,
    save,
  }: {
    trainOne: () => Promise<void>;
    flush: () => Promise<StepRecord[]>;
    grid: (step: number) => Promise<void>;
    save: () => Promise<void>;
  },
): Promise<'finished' | 'stopped'> {
  const cfg = ctx.cfg;
  let windowStart = performance.now();
  let windowSteps = 0;
  while (trainer.step < total) {
    if (ctx.shouldStop()) {
      await flush();
      await save();
      ctx.log(`${unit}: stopped at step ${trainer.step}/${total}; checkpoint saved`);
      return 'stopped';
    }
    await trainOne();
    windowSteps++;
    const step = trainer.step;
    const logNow = step % cfg.log.interval === 0 || step === total;
    const gridNow = gridDue(cfg, step, total);
    const checkpointNow = step < total && step % cfg.checkpoint.interval === 0;
    if (logNow || gridNow || checkpointNow || trainer.pendingSteps >= MAX_PENDING_STEPS) {
      const recs = await flush();
      if (logNow) {
        const last = recs[recs.length - 1];
        const el = (performance.now() - windowStart) / 1000;
        ctx.emit({
          type: 'loss',
          t: now(),
          unit,
          step,
          loss: last.loss,
          lr: last.lr,
          rate: el > 0 ? windowSteps / el : 0,
        });
        windowStart = performance.now();
        windowSteps = 0;
      }
    }
    if (gridNow) await grid(step);
    if (checkpointNow) await save();
    await new Promise((r) => setImmediate(r));
  }
  return 'finished';
}

/** True when the unit's newest checkpoint is its final one (header read only). */
export function unitFinished(runDir: string, unit: string): boolean {
  const last = listCheckpoints(runDir, unit).pop();
  if (!last) return false;
  try {
    return readCheckpointHeader(path.join(runDir, last.file)).final;
  } catch {
    return false;
  }
}
