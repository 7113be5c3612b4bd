import * as fs from 'fs';
import * as zlib from 'zlib';

export const IDX_MAGIC_IMAGES = 0x00000803;
export const IDX_MAGIC_LABELS = 0x00000801;

export interface IdxArray {
  magic: number;
  dims: number[];
  /** Unsigned-byte payload (length = product of dims). */
  data: Uint8Array;
}

function hex(m: number): string {
  return '0x' + (m >>> 0).toString(16).padStart(8, '0');
}

/** Gunzips `buf` when it starts with the gzip magic 1f 8b; `name` is used in error messages. */
export function maybeGunzip(buf: Buffer, name: string): Buffer {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return zlib.gunzipSync(buf);
    } catch (e) {
      throw new Error(`${name}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  return buf;
}

/**
 * Parses an IDX buffer (already gunzipped) holding unsigned bytes and checks
 * its magic number against `expectedMagic`.
 */
export function parseIdx(buf: Buffer | Uint8Array, name: string, expectedMagic: number): IdxArray {
  const what = expectedMagic === IDX_MAGIC_IMAGES ? 'unsigned-byte image file' : 'unsigned-byte label file';
  if (buf.length < 4) {
    throw new Error(`${name}: truncated IDX file (${buf.length} bytes, header needs at least 4)`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new Error(`${name}: wrong IDX magic ${hex(magic)}, expected ${hex(expectedMagic)} (${what})`);
  }
  const ndim = magic & 0xff;
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen) {
    throw new Error(`${name}: truncated IDX file (${buf.length} bytes, header needs ${headerLen})`);
  }
  const dims: number[] = [];
  let total = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    total *= d;
  }
  if (buf.length < headerLen + total) {
    throw new Error(
      `${name}: truncated IDX file: header declares dims [${dims.join(', ')}] = ${total} bytes of data, ` +
        `but only ${buf.length - headerLen} are present`,
    );
  }
  const data = new Uint8Array(buf.buffer, buf.byteOffset + headerLen, total);
  return { magic, dims, data };
}

/** Reads (and gunzips if needed) an IDX file from disk, checking its magic. */
export function readIdxFile(file: string, expectedMagic: number, field: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${field}: file not found: ${file}`);
    throw new Error(`${field}: cannot read ${file}: ${(e as Error).message}`);
  }
  return parseIdx(maybeGunzip(buf, file), file, expectedMagic);
}

/** Encodes an unsigned-byte IDX buffer (used by tests and export tools). */
export function encodeIdx(data: Uint8Array, dims: number[]): Buffer {
  const total = dims.reduce((a, b) => a * b, 1);
  if (total !== data.length)
    throw new Error(`encodeIdx: dims [${dims.join(', ')}] need ${total} bytes, got ${data.length}`);
  const buf = Buffer.alloc(4 + 4 * dims.length + total);
  buf.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, 4 + 4 * dims.length);
  return buf;
}
