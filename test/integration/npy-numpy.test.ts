/**
 * .npy interoperability with a real numpy (/usr/bin/python3; .ci/run installs python3-numpy): numpy.load reads what
 * encodeNpy writes, value for value, and numpy.save of those arrays gives the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy } from '../../src/engine/io/npy';

const hasNumpy = (() => {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  return r.status === 0;
})();

test('numpy.load reads encodeNpy output exactly and numpy.save bytes match', () => {
  // never skipped: .ci/run installs python3-numpy; a machine without it fails here with what to install
  assert.ok(
    hasNumpy,
    'numpy not available (/usr/bin/python3 -c "import numpy" failed): apt-get install python3-numpy (as .ci/run does)',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
  try {
    const f = new Float32Array(24);
    for (let k = 0; k < f.length; k++) f[k] = Math.fround(Math.sin(k) * 1000) / 7;
    const i = Int32Array.from({ length: 6 }, (_, k) => (k - 3) * 100000007);
    const fFile = path.join(dir, 'f.npy');
    const iFile = path.join(dir, 'i.npy');
    fs.writeFileSync(fFile, encodeNpy(f, [2, 3, 4]));
    fs.writeFileSync(iFile, encodeNpy(i, [6]));
    const script = [
      'import numpy as np, sys, json, io',
      'a = np.load(sys.argv[1]); b = np.load(sys.argv[2])',
      'ra = io.BytesIO(); np.save(ra, a); rb = io.BytesIO(); np.save(rb, b)',
      'same = ra.getvalue() == open(sys.argv[1], "rb").read() and rb.getvalue() == open(sys.argv[2], "rb").read()',
      'print(json.dumps({"fs": a.shape, "fd": a.dtype.str, "fv": [float(v).hex() for v in a.ravel()],',
      '  "is": b.shape, "id": b.dtype.str, "iv": [int(v) for v in b], "same": same}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, fFile, iFile], { encoding: 'utf8' }));
    assert.deepEqual(out.fs, [2, 3, 4]);
    assert.equal(out.fd, '<f4');
    assert.deepEqual(
      out.fv.map((h: string) => Math.fround(parseHexFloat(h))),
      Array.from(f),
    );
    assert.deepEqual(out.is, [6]);
    assert.equal(out.id, '<i4');
    assert.deepEqual(out.iv, Array.from(i));
    assert.equal(out.same, true, 'numpy.save of the loaded arrays must reproduce our files byte for byte');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Parses Python's float.hex() output exactly. */
function parseHexFloat(s: string): number {
  const m = /^(-)?0x([01])\.([0-9a-f]*)p([+-]\d+)$/.exec(s);
  if (!m) {
    if (s === '0x0.0p+0') return 0;
    if (s === '-0x0.0p+0') return -0;
    throw new Error(`bad hex float ${s}`);
  }
  const mant = parseInt(m[2] + m[3], 16) / Math.pow(16, m[3].length);
  const v = mant * Math.pow(2, Number(m[4]));
  return m[1] ? -v : v;
}
