/** Shared pieces of the sweep tests (local and Slurm launchers): a toy sweep file and CLI/run-folder helpers. */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LossEvent } from '../../src/engine/run/events';
import { describeRun, readEvents } from '../../src/engine/run/run-folder';
import { GAUSSIANS, toyConfig } from './toy-config';

export const REPO = path.resolve(__dirname, '..', '..');
export const CLI = path.join(REPO, 'dist', 'cli.js');

export function ensureCli(): void {
  if (fs.existsSync(CLI)) return;
  const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

export function writeToySweep(dir: string, name: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, `${name}.sweep.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      { name, base: toyConfig(GAUSSIANS), grid: { 'progressive.lr': [0.0003, 0.001] }, ...extra },
      null,
      2,
    ),
  );
  return file;
}

export function distill(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { DISTILL_POLL_MS: '500', ...(opts.env ?? process.env) },
    encoding: 'utf8',
    timeout: opts.timeout ?? 300_000,
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function distillAsync(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { DISTILL_POLL_MS: '500', ...(opts.env ?? process.env) },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, done, output: () => out };
}

/** The last logged loss of every unit: what "ends with the same final loss" compares. */
export function finalLosses(runDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of readEvents(runDir).events) if (e.type === 'loss') out[(e as LossEvent).unit] = (e as LossEvent).loss;
  return out;
}

/** Every logged loss by unit@step (a resumed run logs the steps after its checkpoint again: the later value wins). */
export function lossesByStep(runDir: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of readEvents(runDir).events)
    if (e.type === 'loss') m.set(`${(e as LossEvent).unit}@${(e as LossEvent).step}`, (e as LossEvent).loss);
  return m;
}

export function assertFinished(runDir: string): void {
  const s = describeRun(runDir).summary;
  assert.equal(s.status, 'finished', `${runDir}: ${s.status} ${s.lastError ?? ''}`);
  for (const u of s.units)
    assert.ok(u.done && u.checkpoints.some((c) => c.final), `${runDir}: unit ${u.unit} has a final checkpoint`);
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  pollMs = 200,
): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function lastLossStep(runDir: string, unit: string): number {
  let s = -1;
  for (const e of readEvents(runDir).events)
    if (e.type === 'loss' && (e as LossEvent).unit === unit) s = Math.max(s, (e as LossEvent).step);
  return s;
}
