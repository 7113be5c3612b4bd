/**
 * The TensorFlow.js backends a user can ask for, in the order the docs, the `distill.backend` setting and the config
 * schema list them. Imports nothing, so the CLI, the protocol and the webviews can use it without loading tfjs.
 * config.schema.json and package.json (`distill.backend`) repeat this list as JSON enums; a test keeps them equal.
 */
export const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu', 'tensorflow'] as const;

/** One of BACKENDS: `auto` (the fastest real device) or a backend by name. */
export type BackendChoice = (typeof BACKENDS)[number];

/** True when `value` names one of BACKENDS. */
export function isBackendChoice(value: unknown): value is BackendChoice {
  return (BACKENDS as readonly unknown[]).includes(value);
}
