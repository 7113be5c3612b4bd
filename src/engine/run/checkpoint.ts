/**
 * Checkpoint files: weights, EMA, Adam moments, step, RNG state and config hash in one file, written atomically
 * (temp file + rename) and verified on load (SHA-256 of the body), so a torn or corrupted file is detected, never used.
 *
 * Layout: "DDCKPT1\n" | uint32 LE header length | header JSON | body (float32 LE tensors, back to back).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { RngState } from '../random/rng';
import { writeFileAtomic } from './run-folder';

const MAGIC = Buffer.from('DDCKPT1\n', 'latin1');

export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface CheckpointHeader {
  unit: string;
  step: number;
  totalSteps: number;
  final: boolean;
  configHash: string;
  rng: RngState;
  /** Network kind and whether it takes w. */
  withW: boolean;
  /** Last logged loss (for display). */
  loss?: number;
  /** Autoencoder unit (final checkpoint): the factor that scales its encoder means to unit variance on the training data. */
  latentScale?: number;
  savedAt: number;
  tensors: TensorEntry[];
  sha256: string;
}

export type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

export function writeCheckpoint(
  file: string,
  header: Omit<CheckpointHeader, 'tensors' | 'sha256'>,
  arrays: NamedArrays,
): void {
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const [name, { shape, data }] of arrays) {
    tensors.push({ name, shape, offset, length: data.length });
    offset += data.length * 4;
  }
  const body = Buffer.alloc(offset);
  for (const t of tensors) {
    const src = arrays.get(t.name)!.data;
    Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(body, t.offset);
  }
  const sha256 = crypto.createHash('sha256').update(body).digest('hex');
  const head = Buffer.from(JSON.stringify({ ...header, tensors, sha256 }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  writeFileAtomic(file, Buffer.concat([MAGIC, len, head, body]));
}

export function readCheckpointHeader(file: string): CheckpointHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const pre = Buffer.alloc(12);
    if (fs.readSync(fd, pre, 0, 12, 0) < 12 || !pre.subarray(0, 8).equals(MAGIC)) {
      throw new Error(`${file}: not a Diffusion Distiller checkpoint (bad magic)`);
    }
    const n = pre.readUInt32LE(8);
    const head = Buffer.alloc(n);
    if (fs.readSync(fd, head, 0, n, 12) < n) throw new Error(`${file}: checkpoint is truncated (header)`);
    try {
      return JSON.parse(head.toString('utf8')) as CheckpointHeader;
    } catch {
      throw new Error(`${file}: checkpoint header is corrupt`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

export function readCheckpoint(file: string): { header: CheckpointHeader; arrays: NamedArrays } {
  const buf = fs.readFileSync(file);
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC))
    throw new Error(`${file}: not a Diffusion Distiller checkpoint (bad magic)`);
  const n = buf.readUInt32LE(8);
  if (12 + n > buf.length) throw new Error(`${file}: checkpoint is truncated (header)`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + n).toString('utf8')) as CheckpointHeader;
  } catch {
    throw new Error(`${file}: checkpoint header is corrupt`);
  }
  const body = buf.subarray(12 + n);
  const expected = header.tensors.reduce((s, t) => Math.max(s, t.offset + t.length * 4), 0);
  if (body.length !== expected)
    throw new Error(`${file}: checkpoint is truncated or padded (body ${body.length} bytes, expected ${expected})`);
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  if (sha !== header.sha256) throw new Error(`${file}: checkpoint is corrupt (checksum mismatch)`);
  const arrays: NamedArrays = new Map();
  for (const t of header.tensors) {
    const data = new Float32Array(t.length);
    Buffer.from(data.buffer).set(body.subarray(t.offset, t.offset + t.length * 4));
    arrays.set(t.name, { shape: t.shape, data });
  }
  return { header, arrays };
}
