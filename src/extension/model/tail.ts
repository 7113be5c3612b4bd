/**
 * Incremental reader of a run's events.jsonl: each `read()` returns only the events appended since the last one.
 * A line without its newline yet (a writer mid-append, or killed mid-write) is held back until it is complete;
 * malformed complete lines are skipped and counted. A file that shrank (replaced) is read again from the start.
 * fs only: no vscode, no tfjs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { asRunEvent, RunEvent } from '../../engine/run/events';
import { FILES } from '../../engine/run/run-folder';

export class EventTailer {
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  /** Malformed complete lines seen so far. */
  skipped = 0;
  readonly file: string;

  constructor(readonly runDir: string) {
    this.file = path.join(runDir, FILES.events);
  }

  /** Bytes consumed so far (complete lines only). */
  get position(): number {
    return this.offset - this.pending.length;
  }

  /**
   * Skips what the file holds now without parsing it: only its last bytes are read to find the end of the last
   * complete line (a following read returns what is appended from then on).
   */
  skipToEnd(): void {
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      return;
    }
    const fd = fs.openSync(this.file, 'r');
    try {
      for (let span = 64 * 1024; ; span *= 4) {
        const start = Math.max(0, size - span);
        const buf = Buffer.alloc(size - start);
        const got = fs.readSync(fd, buf, 0, buf.length, start);
        const nl = buf.subarray(0, got).lastIndexOf(0x0a);
        if (nl >= 0 || start === 0) {
          this.offset = nl >= 0 ? start + nl + 1 : 0;
          this.pending = Buffer.alloc(0);
          return;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  read(): RunEvent[] {
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      this.offset = 0;
      this.pending = Buffer.alloc(0);
    }
    if (size === this.offset) return [];
    const chunk = Buffer.alloc(size - this.offset);
    const fd = fs.openSync(this.file, 'r');
    let got = 0;
    try {
      while (got < chunk.length) {
        const n = fs.readSync(fd, chunk, got, chunk.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    this.offset += got;
    const data = this.pending.length ? Buffer.concat([this.pending, chunk.subarray(0, got)]) : chunk.subarray(0, got);
    const lastNl = data.lastIndexOf(0x0a);
    if (lastNl < 0) {
      this.pending = Buffer.from(data);
      return [];
    }
    this.pending = Buffer.from(data.subarray(lastNl + 1));
    const events: RunEvent[] = [];
    for (const line of data.subarray(0, lastNl).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.skipped++;
        continue;
      }
      const ev = asRunEvent(parsed);
      if (ev) events.push(ev);
      else this.skipped++;
    }
    return events;
  }
}
