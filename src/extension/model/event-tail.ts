/**
 * Incremental reader of a run's events.jsonl, shared by the run manager, the Runs view's listing cache and the
 * panels' event feed: each `read()` returns only the events appended since the previous call, by byte offset.
 * Only whole lines are consumed: a torn last line (a writer mid-append, or killed mid-write) is read again once it is
 * complete. Malformed complete lines are skipped and counted. A file that got shorter than what was consumed (it was
 * replaced) is read again from its start, and the read says so (`reset`).
 * fs only: no vscode, no tfjs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseEventLines, RunEvent } from '../../engine/run/events';
import { FILES } from '../../engine/run/run-folder';

export interface TailRead {
  /** The events of the complete lines appended since the previous read. */
  events: RunEvent[];
  /** Malformed or invalid lines among them (skipped). */
  skipped: number;
  /** True when the file was replaced by a shorter one: reading restarted at its beginning, drop what was read. */
  reset: boolean;
}

export class EventTail {
  private offset = 0;
  /** Malformed complete lines seen so far, over every read. */
  skipped = 0;

  constructor(readonly file: string) {}

  /** The tail of a run folder's events.jsonl. */
  static ofRun(runDir: string): EventTail {
    return new EventTail(path.join(runDir, FILES.events));
  }

  /** Bytes consumed so far (always at a line boundary). */
  get position(): number {
    return this.offset;
  }

  /**
   * Skips what the file holds now without parsing it: only its last bytes are read to find the end of the last
   * complete line (the next read returns what follows it, a torn last line included once complete).
   */
  skipToEnd(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      const size = fs.fstatSync(fd).size;
      for (let span = 64 * 1024; ; span *= 4) {
        const start = Math.max(0, size - span);
        const buf = Buffer.alloc(size - start);
        const got = fs.readSync(fd, buf, 0, buf.length, start);
        const nl = buf.subarray(0, got).lastIndexOf(0x0a);
        if (nl >= 0 || start === 0) {
          this.offset = nl >= 0 ? start + nl + 1 : 0;
          return;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The events of the complete lines appended since the last call (a missing file has none). */
  read(): TailRead {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], skipped: 0, reset: false };
      throw e;
    }
    try {
      const size = fs.fstatSync(fd).size;
      let reset = false;
      if (size < this.offset) {
        this.offset = 0;
        reset = true;
      }
      if (size === this.offset) return { events: [], skipped: 0, reset };
      const buf = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      const nl = got > 0 ? buf.lastIndexOf(0x0a, got - 1) : -1;
      if (nl < 0) return { events: [], skipped: 0, reset };
      this.offset += nl + 1;
      const { events, skipped } = parseEventLines(buf.toString('utf8', 0, nl + 1));
      this.skipped += skipped;
      return { events, skipped, reset };
    } finally {
      fs.closeSync(fd);
    }
  }
}
