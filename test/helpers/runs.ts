/** Test helpers shared by the engine's unit tests (not a test file itself). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRun, runStages } from '../../src/engine';

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

/**
 * A digits run at 8×8 trained in seconds (teacher, guided, one progressive phase 4 → 2; no summary), written into
 * `dir` as runs/<name>: what the edit tests (CLI, worker, Edit tab) edit with. Returns the run folder.
 */
export async function tinyDigitsRun(dir: string, name: string): Promise<string> {
  const cfg = {
    name: 'digits-edit',
    seed: 3,
    backend: 'cpu',
    threads: 1,
    data: { kind: 'mnist', imageSize: 8, limit: 200 },
    model: { kind: 'unet', channels: [8, 16], blocksPerLevel: 1, groups: 4, embedDim: 16 },
    teacher: { steps: 6, batch: 8, lr: 0.003, warmup: 2 },
    guided: { steps: 3, batch: 8, lr: 0.001 },
    progressive: { n0: 4, targetSteps: 2, steps: 3, batch: 8, lr: 0.001 },
    sampling: { interval: 0, teacherSteps: 6, perClass: 1, classes: [0, 1] },
    checkpoint: { interval: 100, keep: 1 },
    log: { interval: 1 },
  };
  const configPath = path.join(dir, `${name}.distill.json`);
  fs.writeFileSync(configPath, JSON.stringify(cfg));
  const runDir = await createRun({ configPath, runsDir: path.join(dir, 'runs'), name });
  assert.equal(await runStages({ runDir, summary: false }), 'finished');
  return runDir;
}
