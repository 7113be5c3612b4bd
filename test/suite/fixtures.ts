/** Fixtures shared by the integration suites. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A finished one-unit run folder (teacher, 100 steps, one checkpoint) named `name` in `runsDir`. */
export function writeFixtureRun(runsDir: string, name: string): string {
  const dir = path.join(runsDir, name);
  fs.mkdirSync(path.join(dir, 'checkpoints', 'teacher'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ teacher: { steps: 100 }, guided: { steps: 0 }, progressive: { steps: 0 } }),
  );
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ name, createdAt: Date.now() - 60_000, configHash: 'fixture', version: '0.1.0' }),
  );
  const t = Date.now() - 60_000;
  const events = [
    { type: 'run_start', t, pid: 1, host: os.hostname(), resumed: false, configHash: 'fixture' },
    { type: 'stage_start', t, stage: 'teacher', unit: 'teacher', totalSteps: 100, startStep: 0 },
    { type: 'loss', t: t + 1, unit: 'teacher', step: 100, loss: 0.25, lr: 0.001, rate: 10 },
    {
      type: 'checkpoint',
      t: t + 2,
      unit: 'teacher',
      step: 100,
      file: 'checkpoints/teacher/step-0000100.ckpt',
      final: true,
    },
    { type: 'stage_end', t: t + 3, unit: 'teacher', step: 100, seconds: 10 },
    { type: 'run_end', t: t + 4, status: 'finished' },
  ];
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'checkpoints', 'teacher', 'step-0000100.ckpt'), 'fixture');
  return dir;
}
