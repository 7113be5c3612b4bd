/**
 * The e2e flow's image run for the preview's Edit tab: a tiny digits run trained in seconds with the engine's own
 * createRun/runStages (no end-of-run summary, whose judge classifier would take minutes on this machine).
 * Usage: node --import tsx test/e2e/edit-run.ts CONFIG.json RUNS_DIR NAME   (prints the run folder)
 */
import * as path from 'path';
import { createRun, runStages } from '../../src/engine';

async function main(): Promise<void> {
  const [configPath, runsDir, name] = process.argv.slice(2);
  if (!configPath || !runsDir || !name) throw new Error('usage: edit-run.ts CONFIG.json RUNS_DIR NAME');
  const runDir = await createRun({ configPath: path.resolve(configPath), runsDir: path.resolve(runsDir), name });
  const status = await runStages({ runDir, summary: false });
  if (status !== 'finished') throw new Error(`${runDir}: training ended ${status}`);
  process.stdout.write(`${runDir}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
