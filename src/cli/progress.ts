/**
 * Progress output for the CLI: on a TTY one live line per stage (bar, steps, rate, ETA, loss); otherwise plain log
 * lines at most every few seconds plus every stage boundary, so CI logs stay readable.
 */
import type { RunEvent } from '../engine/run/events';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`
    : `${m}:${String(sec).padStart(2, '0')}`;
}

export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  const part = Math.round((f * width - full) * 8);
  const parts = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  return (
    '█'.repeat(full) +
    (full < width ? (parts[part] ?? '') : '') +
    ' '.repeat(Math.max(0, width - full - (part > 0 && full < width ? 1 : 0)))
  );
}

/** What a unit's headline adds after its name: a progressive phase's halving, a consistency student's steps. */
function stageNote(e: Extract<RunEvent, { type: 'stage_start' }>): string {
  if (e.fromSteps) return ` (${e.fromSteps} → ${e.toSteps} sampling steps)`;
  if (e.stage === 'consistency' && e.toSteps) return ` (${e.toSteps}-step consistency student)`;
  return '';
}

export class ProgressPrinter {
  private unit = '';
  private total = 0;
  private step = 0;
  private rate = 0;
  private loss = NaN;
  private lineOpen = false;
  private lastPlain = 0;
  private readonly start = Date.now();
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream) {
    this.tty = out.isTTY === true;
  }

  elapsedSeconds(): number {
    return (Date.now() - this.start) / 1000;
  }

  private line(): string {
    const eta = this.rate > 0 ? (this.total - this.step) / this.rate : NaN;
    const f = this.total > 0 ? this.step / this.total : 0;
    return `${this.unit.padEnd(18)} ▕${bar(f)}▏ ${String(this.step).padStart(String(this.total).length)}/${this.total}  ${this.rate.toFixed(1)} it/s  ETA ${formatDuration(eta)}  loss ${Number.isFinite(this.loss) ? this.loss.toPrecision(4) : '-'}`;
  }

  private clear(): void {
    if (this.tty && this.lineOpen) {
      this.out.write('\r\x1b[2K');
      this.lineOpen = false;
    }
  }

  private redraw(): void {
    if (this.tty) {
      this.out.write('\r\x1b[2K' + this.line());
      this.lineOpen = true;
    } else if (Date.now() - this.lastPlain > 5000) {
      this.out.write(this.line() + '\n');
      this.lastPlain = Date.now();
    }
  }

  log(text: string): void {
    this.clear();
    this.out.write(text + '\n');
    if (this.unit && this.tty) this.redraw();
  }

  event(e: RunEvent): void {
    switch (e.type) {
      case 'stage_start':
        this.clear();
        this.unit = e.unit;
        this.total = e.totalSteps;
        this.step = e.startStep;
        this.rate = 0;
        this.loss = NaN;
        this.out.write(
          `▶ ${e.unit}${stageNote(e)}: ${e.totalSteps} steps${e.startStep ? `, resuming at ${e.startStep}` : ''}\n`,
        );
        this.lastPlain = Date.now();
        this.redraw();
        break;
      case 'loss':
        this.step = e.step;
        this.rate = e.rate;
        this.loss = e.loss;
        this.redraw();
        break;
      case 'stage_end':
        this.step = e.step;
        this.clear();
        if (!this.tty) this.out.write(this.line() + '\n');
        else this.out.write(this.line() + '\n');
        this.out.write(`✔ ${e.unit} done in ${formatDuration(e.seconds)}\n`);
        this.unit = '';
        break;
      case 'error':
        this.log(`warning: ${e.message}`);
        break;
      case 'samples':
        // the autoencoder's grids have no w columns: originals over reconstructions
        this.log(
          e.w.length
            ? `  samples: ${e.file} (${e.steps} steps, ${e.nfe} NFE)`
            : `  reconstructions: ${e.file} (originals over reconstructions)`,
        );
        break;
      default:
        break;
    }
  }

  finish(): void {
    this.clear();
  }
}
