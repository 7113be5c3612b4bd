/**
 * Minimal NumPy .npy (format version 1.0) writer/reader for float32 and int32
 * arrays in C order, little-endian ('<f4' / '<i4').
 */

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function shapeTuple(shape: number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * Encodes `data` with the given shape as a v1.0 .npy file. The header dict is
 * written exactly as NumPy does ("{'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), }"), space-padded and terminated by "\n" so that the data
 * starts at a multiple of 64 bytes; the result is byte-identical to numpy.save.
 */
export function encodeNpy(data: Float32Array | Int32Array, shape: number[]): Buffer {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`encodeNpy: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] holds ${count} elements but data has ${data.length}`);
  }
  let descr: string;
  if (data instanceof Float32Array) descr = '<f4';
  else if (data instanceof Int32Array) descr = '<i4';
  else throw new Error('encodeNpy: data must be a Float32Array or Int32Array');
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeTuple(shape)}, }`;
  // Like NumPy (>= 1.23), reserve room for the first axis to grow in place
  // (GROWTH_AXIS_MAX_DIGITS = 21), then pad so that magic + length + header is
  // a multiple of 64 (ARRAY_ALIGN), the header ending in "\n".
  const growth = shape.length > 0 ? ' '.repeat(Math.max(0, 21 - String(shape[0]).length)) : '';
  const hlen = dict.length + growth.length + 1;
  const padlen = 64 - ((MAGIC.length + 4 + hlen) % 64);
  const headerLen = hlen + padlen;
  if (headerLen > 0xffff) throw new Error('encodeNpy: header too long for format version 1.0');
  const header = dict + growth + ' '.repeat(padlen) + '\n';
  const total = MAGIC.length + 4 + headerLen;
  const out = Buffer.alloc(total + data.length * 4);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLen, 8);
  out.write(header, 10, 'latin1');
  const view = new DataView(out.buffer, out.byteOffset + total, data.length * 4);
  if (descr === '<f4') for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  else for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i], true);
  return out;
}

/**
 * Decodes a .npy buffer (versions 1.x–3.x) holding '<f4' or '<i4' data in C order.
 */
export function decodeNpy(buf: Buffer | Uint8Array): {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: '<f4' | '<i4';
} {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) throw new Error('decodeNpy: not a .npy file (bad magic)');
  const major = b[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = b.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (b.length < 12) throw new Error('decodeNpy: truncated header');
    headerLen = b.readUInt32LE(8);
    start = 12;
  } else {
    throw new Error(`decodeNpy: unsupported format version ${major}.${b[7]}`);
  }
  if (b.length < start + headerLen) throw new Error('decodeNpy: truncated header');
  const header = b.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descrM = /'descr'\s*:\s*'([^']+)'/.exec(header);
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortranM || !shapeM) throw new Error(`decodeNpy: malformed header ${JSON.stringify(header)}`);
  const dtype = descrM[1];
  if (dtype !== '<f4' && dtype !== '<i4')
    throw new Error(`decodeNpy: unsupported dtype ${dtype} (expected '<f4' or '<i4')`);
  if (fortranM[1] === 'True') throw new Error('decodeNpy: fortran_order arrays are not supported');
  const shape = shapeM[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (!shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new Error(`decodeNpy: bad shape in header ${JSON.stringify(header)}`);
  const count = shape.reduce((a, c) => a * c, 1);
  const off = start + headerLen;
  if (b.length < off + count * 4) {
    throw new Error(`decodeNpy: truncated data (need ${count * 4} bytes, have ${b.length - off})`);
  }
  const view = new DataView(b.buffer, b.byteOffset + off, count * 4);
  if (dtype === '<f4') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    return { data, shape, dtype };
  }
  const data = new Int32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getInt32(i * 4, true);
  return { data, shape, dtype };
}
