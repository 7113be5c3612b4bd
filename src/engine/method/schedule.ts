/**
 * The cosine log-SNR schedule and the quantities derived from it (docs/method.md, "Schedule").
 * Pure functions over numbers; the tensor versions live in diffusion.ts.
 */
export interface Schedule {
  logSnrMin: number;
  logSnrMax: number;
}

export const DEFAULT_SCHEDULE: Schedule = { logSnrMin: -20, logSnrMax: 20 };

export function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** λ(t) = −2·log(tan(a·t + b)), b = atan(exp(−λmax/2)), a = atan(exp(−λmin/2)) − b. */
export function logSnr(t: number, { logSnrMin, logSnrMax }: Schedule = DEFAULT_SCHEDULE): number {
  if (!(t >= 0 && t <= 1)) throw new Error(`logSnr: t must be in [0, 1], got ${t}`);
  const b = Math.atan(Math.exp(-logSnrMax / 2));
  const a = Math.atan(Math.exp(-logSnrMin / 2)) - b;
  return -2 * Math.log(Math.tan(a * t + b));
}

/** α_t = sqrt(sigmoid(λ)). */
export function alpha(lambda: number): number {
  return Math.sqrt(sigmoid(lambda));
}

/** σ_t = sqrt(sigmoid(−λ)). */
export function sigma(lambda: number): number {
  return Math.sqrt(sigmoid(-lambda));
}

/** σ_s/σ_t computed in log space: exp(0.5·(softplus(λ_t) − softplus(λ_s))). */
export function sigmaRatio({ lambdaS, lambdaT }: { lambdaS: number; lambdaT: number }): number {
  return Math.exp(0.5 * (softplus(lambdaT) - softplus(lambdaS)));
}

/** α_s/α_t in log space: log α² = −softplus(−λ). */
export function alphaRatio({ lambdaS, lambdaT }: { lambdaS: number; lambdaT: number }): number {
  return Math.exp(0.5 * (softplus(-lambdaT) - softplus(-lambdaS)));
}

/** Times of an N-step sampler: t_i = i/N for i = N..0. */
export function samplerTimes(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`sampler steps must be a positive integer, got ${steps}`);
  const out: number[] = [];
  for (let i = steps; i >= 0; i--) out.push(i / steps);
  return out;
}
