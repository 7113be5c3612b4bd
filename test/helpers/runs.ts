/** Test helpers shared by the engine's unit tests (not a test file itself). */
import { strict as assert } from 'node:assert';
import { runStages } from '../../src/engine';

/**
 * Trains `runDir` stopping (as Ctrl-C / Stop would) at each `unit@step` of `stopAts` in turn, asserting every
 * interrupted call reports 'stopped', then lets it finish.
 */
export async function runWithStops(runDir: string, stopAts: string[]): Promise<void> {
  for (const stopAt of stopAts) {
    const ac = new AbortController();
    const r = await runStages({
      runDir,
      summary: false,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'loss' && `${e.unit}@${e.step}` === stopAt) ac.abort();
      },
    });
    assert.equal(r, 'stopped');
  }
  assert.equal(await runStages({ runDir, summary: false }), 'finished');
}
