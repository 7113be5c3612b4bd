// 50 run folders written by the real CLI, for the editor-budget measurements (activation, Runs view): one toy run
// is trained with `node dist/cli.js run` (a few seconds), then copied under 49 more names (run.json renamed).
//
// API: makeBudgetRuns(runsDir, { count = 50, cli = dist/cli.js }) -> { dirs, cliMs, bytes }
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const BUDGET_CONFIG = {
  name: 'budget',
  seed: 2,
  backend: 'wasm',
  threads: 1,
  data: { kind: 'toy2d', shape: 'rings', n: 256 },
  model: { kind: 'mlp', hidden: 32, depth: 1, embedDim: 16 },
  teacher: { steps: 300, batch: 32, lr: 0.002 },
  guided: { steps: 100, batch: 32, lr: 0.001 },
  progressive: { steps: 50, batch: 32, lr: 0.001, n0: 4, targetSteps: 2 },
  sampling: { interval: 0, teacherSteps: 4 },
  checkpoint: { interval: 100, keep: 2 },
  log: { interval: 1 },
};

export function makeBudgetRuns(runsDir, { count = 50, cli = path.join(REPO, 'dist/cli.js') } = {}) {
  fs.mkdirSync(runsDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-budget-'));
  const config = path.join(tmp, 'budget.distill.json');
  fs.writeFileSync(config, JSON.stringify(BUDGET_CONFIG, null, 2));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', config, '--runs-dir', tmp, '--name', 'budget-00'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const cliMs = Date.now() - t0;
  if (r.status !== 0)
    throw new Error(
      `distill run of the budget config failed (${r.status ?? r.signal}): ${(r.stderr || '').slice(-800)}`,
    );
  const src = path.join(tmp, 'budget-00');
  const dirs = [];
  for (let i = 0; i < count; i++) {
    const name = `budget-${String(i).padStart(2, '0')}`;
    const dir = path.join(runsDir, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(src, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'run.lock'), { force: true });
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'run.json'),
      JSON.stringify({ ...meta, name, createdAt: meta.createdAt - i * 1000 }),
    );
    dirs.push(dir);
  }
  const bytes = fs.statSync(path.join(src, 'events.jsonl')).size;
  fs.rmSync(tmp, { recursive: true, force: true });
  return { dirs, cliMs, bytes };
}
