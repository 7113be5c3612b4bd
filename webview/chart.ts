/**
 * The loss chart: one uPlot canvas with a series per training unit on a shared "global step" axis (or one unit on
 * its own axis), optional EMA-smoothed overlay, log scale, dashed stage boundaries with the unit names, and live
 * hover values in uPlot's legend. Redraws are coalesced to one per animation frame; long series are decimated.
 */
import uPlot from 'uplot';
import { alignedData, AlignedData, formatLoss, LossStore } from './model';

const PALETTE = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'];
const FALLBACK: Record<string, string> = {
  blue: '#3794ff',
  orange: '#d18616',
  green: '#89d185',
  purple: '#b180d7',
  red: '#f14c4c',
  yellow: '#cca700',
};
/** Most points drawn per unit (at most two per pixel column of the chart) before min/max decimation kicks in. */
export const MAX_POINTS_PER_UNIT = 6000;
/** Above this many recorded points, live redraws are spaced by LARGE_REDRAW_MS. */
const LARGE_HISTORY = 20_000;
const LARGE_REDRAW_MS = 250;

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export function unitColor(index: number): string {
  const name = PALETTE[index % PALETTE.length];
  return cssVar(`--vscode-charts-${name}`, FALLBACK[name]);
}

export interface ChartOptions {
  smoothing: number;
  logScale: boolean;
  /** Restrict to one unit (its own step axis); undefined = every unit. */
  unit?: string;
}

export class LossChart {
  private plot?: uPlot;
  private shapeKey = '';
  private pending = 0;
  private delayed?: ReturnType<typeof setTimeout>;
  private lastRender = 0;
  private data?: AlignedData;
  private readonly resize: ResizeObserver;
  private readonly themeObserver: MutationObserver;

  constructor(
    private readonly host: HTMLElement,
    private readonly store: () => LossStore,
    private opts: ChartOptions,
    private readonly onRendered: (d: AlignedData, drawn: Record<string, number>) => void,
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize(this.size());
    });
    this.resize.observe(host);
    // VS Code swaps body classes (vscode-light / -dark / -high-contrast) on a theme change: recolour.
    this.themeObserver = new MutationObserver(() => this.rebuild());
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  }

  setOptions(opts: ChartOptions): void {
    this.opts = opts;
    this.schedule();
  }

  /**
   * Marks the data as changed; the chart redraws on the next animation frame (for long histories at most every
   * LARGE_REDRAW_MS, since each redraw smooths and decimates every point).
   */
  schedule(): void {
    if (this.pending || this.delayed) return;
    const wait = this.store().pointCount() > LARGE_HISTORY ? this.lastRender + LARGE_REDRAW_MS - performance.now() : 0;
    const frame = (): void => {
      this.pending = requestAnimationFrame(() => {
        this.pending = 0;
        this.render();
      });
    };
    if (wait > 0) {
      this.delayed = setTimeout(() => {
        this.delayed = undefined;
        frame();
      }, wait);
    } else frame();
  }

  /** Redraws now (used by schedule and when the webview becomes visible). */
  render(): void {
    this.lastRender = performance.now();
    // Min/max decimation keeps every spike with two points per pixel column: more only costs drawing time
    // (a 100k-point history redraws while lines arrive).
    const perUnit = Math.min(MAX_POINTS_PER_UNIT, Math.max(1000, 2 * this.size().width));
    const d = alignedData(this.store(), this.opts.smoothing, perUnit, this.opts.unit);
    this.data = d;
    const key = JSON.stringify([d.units, this.opts.smoothing > 0, this.opts.logScale, d.boundaries]);
    const cols = this.columns(d);
    if (!this.plot || key !== this.shapeKey) {
      this.shapeKey = key;
      this.build(d, cols);
    } else {
      this.plot.setData(cols);
    }
    this.onRendered(d, this.drawnPoints());
  }

  private rebuild(): void {
    this.shapeKey = '';
    this.schedule();
  }

  private columns(d: AlignedData): uPlot.AlignedData {
    const cols: (number | null)[][] = [d.x];
    d.raw.forEach((r, i) => {
      cols.push(this.opts.logScale ? r.map((v) => (v !== null && v > 0 ? v : null)) : r);
      if (this.opts.smoothing > 0) {
        const s = d.smooth[i];
        cols.push(this.opts.logScale ? s.map((v) => (v !== null && v > 0 ? v : null)) : s);
      }
    });
    return cols as uPlot.AlignedData;
  }

  private size(): { width: number; height: number } {
    const width = Math.max(200, Math.floor(this.host.clientWidth || 600));
    return { width, height: Math.max(220, Math.min(420, Math.round(width * 0.4))) };
  }

  private build(d: AlignedData, cols: uPlot.AlignedData): void {
    this.plot?.destroy();
    const fg = cssVar('--vscode-charts-foreground', cssVar('--vscode-foreground', '#cccccc'));
    const grid = cssVar('--vscode-charts-lines', 'rgba(128,128,128,0.25)');
    const font = `${cssVar('--vscode-font-size', '12px')} ${cssVar('--vscode-font-family', 'sans-serif')}`;
    const smoothing = this.opts.smoothing > 0;
    const series: uPlot.Series[] = [
      { label: this.opts.unit ? 'step' : 'global step', value: (_u, v) => (v == null ? '—' : String(Math.round(v))) },
    ];
    d.units.forEach((unit) => {
      const color = unitColor(this.store().order.findIndex((u) => u === unit));
      series.push({
        label: smoothing ? `${unit} (raw)` : unit,
        stroke: color,
        width: 1,
        alpha: smoothing ? 0.3 : 1,
        spanGaps: false,
        points: { show: false },
        value: (_u, v) => formatLoss(v),
      });
      if (smoothing) {
        series.push({
          label: `${unit} (EMA)`,
          stroke: color,
          width: 2,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => formatLoss(v),
        });
      }
    });
    const boundaries = d.boundaries;
    const axis = (label: string): uPlot.Axis => ({
      label,
      stroke: fg,
      font,
      labelFont: font,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
    });
    const opts: uPlot.Options = {
      ...this.size(),
      series,
      scales: { x: { time: false }, y: this.opts.logScale ? { distr: 3, log: 10 } : { auto: true } },
      axes: [axis(this.opts.unit ? 'step' : 'global step (units one after another)'), { ...axis('loss'), size: 64 }],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false }, points: { show: true } },
      hooks: {
        draw: [
          (u) => {
            if (boundaries.length < 2) return;
            const ctx = u.ctx;
            const { top, height } = u.bbox;
            ctx.save();
            ctx.strokeStyle = fg;
            ctx.fillStyle = fg;
            ctx.globalAlpha = 0.7;
            ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.lineWidth = devicePixelRatio;
            ctx.font = `${Math.round(11 * devicePixelRatio)}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
            for (const b of boundaries) {
              const x = Math.round(u.valToPos(b.x, 'x', true));
              if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) continue;
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, top + height);
              ctx.stroke();
              ctx.fillText(b.unit, x + 4 * devicePixelRatio, top + 12 * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
      },
    };
    this.plot = new uPlot(opts, cols, this.host);
    this.plot.root.setAttribute('data-boundaries', String(boundaries.length));
  }

  /** Points currently held by the chart for each unit (non-null raw values). */
  drawnPoints(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.plot || !this.data) return out;
    const stride = this.opts.smoothing > 0 ? 2 : 1;
    this.data.units.forEach((unit, i) => {
      const col = this.plot?.data[1 + i * stride] ?? [];
      let n = 0;
      for (const v of col) if (v !== null && v !== undefined) n++;
      out[unit] = n;
    });
    return out;
  }

  dispose(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    if (this.delayed) clearTimeout(this.delayed);
    this.resize.disconnect();
    this.themeObserver.disconnect();
    this.plot?.destroy();
  }
}
