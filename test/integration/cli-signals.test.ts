/**
 * How `distill` ends its own signal handling once a command has stopped (src/cli/signals.ts): a SIGTERM or SIGUSR1
 * that arrives at any moment after that, even while the command's listeners are being removed, leaves the process to
 * exit with its own code; a SIGINT still ends it. Each case runs in a fresh process that signals itself.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const SIGNALS = path.resolve(__dirname, '../../src/cli/signals').replace(/\\/g, '/');

/** Runs a TypeScript program (under tsx) in a fresh Node process: how it ended and what it printed. */
function runFresh(code: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-signals-'));
  try {
    const file = path.join(dir, 'main.ts');
    fs.writeFileSync(file, code);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: path.resolve(__dirname, '../..'),
    });
    return {
      status: r.status,
      signal: r.signal,
      stdout: r.stdout,
      report: `status ${r.status}, signal ${r.signal}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A command's listeners as `distill run` installs them (Ctrl-C, SIGTERM, SIGUSR1), counting what reaches them. */
const COMMAND = `
import { releaseSignals } from '${SIGNALS}';
const seen = { SIGINT: 0, SIGTERM: 0, SIGUSR1: 0 };
const onSigint = () => seen.SIGINT++;
const onSigterm = () => seen.SIGTERM++;
const onSigusr1 = () => seen.SIGUSR1++;
process.on('SIGINT', onSigint);
process.on('SIGTERM', onSigterm);
process.on('SIGUSR1', onSigusr1);
`;

describe('signals after a command has stopped', () => {
  it('a SIGTERM or SIGUSR1 sent the moment each listener is removed, and after, neither kills nor reaches the command', () => {
    const r = runFresh(`${COMMAND}
const counts: string[] = [];
process.on('removeListener', (name) => {
  if (name !== 'SIGTERM' && name !== 'SIGUSR1') return;
  counts.push(name + ' ' + process.listenerCount(name));
  process.kill(process.pid, name);
});
releaseSignals({ SIGINT: onSigint, SIGTERM: onSigterm, SIGUSR1: onSigusr1 });
for (let i = 0; i < 20; i++) process.kill(process.pid, i % 2 ? 'SIGUSR1' : 'SIGTERM');
setTimeout(() => {
  console.log(JSON.stringify({ counts, seen, listeners: ['SIGINT', 'SIGTERM', 'SIGUSR1'].map((s) => process.listenerCount(s)) }));
  process.exit(75);
}, 200);
`);
    assert.equal(r.signal, null, r.report);
    assert.equal(r.status, 75, r.report);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    // while the command's listener came out, the quiet one was already there: never a moment with none
    assert.deepEqual(out.counts, ['SIGTERM 1', 'SIGUSR1 1']);
    assert.deepEqual(out.seen, { SIGINT: 0, SIGTERM: 0, SIGUSR1: 0 });
    assert.deepEqual(out.listeners, [0, 1, 1]);
  });

  it('releasing twice keeps one quiet listener, and a Ctrl-C afterwards still ends the process', () => {
    const r = runFresh(`${COMMAND}
releaseSignals({ SIGINT: onSigint, SIGTERM: onSigterm, SIGUSR1: onSigusr1 });
releaseSignals({});
console.log(JSON.stringify(['SIGINT', 'SIGTERM', 'SIGUSR1'].map((s) => process.listenerCount(s))));
process.kill(process.pid, 'SIGINT');
setTimeout(() => process.exit(0), 2000);
`);
    assert.equal(r.signal, 'SIGINT', r.report);
    assert.deepEqual(JSON.parse(r.stdout.trim()), [0, 1, 1]);
  });
});
