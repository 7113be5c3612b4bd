// `npm run check`: the static checks, each run even when an earlier one fails, then one line naming the failed ones.
// typecheck (tsc), lint (Biome, zero warnings), format:check (Biome), check:unused (knip: unused files/exports/deps).
// Exit code 0 when all pass. test/run-all.mjs runs this first and counts it as one test.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(REPO, 'node_modules', '.bin', name);

export const CHECKS = [
  ['typecheck', bin('tsc'), ['-p', '.', '--noEmit']],
  ['lint', bin('biome'), ['lint', '--error-on-warnings']],
  ['format:check', bin('biome'), ['format']],
  ['check:unused', bin('knip'), []],
];

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: 'inherit' });
    child.on('error', (e) => {
      console.error(`${cmd}: ${e.message}`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** Runs every check; returns the names of those that failed. */
export async function runChecks() {
  const failed = [];
  for (const [name, cmd, args] of CHECKS) {
    console.log(`== check: ${name}`);
    const code = await run(cmd, args);
    console.log(`== check: ${name} ${code === 0 ? 'passed' : `FAILED (exit ${code})`}`);
    if (code !== 0) failed.push(name);
  }
  return failed;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const failed = await runChecks();
  console.log(failed.length ? `\ncheck: failed: ${failed.join(', ')}` : `\ncheck: all ${CHECKS.length} passed`);
  process.exit(failed.length ? 1 : 0);
}
