/**
 * Following a run's events.jsonl as it grows, for the panels: the shared EventTail (model/event-tail.ts) read on a
 * watcher with a polling fallback (fs.watch is not reliable on every file system), and de-duplication against events
 * that also arrive from the worker over IPC.
 * fs and path only: no `vscode` import, so it is unit-tested directly.
 */
import * as fs from 'fs';
import type { RunEvent } from '../../engine/run/events';
import { FILES } from '../../engine/run/run-folder';
import { EventTail, TailRead } from '../model/event-tail';

/** A fingerprint that is the same for an event parsed from the file and the same event received over IPC. */
export function eventKey(e: RunEvent): string {
  const o = e as unknown as Record<string, unknown>;
  return `${e.type}|${e.t}|${String(o.unit ?? '')}|${String(o.step ?? '')}|${String(o.file ?? '')}|${String(o.status ?? '')}`;
}

export interface FeedOptions {
  /** Polling interval in ms (a fallback to fs.watch); default 1000. */
  pollMs?: number;
  /** Use fs.watch on the run folder as well; default true. */
  watch?: boolean;
  /** Called when lines of the log could not be parsed (they are skipped). */
  onSkipped?: (count: number) => void;
  /**
   * Called after every look at the run folder (each poll, and when the watcher saw events.jsonl or the eval folder
   * change), so other files of the run (the evaluation report) can be followed with the same watcher and timer.
   */
  onTick?: () => void;
}

/** How many recent event keys the feed remembers to drop an event that arrives both from the file and over IPC. */
const RECENT_KEYS = 8192;

/**
 * Every event of one run, oldest first: the history on disk, then what is appended (tailed from the file) or
 * pushed (from the worker), each event once. Listeners get batches of new events; `reset` means the log was
 * replaced and `events` now holds the whole new history.
 */
export class RunEventFeed {
  readonly events: RunEvent[] = [];
  private readonly tail: EventTail;
  private readonly recent = new Set<string>();
  /** The keys in `recent`, oldest overwritten first (a ring: a 100k-line history is remembered in O(n)). */
  private readonly recentRing: (string | undefined)[] = new Array<string | undefined>(RECENT_KEYS);
  private ringPos = 0;
  private watcher?: fs.FSWatcher;
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private disposed = false;

  constructor(
    readonly runDir: string,
    private readonly listener: (events: RunEvent[], reset: boolean) => void,
    private readonly opts: FeedOptions = {},
  ) {
    this.tail = EventTail.ofRun(runDir);
    this.readTail(false);
    if (opts.watch !== false) {
      try {
        this.watcher = fs.watch(runDir, (_kind, name) => {
          if (!name || String(name) === FILES.events || String(name) === FILES.eval) this.kick();
        });
        this.watcher.on('error', () => {
          this.watcher?.close();
          this.watcher = undefined;
        });
      } catch {
        this.watcher = undefined; // polling covers it
      }
    }
    this.timer = setInterval(() => this.poll(), opts.pollMs ?? 1000);
    this.timer.unref?.();
  }

  /** Reads whatever the file gained and hands new events to the listener. */
  poll(): void {
    if (this.disposed) return;
    this.readTail(true);
    this.opts.onTick?.();
  }

  /** An event received from elsewhere (the worker): delivered now unless it was already seen in the file. */
  push(e: RunEvent): void {
    if (this.disposed || !this.remember(e)) return;
    this.events.push(e);
    this.listener([e], false);
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private kick(): void {
    if (this.debounce || this.disposed) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.poll();
    }, 30);
  }

  private remember(e: RunEvent): boolean {
    const k = eventKey(e);
    if (this.recent.has(k)) return false;
    this.recent.add(k);
    const old = this.recentRing[this.ringPos];
    if (old !== undefined) this.recent.delete(old);
    this.recentRing[this.ringPos] = k;
    this.ringPos = (this.ringPos + 1) % RECENT_KEYS;
    return true;
  }

  private readTail(notify: boolean): void {
    let r: TailRead;
    try {
      r = this.tail.read();
    } catch {
      return; // unreadable for now (e.g. permissions while being replaced); the next poll retries
    }
    if (r.skipped && this.opts.onSkipped) this.opts.onSkipped(r.skipped);
    if (r.reset) {
      this.events.length = 0;
      this.recent.clear();
      this.recentRing.fill(undefined);
      this.ringPos = 0;
    }
    const fresh = r.events.filter((e) => this.remember(e));
    if (fresh.length === 0 && !r.reset) return;
    for (const e of fresh) this.events.push(e);
    if (notify) this.listener(r.reset ? this.events.slice() : fresh, r.reset);
  }
}
