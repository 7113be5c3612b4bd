/**
 * The toy config every test that trains a 2-D run starts from (imports nothing, so the VS Code suite bundles it too).
 */

type Config = Record<string, unknown>;

/** 2-D moons, a 16-wide MLP, wasm on one thread: all three stages in seconds, no sample grids while training. */
const TOY: Config = {
  name: 'toy',
  seed: 3,
  backend: 'wasm',
  threads: 1,
  data: { kind: 'toy2d', shape: 'moons', n: 256 },
  model: { kind: 'mlp', hidden: 16, depth: 1, embedDim: 16 },
  teacher: { steps: 400, batch: 32, lr: 0.001 },
  guided: { steps: 20, batch: 32, lr: 0.001 },
  progressive: { n0: 4, targetSteps: 2, steps: 10, batch: 32, lr: 0.001 },
  sampling: { interval: 0, teacherSteps: 4 },
  checkpoint: { interval: 50, keep: 2 },
  log: { interval: 5 },
};

/** Overrides for the toy of the CLI and sweep tests: four Gaussians, a 64-wide MLP, 8-step teacher grids. */
export const GAUSSIANS: Config = {
  seed: 2,
  data: { shape: 'gaussians', n: 1024 },
  model: { hidden: 64, depth: 2, embedDim: 32 },
  teacher: { steps: 300, batch: 64, lr: 0.002 },
  guided: { steps: 40, batch: 64 },
  progressive: { steps: 20, batch: 64 },
  sampling: { teacherSteps: 8 },
};

const isSection = (v: unknown): v is Config => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The toy config with `overrides` applied in order: a section given as an object (data, teacher, sampling, …) is
 * merged into the section so far, field by field; any other value replaces its key, and `undefined` removes it.
 * A fresh object each call.
 */
export function toyConfig(...overrides: Config[]): Config {
  const cfg: Config = structuredClone(TOY);
  for (const layer of overrides) {
    for (const [key, value] of Object.entries(layer)) {
      const current = cfg[key];
      if (value === undefined) delete cfg[key];
      else if (isSection(value) && isSection(current)) cfg[key] = { ...current, ...structuredClone(value) };
      else cfg[key] = structuredClone(value);
    }
  }
  return cfg;
}
