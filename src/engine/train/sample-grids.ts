/** Sample grids: rows = classes (× copies for images), columns = guidance weights w; toy data as scatter panels. */
import { ResolvedConfig } from '../run/config';
import { gridOfScatters, imageGridPng } from '../io/png';
import { Denoiser, outputShape, sample } from '../method/samplers';

/** Classes shown as grid rows. */
export function gridClasses(cfg: ResolvedConfig, numClasses: number): number[] {
  const cls = cfg.sampling.classes ?? Array.from({ length: Math.min(numClasses, 10) }, (_, i) => i);
  for (const c of cls)
    if (c >= numClasses)
      throw new Error(`sampling.classes: class ${c} does not exist (the dataset has ${numClasses} classes)`);
  return cls;
}

/** Renders a grid PNG: rows = classes (× perClass for images), columns = w values. */
export async function renderGrid(
  d: Denoiser,
  {
    classes,
    w,
    perClass,
    steps,
    sampler,
    seed,
    cancelled,
    onStep,
  }: {
    classes: number[];
    w: number[];
    perClass: number;
    steps: number;
    sampler: 'ddim' | 'stochastic';
    seed: number;
    cancelled?: () => boolean;
    onStep?: (done: number, total: number) => void;
  },
): Promise<{ png: Buffer; nfe: number; ms: number; count: number; rows: number; cols: number }> {
  const isToy = d.net.exampleShape.length === 1;
  const per = isToy ? Math.max(perClass, 128) : perClass;
  const rows = classes.length * (isToy ? 1 : per);
  const cols = w.length;
  const cls: number[] = [];
  const ws: number[] = [];
  // row-major cells: for images, row r = (class, copy), column = w; toy panels hold `per` points each
  for (const c of classes) {
    for (let k = 0; k < per; k++) {
      for (const wv of w) {
        cls.push(c);
        ws.push(wv);
      }
    }
  }
  const t0 = performance.now();
  const { x, nfe } = await sample(d, {
    classes: Int32Array.from(cls),
    w: Float32Array.from(ws),
    steps,
    sampler,
    seed,
    cancelled,
    onStep,
  });
  const ms = performance.now() - t0;
  let png: Buffer;
  if (isToy) {
    const panels: { points: Float32Array; labels: Int32Array }[] = [];
    for (let ci = 0; ci < classes.length; ci++) {
      for (let wi = 0; wi < cols; wi++) {
        const pts: number[] = [];
        for (let k = 0; k < per; k++) {
          const i = (ci * per + k) * cols + wi;
          pts.push(x[2 * i], x[2 * i + 1]);
        }
        panels.push({ points: Float32Array.from(pts), labels: new Int32Array(per).fill(classes[ci]) });
      }
    }
    png = gridOfScatters(panels, { rows: classes.length, cols, size: 160, radius: 1.5 });
  } else {
    const [h, wd, c] = outputShape(d);
    png = imageGridPng(x, { n: cls.length, h, w: wd, c, rows, cols, pad: 2, scale: Math.max(1, Math.round(48 / h)) });
  }
  return { png, nfe, ms, count: cls.length, rows: isToy ? classes.length : rows, cols };
}
