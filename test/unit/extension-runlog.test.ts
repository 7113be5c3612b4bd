/**
 * The editor's incremental view of run logs: the compacted log summarises like the whole log, the Runs view's
 * listing and the manager's tailers read a growing events.jsonl by its new bytes only (bytes counted at fs), and
 * a replaced log is read again.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RunEvent, summarizeEvents } from '../../src/engine/run/events';
import { describeRun } from '../../src/engine/run/run-folder';
import { CompactLog, RunListingCache } from '../../src/extension/model/run-log';
import { EventTail } from '../../src/extension/model/event-tail';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-runlog-'));

/** A two-unit run with a stop and a resume, checkpoints, grids and an error, `n` loss lines per unit. */
function history(n: number): RunEvent[] {
  let t = 1;
  const ev: RunEvent[] = [{ type: 'run_start', t: t++, pid: 1, host: 'h', resumed: false, configHash: 'x' }];
  ev.push({ type: 'backend', t: t++, name: 'wasm', version: '4.22.0', threads: 2, simd: true });
  for (const unit of ['teacher', 'guided'] as const) {
    ev.push({ type: 'stage_start', t: t++, stage: unit, unit, totalSteps: n, startStep: 0 });
    for (let i = 1; i <= n; i++) {
      ev.push({ type: 'loss', t: t++, unit, step: i, loss: 1 / i, lr: 1e-3, rate: 10 + (i % 7) });
      if (i % 50 === 0)
        ev.push({
          type: 'checkpoint',
          t: t++,
          unit,
          step: i,
          file: `checkpoints/${unit}/step-${i}.ckpt`,
          final: false,
        });
      if (unit === 'teacher' && i === Math.floor(n / 2)) {
        ev.push({ type: 'run_end', t: t++, status: 'stopped' });
        ev.push({ type: 'run_start', t: t++, pid: 2, host: 'h', resumed: true, configHash: 'x' });
        ev.push({ type: 'stage_start', t: t++, stage: unit, unit, totalSteps: n, startStep: i - 3 });
      }
    }
    ev.push({ type: 'stage_end', t: t++, unit, step: n, seconds: 5 });
  }
  ev.push({ type: 'error', t: t++, message: 'a note' });
  return ev;
}

function writeRun(name: string, events: RunEvent[]): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ name, createdAt: 1, configHash: 'x', version: '0' }));
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  return dir;
}

/** The fs module object itself (the import above is a read-only namespace view of it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsModule: typeof fs = require('node:fs');

/** Bytes handed out by fs reads (readSync, and readFileSync of event logs) while `fn` runs. */
function bytesRead<T>(fn: () => T): { value: T; bytes: number } {
  const readSync = fsModule.readSync;
  const readFileSync = fsModule.readFileSync;
  let bytes = 0;
  (fsModule as { readSync: unknown }).readSync = (...a: Parameters<typeof fs.readSync>) => {
    const n = (readSync as (...x: unknown[]) => number)(...a);
    bytes += n;
    return n;
  };
  (fsModule as { readFileSync: unknown }).readFileSync = (...a: Parameters<typeof fs.readFileSync>) => {
    const r = (readFileSync as (...x: unknown[]) => string | Buffer)(...a);
    if (String(a[0]).endsWith('events.jsonl')) bytes += Buffer.byteLength(r);
    return r;
  };
  try {
    return { value: fn(), bytes };
  } finally {
    (fsModule as { readSync: unknown }).readSync = readSync;
    (fsModule as { readFileSync: unknown }).readFileSync = readFileSync;
  }
}

describe('the editor reads run logs incrementally', () => {
  it('a compacted log (newest loss per unit) summarises exactly like the whole log, at every prefix', () => {
    const all = history(120);
    const log = new CompactLog();
    for (let i = 0; i < all.length; i += 17) {
      log.add(all.slice(i, i + 17));
      const prefix = all.slice(0, Math.min(all.length, i + 17));
      for (const live of [true, false])
        assert.deepEqual(summarizeEvents(log.events(), live), summarizeEvents(prefix, live), `prefix ${prefix.length}`);
    }
    assert.ok(log.size < 40, `kept ${log.size} of ${all.length} events`);
  });

  it('the Runs view listing reads only appended bytes per refresh, and re-reads a replaced log', () => {
    const events = history(5000);
    const dir = writeRun('long', events);
    const file = path.join(dir, 'events.jsonl');
    const size = fs.statSync(file).size;
    const cache = new RunListingCache();
    const first = bytesRead(() => cache.describe(dir));
    assert.ok(first.bytes >= size && first.bytes < size + 4096, `first listing read ${first.bytes} of ${size} bytes`);
    assert.deepEqual(first.value.summary, describeRun(dir).summary);
    let appended = 0;
    for (let i = 1; i <= 100; i++) {
      const line =
        JSON.stringify({ type: 'loss', t: 1e6 + i, unit: 'guided', step: 5000 + i, loss: 0.5, lr: 1e-3, rate: 9 }) +
        '\n';
      fs.appendFileSync(file, line);
      appended += line.length;
      const r = bytesRead(() => cache.describe(dir));
      assert.ok(r.bytes <= line.length + 4096, `refresh ${i} read ${r.bytes} bytes for a ${line.length}-byte line`);
      assert.equal(r.value.summary.units.find((u) => u.unit === 'guided')?.step, 5000 + i);
    }
    const total = bytesRead(() => cache.describe(dir));
    assert.equal(total.bytes, 0, 'nothing new: nothing read');
    assert.deepEqual(cache.describe(dir).summary, describeRun(dir).summary);
    assert.ok(appended > 0);
    // replaced by a shorter log: read again from its start
    writeRun('long', history(10));
    assert.deepEqual(cache.describe(dir).summary, describeRun(dir).summary);
  });

  it("the manager's tailer starts at the end of a long log without parsing it", () => {
    const dir = writeRun('skip', history(5000));
    const file = path.join(dir, 'events.jsonl');
    const size = fs.statSync(file).size;
    const t = EventTail.ofRun(dir);
    const r = bytesRead(() => t.skipToEnd());
    assert.ok(r.bytes <= 64 * 1024 && size > 4 * 64 * 1024, `skipToEnd read ${r.bytes} of ${size} bytes`);
    assert.equal(t.position, size);
    // a torn last line stays pending until it is complete
    fs.appendFileSync(file, '{"type":"run_end","t":9,');
    assert.deepEqual(t.read().events, []);
    fs.appendFileSync(file, '"status":"finished"}\n');
    assert.deepEqual(t.read().events, [{ type: 'run_end', t: 9, status: 'finished' }]);
    const t2 = EventTail.ofRun(dir);
    fs.appendFileSync(file, '{"type":"error","t":10,"message":"torn');
    t2.skipToEnd();
    fs.appendFileSync(file, '"}\n');
    assert.deepEqual(t2.read().events, [{ type: 'error', t: 10, message: 'torn' }]);
  });
});

describe("the dashboard's feed over a long log", () => {
  it('reads a 100k-line history once, then only appended bytes; an event also pushed over IPC arrives once', async () => {
    const { RunEventFeed } = await import('../../src/extension/panels/run-event-feed');
    const events = history(50_000); // 100k loss lines over two units
    const dir = writeRun('feed-long', events);
    const file = path.join(dir, 'events.jsonl');
    const got: RunEvent[] = [];
    const t0 = Date.now();
    const opened = bytesRead(
      () => new RunEventFeed(dir, (evs) => got.push(...evs), { watch: false, pollMs: 3_600_000 }),
    );
    const feed = opened.value;
    const ms = Date.now() - t0;
    try {
      assert.equal(feed.events.length, events.length);
      assert.ok(opened.bytes >= fs.statSync(file).size);
      // Sanity only (was 13 s when remembering each key cost O(8192)); bench:editor measures it.
      assert.ok(ms < 5000, `history of ${events.length} events read in ${ms} ms`);
      const live = { type: 'loss', t: 9e12, unit: 'guided', step: 50_001, loss: 0.1, lr: 1e-3, rate: 9 } as RunEvent;
      feed.push(live); // over IPC first …
      fs.appendFileSync(file, JSON.stringify(live) + '\n'); // … then in the file
      const r = bytesRead(() => feed.poll());
      assert.ok(r.bytes <= JSON.stringify(live).length + 1, `poll read ${r.bytes} bytes`);
      assert.deepEqual(got, [live]);
      assert.equal(feed.events.length, events.length + 1);
    } finally {
      feed.dispose();
    }
  });
});
