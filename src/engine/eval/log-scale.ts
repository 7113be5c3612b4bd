/**
 * When a plot's value axis is drawn on a log scale, for report.md's PNG plots and the editor's Report view alike:
 * once the positive values span more than a factor of 10, a linear axis would press the small ones flat.
 * No imports: the webview bundles it too.
 */

/** Whether the finite values are all > 0 and span more than a factor of 10 (at least two of them). */
export function spansDecade(values: number[]): boolean {
  const ys = values.filter(Number.isFinite);
  return ys.length > 1 && ys.every((y) => y > 0) && Math.max(...ys) > 10 * Math.min(...ys);
}
