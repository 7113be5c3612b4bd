/**
 * The training of a run: every unit in order — the autoencoder first in a latent-space run, then the teacher, the
 * guided student and each stage-2 method's students (config.ts `units`: each names the unit it distils and the one it
 * starts from) — skipping the finished ones, so a run resumes wherever it stopped.
 * A finished autoencoder hands the later units the encoded training set and the codec their grids decode through.
 */
import { stageSettings, units as unitList } from '../run/config';
import { encodeDataset } from '../method/latent-codec';
import { AUTOENCODER_UNIT, loadCodec, trainAutoencoder } from './autoencoder-unit';
import { trainUnit } from './distillation-units';
import { StageContext, unitFinished } from './unit-loop';

/** One unit of a run's plan: how it trains, and what it hands the units after it once finished. */
interface PlannedUnit {
  unit: string;
  train: (ctx: StageContext) => Promise<'finished' | 'stopped'>;
  /** Called once the unit is finished (trained now or before): the context of the units after it, and its cleanup. */
  handOver?: (ctx: StageContext) => Promise<{ ctx: StageContext; dispose: () => void }>;
}

/** The units of a run, in training order. */
function plan(ctx: StageContext): PlannedUnit[] {
  const out: PlannedUnit[] = [];
  if (ctx.cfg.model.space === 'latent') {
    out.push({
      unit: AUTOENCODER_UNIT,
      train: (c) => trainAutoencoder(c),
      handOver: async (c) => {
        const codec = loadCodec(c.runDir, c.cfg, c.data.shape, c.log);
        try {
          const data = await encodeDataset(codec, c.data);
          c.log(`data: ${data.source}`);
          return { ctx: { ...c, data, codec }, dispose: () => codec.dispose() };
        } catch (e) {
          codec.dispose();
          throw e;
        }
      },
    });
  }
  for (const def of unitList(ctx.cfg)) {
    const st = stageSettings(ctx.cfg, def.stage);
    if (st.steps === 0 && !(def.stage === 'teacher' && ctx.cfg.teacher.kind === 'exact')) {
      if (def.stage === 'teacher')
        throw new Error('teacher.steps: must be at least 1 (every later stage distils the teacher)');
      throw new Error(`${def.stage}.steps: 0 would skip a stage that later stages depend on; set at least 1`);
    }
    out.push({ unit: def.unit, train: (c) => trainUnit(c, def) });
  }
  return out;
}

/** Runs every unit in order, skipping finished ones. */
export async function trainAll(ctx: StageContext): Promise<'finished' | 'stopped'> {
  const cleanups: (() => void)[] = [];
  try {
    for (const u of plan(ctx)) {
      if (!unitFinished(ctx.runDir, u.unit)) {
        const r = await u.train(ctx);
        if (r === 'stopped') return 'stopped';
      }
      if (u.handOver) {
        const next = await u.handOver(ctx);
        cleanups.push(next.dispose);
        ctx = next.ctx;
      }
    }
    return 'finished';
  } finally {
    for (const c of cleanups.reverse()) c();
  }
}
