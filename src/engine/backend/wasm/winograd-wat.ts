/**
 * WAT source of the Winograd F(2×2, 3×3) transform kernels (winograd.ts), 4 channels per v128.
 * winograd-wasm.ts holds the assembled module (tools/gen-winograd.ts writes it; a unit test checks that
 * the embedded bytes are exactly what this source assembles to).
 *
 * The module imports the wasm backend's memory ("env"."memory"; shared for the threaded build) and has
 * no memory, globals or stack of its own: every argument is a byte offset or a count.
 *
 *  win_pad  the zero-padded copy of the input that win_in reads (memory.fill + one memory.copy per row)
 *  win_in   V[k][t][c] = (Bᵀ d B)[k]  for the 4×4 patch d of tile t of the zero-padded input [N, Hp, Wp, C]
 *  win_out  y (2×2 per tile) = Aᵀ M A,  M[k] [T, C] at 16 separate offsets, y [N, 2·th, 2·tw, C]
 *
 *  Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]],  Aᵀ = [[1,1,1,0],[0,1,−1,−1]].
 */
export function winogradWat(shared: boolean): string {
  const L: string[] = [];
  const p = (s: string) => L.push(s);
  p('(module');
  p(`  (import "env" "memory" (memory 1 65536${shared ? ' shared' : ''}))`);
  // ---- input transform: V[k][t][c] = (B^T d B)[k] for every 4x4 tile d of the padded input xp [N, Hp, Wp, C]
  // args: xp, rs (row bytes Wp*C*4), cs (C*4), c4 (C/4), n, th, tw, img (bytes Hp*Wp*C*4), v, plane (bytes T*C*4)
  p(
    '  (func (export "win_in") (param $xp i32) (param $rs i32) (param $cs i32) (param $c4 i32) (param $n i32) (param $th i32) (param $tw i32) (param $img i32) (param $v i32) (param $plane i32)',
  );
  const dl: string[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) dl.push(`$d${i}${j}`);
  const tl: string[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) tl.push(`$t${i}${j}`);
  p(
    '    (local $ni i32) (local $ty i32) (local $tx i32) (local $c i32) (local $rowp i32) (local $tp i32) (local $pp i32) (local $o i32) (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $cs2 i32) (local $cs3 i32) (local $q i32) (local $rs2 i32)',
  );
  p('    ' + [...dl, ...tl].map((n) => `(local ${n} v128)`).join(' '));
  p('    (local.set $cs2 (i32.shl (local.get $cs) (i32.const 1)))');
  p('    (local.set $cs3 (i32.add (local.get $cs2) (local.get $cs)))');
  p('    (local.set $rs2 (i32.shl (local.get $rs) (i32.const 1)))');
  p('    (local.set $o (local.get $v))');
  p('    (local.set $ni (i32.const 0))');
  p('    (block $bn (loop $ln (br_if $bn (i32.ge_u (local.get $ni) (local.get $n)))');
  p('      (local.set $rowp (i32.add (local.get $xp) (i32.mul (local.get $ni) (local.get $img))))');
  p('      (local.set $ty (i32.const 0))');
  p('      (block $by (loop $ly (br_if $by (i32.ge_u (local.get $ty) (local.get $th)))');
  p('        (local.set $tp (local.get $rowp))');
  p('        (local.set $tx (i32.const 0))');
  p('        (block $bx (loop $lx (br_if $bx (i32.ge_u (local.get $tx) (local.get $tw)))');
  p('          (local.set $pp (local.get $tp))');
  p('          (local.set $c (i32.const 0))');
  p('          (block $bc (loop $lc (br_if $bc (i32.ge_u (local.get $c) (local.get $c4)))');
  p('            (local.set $r1 (i32.add (local.get $pp) (local.get $rs)))');
  p('            (local.set $r2 (i32.add (local.get $r1) (local.get $rs)))');
  p('            (local.set $r3 (i32.add (local.get $r2) (local.get $rs)))');
  const rows = ['$pp', '$r1', '$r2', '$r3'];
  const cols = [null, '$cs', '$cs2', '$cs3'];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) {
      const addr = cols[j] ? `(i32.add (local.get ${rows[i]}) (local.get ${cols[j]}))` : `(local.get ${rows[i]})`;
      p(`            (local.set $d${i}${j} (v128.load ${addr}))`);
    }
  // t = B^T d : rows
  for (let j = 0; j < 4; j++) {
    p(`            (local.set $t0${j} (f32x4.sub (local.get $d0${j}) (local.get $d2${j})))`);
    p(`            (local.set $t1${j} (f32x4.add (local.get $d1${j}) (local.get $d2${j})))`);
    p(`            (local.set $t2${j} (f32x4.sub (local.get $d2${j}) (local.get $d1${j})))`);
    p(`            (local.set $t3${j} (f32x4.sub (local.get $d1${j}) (local.get $d3${j})))`);
  }
  // v = t B : columns; store v[i][j] to plane (4i+j)
  p('            (local.set $q (local.get $o))');
  for (let i = 0; i < 4; i++) {
    const e = [
      `(f32x4.sub (local.get $t${i}0) (local.get $t${i}2))`,
      `(f32x4.add (local.get $t${i}1) (local.get $t${i}2))`,
      `(f32x4.sub (local.get $t${i}2) (local.get $t${i}1))`,
      `(f32x4.sub (local.get $t${i}1) (local.get $t${i}3))`,
    ];
    for (let j = 0; j < 4; j++) {
      p(`            (v128.store (local.get $q) ${e[j]})`);
      if (i * 4 + j < 15) p('            (local.set $q (i32.add (local.get $q) (local.get $plane)))');
    }
  }
  p('            (local.set $pp (i32.add (local.get $pp) (i32.const 16)))');
  p('            (local.set $o (i32.add (local.get $o) (i32.const 16)))');
  p('            (local.set $c (i32.add (local.get $c) (i32.const 1)))');
  p('            (br $lc)))');
  p('          (local.set $tp (i32.add (local.get $tp) (local.get $cs2)))');
  p('          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))');
  p('          (br $lx)))');
  p('        (local.set $rowp (i32.add (local.get $rowp) (local.get $rs2)))');
  p('        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))');
  p('        (br $ly)))');
  p('      (local.set $ni (i32.add (local.get $ni) (i32.const 1)))');
  p('      (br $ln)))');
  p('  )');
  // ---- zero-padded copy: dst (zeroed here, `total` bytes) gets image b's row r of src at dst + b·img + off + r·drs
  // args: src, dst, total, n, h, rs (row bytes of src), drs (row bytes of dst), img (bytes per dst image), off
  p(
    '  (func (export "win_pad") (param $src i32) (param $dst i32) (param $total i32) (param $n i32) (param $h i32) (param $rs i32) (param $drs i32) (param $img i32) (param $off i32)',
  );
  p('    (local $b i32) (local $r i32) (local $d i32)');
  p('    (memory.fill (local.get $dst) (i32.const 0) (local.get $total))');
  p('    (local.set $b (i32.const 0))');
  p('    (block $bb (loop $lb (br_if $bb (i32.ge_u (local.get $b) (local.get $n)))');
  p(
    '      (local.set $d (i32.add (i32.add (local.get $dst) (i32.mul (local.get $b) (local.get $img))) (local.get $off)))',
  );
  p('      (local.set $r (i32.const 0))');
  p('      (block $br (loop $lr (br_if $br (i32.ge_u (local.get $r) (local.get $h)))');
  p('        (memory.copy (local.get $d) (local.get $src) (local.get $rs))');
  p('        (local.set $src (i32.add (local.get $src) (local.get $rs)))');
  p('        (local.set $d (i32.add (local.get $d) (local.get $drs)))');
  p('        (local.set $r (i32.add (local.get $r) (i32.const 1)))');
  p('        (br $lr)))');
  p('      (local.set $b (i32.add (local.get $b) (i32.const 1)))');
  p('      (br $lb)))');
  p('  )');
  // ---- output transform: y (2x2 per tile) = A^T M A, M[k] at 16 separate pointers, layout [t][c]
  // args: m0..m15, c4 (C/4), t (tiles), tw (tiles per row), y, yrs (row bytes of y: Wy*C*4 with Wy = 2*tw), cs (C*4)
  const ms: string[] = [];
  for (let k = 0; k < 16; k++) ms.push(`$m${k}`);
  p(
    '  (func (export "win_out") ' +
      ms.map((m) => `(param ${m} i32)`).join(' ') +
      ' (param $c4 i32) (param $t i32) (param $tw i32) (param $y i32) (param $yrs i32) (param $cs i32)',
  );
  p(
    '    (local $ti i32) (local $tx i32) (local $c i32) (local $off i32) (local $yp i32) (local $rowy i32) (local $yq i32) (local $yq2 i32)',
  );
  const sl: string[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) sl.push(`$s${i}${j}`);
  p('    ' + [...dl, ...sl].map((n) => `(local ${n} v128)`).join(' '));
  p('    (local.set $off (i32.const 0))');
  p('    (local.set $rowy (local.get $y))');
  p('    (local.set $tx (i32.const 0))');
  p('    (local.set $ti (i32.const 0))');
  p('    (block $bt (loop $lt (br_if $bt (i32.ge_u (local.get $ti) (local.get $t)))');
  p(
    '      (local.set $yp (i32.add (local.get $rowy) (i32.mul (local.get $tx) (i32.shl (local.get $cs) (i32.const 1)))))',
  );
  p('      (local.set $c (i32.const 0))');
  p('      (block $bc (loop $lc (br_if $bc (i32.ge_u (local.get $c) (local.get $c4)))');
  for (let k = 0; k < 16; k++) {
    const i = k >> 2,
      j = k & 3;
    p(`        (local.set $d${i}${j} (v128.load (i32.add (local.get $m${k}) (local.get $off))))`);
  }
  for (let j = 0; j < 4; j++) {
    p(
      `        (local.set $s0${j} (f32x4.add (f32x4.add (local.get $d0${j}) (local.get $d1${j})) (local.get $d2${j})))`,
    );
    p(
      `        (local.set $s1${j} (f32x4.sub (f32x4.sub (local.get $d1${j}) (local.get $d2${j})) (local.get $d3${j})))`,
    );
  }
  p('        (local.set $yq (local.get $yp))');
  p('        (local.set $yq2 (i32.add (local.get $yp) (local.get $yrs)))');
  for (let i = 0; i < 2; i++) {
    const dst = i === 0 ? '$yq' : '$yq2';
    p(
      `        (v128.store (local.get ${dst}) (f32x4.add (f32x4.add (local.get $s${i}0) (local.get $s${i}1)) (local.get $s${i}2)))`,
    );
    p(
      `        (v128.store (i32.add (local.get ${dst}) (local.get $cs)) (f32x4.sub (f32x4.sub (local.get $s${i}1) (local.get $s${i}2)) (local.get $s${i}3)))`,
    );
  }
  p('        (local.set $off (i32.add (local.get $off) (i32.const 16)))');
  p('        (local.set $yp (i32.add (local.get $yp) (i32.const 16)))');
  p('        (local.set $c (i32.add (local.get $c) (i32.const 1)))');
  p('        (br $lc)))');
  p('      (local.set $tx (i32.add (local.get $tx) (i32.const 1)))');
  p('      (if (i32.eq (local.get $tx) (local.get $tw)) (then');
  p('        (local.set $tx (i32.const 0))');
  p('        (local.set $rowy (i32.add (local.get $rowy) (i32.shl (local.get $yrs) (i32.const 1))))))');
  p('      (local.set $ti (i32.add (local.get $ti) (i32.const 1)))');
  p('      (br $lt)))');
  p('  )');

  p(')');
  return L.join('\n');
}
