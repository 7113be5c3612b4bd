/**
 * The engine as the CLI loads it: lazily, so `distill list`, the help and usage errors stay instant; and the folder
 * of the wasm binaries, which ship next to the bundle.
 */
import * as path from 'path';
import type { DataConfig } from '../engine/data/types';

export async function engine() {
  return import('../engine/index');
}

/** dist/wasm: the tfjs wasm binaries beside the bundled CLI. */
export function wasmDir(): string {
  return path.join(__dirname, 'wasm');
}

/**
 * " on wasm 4.22.0 (2 threads, SIMD)" or " on webgpu 4.22.0 · NVIDIA GeForce RTX 4070 (GPU)": what the times just
 * printed were measured on. The backend's warning (an emulated GPU) goes to stderr.
 */
export async function onDevice(): Promise<string> {
  const { selectedBackend } = await engine();
  const { backendLabel } = await import('../engine/run/events');
  const info = await selectedBackend();
  if (!info) return '';
  if (info.warning) process.stderr.write(`warning: ${info.warning}\n`);
  return ` on ${backendLabel(info)}`;
}

/** Installs, with a message, the npm package a data kind reads when it is missing (the emoji sprites). */
export async function ensureData(data: DataConfig): Promise<void> {
  const { ensureDataPackage } = await import('../launcher/data-package');
  await ensureDataPackage(data, { log: (line) => console.log(line) });
}

export async function ensureRunData(runDir: string): Promise<void> {
  const { loadRunConfig } = await engine();
  await ensureData(loadRunConfig(runDir).data);
}
