/**
 * What the Runs view, the status bar and the dashboard header need from a run's events.jsonl, kept up to date by
 * reading only what was appended (no re-read of the whole log per event or per refresh).
 *
 * CompactLog holds the events in order but only the newest `loss` event per unit: summarizeEvents (engine/events.ts)
 * gives the same summary for it as for the whole log, because a loss event only sets its unit's step and last loss
 * and the run's rate, which the newest loss of that unit (the newest loss overall, for the rate) sets last anyway.
 * fs only: no vscode.
 */
import * as path from 'path';
import type { RunEvent } from '../../engine/run/events';
import { describeRun, RunListing } from '../../engine/run/run-folder';
import { EventTail } from './event-tail';

export class CompactLog {
  private kept: (RunEvent | undefined)[] = [];
  private lastLoss = new Map<string, number>();
  private holes = 0;

  add(events: Iterable<RunEvent>): void {
    for (const e of events) {
      if (e.type === 'loss') {
        const prev = this.lastLoss.get(e.unit);
        if (prev !== undefined) {
          this.kept[prev] = undefined;
          this.holes++;
        }
        this.lastLoss.set(e.unit, this.kept.length);
      }
      this.kept.push(e);
    }
    if (this.holes > 64 && this.holes > this.kept.length / 2) this.compact();
  }

  reset(): void {
    this.kept = [];
    this.lastLoss.clear();
    this.holes = 0;
  }

  /** The kept events, oldest first. */
  events(): RunEvent[] {
    return this.kept.filter((e): e is RunEvent => e !== undefined);
  }

  get size(): number {
    return this.kept.length - this.holes;
  }

  private compact(): void {
    const events = this.events();
    this.kept = events;
    this.holes = 0;
    this.lastLoss.clear();
    events.forEach((e, i) => e.type === 'loss' && this.lastLoss.set(e.unit, i));
  }
}

interface Entry {
  tail: EventTail;
  log: CompactLog;
}

/**
 * describeRun for the editor: the same RunListing, but each run's log is read once and then only by its new bytes.
 * A log that was replaced (shorter than what was read) is read again from its start.
 */
export class RunListingCache {
  private readonly entries = new Map<string, Entry>();

  describe(runDir: string): RunListing {
    const dir = path.resolve(runDir);
    let entry = this.entries.get(dir);
    if (!entry) {
      entry = { tail: EventTail.ofRun(dir), log: new CompactLog() };
      this.entries.set(dir, entry);
    }
    const { events, reset } = entry.tail.read();
    if (reset) entry.log.reset();
    entry.log.add(events);
    return describeRun(dir, entry.log.events());
  }

  /** Forgets runs whose folders are gone. */
  prune(present: Set<string>): void {
    for (const d of this.entries.keys()) if (!present.has(d)) this.entries.delete(d);
  }
}
