// `npm run package`: the universal .vsix (wasm, cpu and — when the user installs it — native TensorFlow; no Dawn).
// `npm run package -- --target linux-x64` (or linux-arm64, darwin-x64, darwin-arm64, win32-x64, win32-arm64, or
// `all`): a platform .vsix that also carries that platform's Dawn build (npm `webgpu`), so the webgpu backend works
// without any install. Dawn is staged as dist/node_modules/webgpu — index.js, package.json, LICENSE.md and
// dist/<dawn platform>/ (dawn.node; on Windows also the D3D shader compiler DLLs it loads from beside itself) — where
// the bundles' runtime `require.resolve('webgpu')` (src/engine/backend/webgpu.ts, loadDawn) finds it first.
// tfjs-backend-webgpu is bundled by esbuild. Every .vsix is checked after packing: exactly its platform's Dawn, or none.
//
//   node tools/package.mjs [--target T[,T…]|all] [--out FILE] [--no-build]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'diffusion-distiller';

/** VS Code target → the folder of the `webgpu` package that holds its Dawn build. */
export const DAWN_TARGETS = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'darwin-universal',
  'darwin-arm64': 'darwin-universal',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
};
/** VS Code targets Dawn has no build for (vsce accepts them; this script refuses them with the reason). */
const NO_DAWN = {
  'linux-armhf': 'Dawn ships no 32-bit ARM build',
  'alpine-x64': "Dawn's Linux builds need glibc (Alpine uses musl)",
  'alpine-arm64': "Dawn's Linux builds need glibc (Alpine uses musl)",
  web: 'a web extension cannot run the training worker',
};

export const STAGE = path.join('dist', 'node_modules', 'webgpu');

export function vsixName(target) {
  return target ? `${NAME}-${target}.vsix` : `${NAME}.vsix`;
}

/** The files of the `webgpu` package a target's .vsix carries: [source in node_modules, path inside the extension]. */
export function dawnFiles(target, root = REPO) {
  const folder = DAWN_TARGETS[target];
  if (!folder) {
    throw new Error(
      `${NO_DAWN[target] ? `no platform package for --target ${target}: ${NO_DAWN[target]}` : `unknown --target ${target}: not a VS Code target`}; ` +
        `targets with a Dawn build: ${Object.keys(DAWN_TARGETS).join(', ')} (or none, for the universal .vsix)`,
    );
  }
  const pkg = path.join(root, 'node_modules', 'webgpu');
  if (!fs.existsSync(path.join(pkg, 'package.json'))) {
    throw new Error(
      `node_modules/webgpu is missing (an optional dependency): run npm ci, or npm install webgpu, before packaging for ${target}`,
    );
  }
  const files = ['package.json', 'index.js', 'LICENSE.md'].filter((f) => fs.existsSync(path.join(pkg, f)));
  const dir = path.join(pkg, 'dist', folder);
  if (!fs.existsSync(path.join(dir, 'dawn.node')))
    throw new Error(`node_modules/webgpu/dist/${folder}/dawn.node is missing: reinstall the webgpu package`);
  for (const f of fs.readdirSync(dir).sort()) files.push(path.join('dist', folder, f));
  return files.map((f) => [path.join(pkg, f), path.join(STAGE, f)]);
}

/** Entry names of a .zip (the .vsix) from its central directory. */
export function zipEntries(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: corrupt central directory`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30);
    const comment = buf.readUInt16LE(p + 32);
    const offset = buf.readUInt32LE(p + 42);
    out.push({ name: buf.toString('utf8', p + 46, p + 46 + nameLen), size, compressed, method, offset });
    p += 46 + nameLen + extra + comment;
  }
  return out;
}

/** The contents of one entry of a .zip. */
export function zipRead(file, entry, buf = fs.readFileSync(file)) {
  const p = entry.offset;
  if (buf.readUInt32LE(p) !== 0x04034b50) throw new Error(`${file}: corrupt entry ${entry.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const data = buf.subarray(start, start + entry.compressed);
  if (entry.method === 0) return Buffer.from(data);
  if (entry.method === 8) return zlib.inflateRawSync(data);
  throw new Error(`${file}: ${entry.name} uses zip method ${entry.method}`);
}

/** Unpacks a .vsix (as VS Code installs it: the `extension/` folder becomes the extension's folder). */
export function extractVsix(file, dir) {
  const buf = fs.readFileSync(file);
  for (const e of zipEntries(file)) {
    if (e.name.endsWith('/')) continue;
    const to = path.resolve(dir, e.name);
    if (!to.startsWith(path.resolve(dir) + path.sep)) throw new Error(`${file}: entry ${e.name} points outside`);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, zipRead(file, e, buf));
  }
}

/** The target recorded in the .vsix manifest (extension.vsixmanifest's TargetPlatform), or undefined (universal). */
export function vsixTarget(file) {
  const entry = zipEntries(file).find((e) => e.name === 'extension.vsixmanifest');
  if (!entry) throw new Error(`${file} has no extension.vsixmanifest`);
  return /TargetPlatform="([^"]+)"/.exec(zipRead(file, entry).toString('utf8'))?.[1];
}

/** Throws unless the .vsix holds exactly the Dawn files of `target` (none for the universal one). */
export function checkVsix(file, target) {
  const names = zipEntries(file).map((e) => e.name);
  const dawn = names.filter((n) => n.startsWith('extension/dist/node_modules/'));
  const want = target
    ? dawnFiles(target)
        .map(([, to]) => `extension/${to.split(path.sep).join('/')}`)
        .sort()
    : [];
  const got = [...dawn].sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(
      `${path.basename(file)}: expected ${want.length ? want.join(', ') : 'no Dawn files'}, found ${got.length ? got.join(', ') : 'none'}`,
    );
  }
  if (names.some((n) => /\.node$/.test(n) && !want.includes(n)))
    throw new Error(`${path.basename(file)}: a native module that is not its Dawn build`);
  for (const must of [
    'extension/dist/extension.js',
    'extension/dist/worker.js',
    'extension/dist/wasm/tfjs-backend-wasm-simd.wasm',
  ]) {
    if (!names.includes(must)) throw new Error(`${path.basename(file)}: ${must} is missing`);
  }
  const manifestTarget = vsixTarget(file);
  if (manifestTarget !== target)
    throw new Error(
      `${path.basename(file)}: its manifest says target ${manifestTarget ?? '(universal)'}, expected ${target ?? '(universal)'}`,
    );
  return names;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.signal ?? `exit ${r.status}`})`);
}

/** Packs one .vsix (target undefined: universal). Returns its path and size. */
export function packageOne(target, out) {
  const stage = path.join(REPO, STAGE);
  fs.rmSync(path.join(REPO, 'dist', 'node_modules'), { recursive: true, force: true });
  const file = path.resolve(REPO, out ?? vsixName(target));
  try {
    if (target) {
      for (const [from, to] of dawnFiles(target)) {
        fs.mkdirSync(path.dirname(path.join(REPO, to)), { recursive: true });
        fs.copyFileSync(from, path.join(REPO, to));
      }
    }
    const vsce = path.join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce');
    // --no-rewrite-relative-links: the README's pictures (media/screenshots/, packaged) stay relative to the extension,
    // which is where VS Code's extension page looks for them; there is no repository URL to make them absolute.
    run(process.execPath, [
      vsce,
      'package',
      '--no-dependencies',
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
      ...(target ? ['--target', target] : []),
      '--out',
      file,
    ]);
  } finally {
    // The staged copy exists only while packing: a dev build keeps loading Dawn from node_modules.
    fs.rmSync(stage, { recursive: true, force: true });
    fs.rmSync(path.join(REPO, 'dist', 'node_modules'), { recursive: true, force: true });
  }
  checkVsix(file, target);
  return { file, bytes: fs.statSync(file).size };
}

function parseArgs(argv) {
  const o = { targets: [undefined], out: undefined, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--target' || a.startsWith('--target=')) {
      const v = value();
      o.targets =
        v === 'all'
          ? [undefined, ...Object.keys(DAWN_TARGETS)]
          : v
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean);
      for (const t of o.targets) if (t) dawnFiles(t); // fail before building
    } else if (a === '--out' || a.startsWith('--out=')) o.out = value();
    else if (a === '--no-build') o.build = false;
    else
      throw new Error(
        `unknown option ${a} (usage: node tools/package.mjs [--target T[,T…]|all] [--out FILE] [--no-build])`,
      );
  }
  if (o.out && o.targets.length > 1) throw new Error('--out names one file: give one --target');
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const o = parseArgs(process.argv.slice(2));
    if (o.build) run(process.execPath, [path.join(REPO, 'esbuild.mjs'), '--production']);
    const made = o.targets.map((t) => ({ target: t, ...packageOne(t, o.out) }));
    for (const m of made) {
      console.log(
        `${path.relative(process.cwd(), m.file)}: ${(m.bytes / 2 ** 20).toFixed(1)} MiB (${m.target ? `${m.target}, with Dawn from node_modules/webgpu/dist/${DAWN_TARGETS[m.target]}` : 'universal: wasm and cpu, no Dawn'})`,
      );
    }
  } catch (e) {
    console.error(`package: ${e.message}`);
    process.exit(1);
  }
}
