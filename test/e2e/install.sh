#!/usr/bin/env bash
# Installs everything the end-to-end tests (test/e2e/run.mjs) need on a fresh Debian machine, as root,
# with only the npm registry and Debian's apt reachable:
#   - Debian packages: chromium (the browser Playwright drives), ripgrep (seeds @vscode/ripgrep, used by
#     VS Code's search), libkrb5-dev + build-essential + python3 (native modules of the VS Code server),
#     fonts-liberation (readable screenshots), libvulkan1 (the Vulkan loader: with chromium's SwiftShader driver it
#     gives Dawn a software WebGPU adapter for the unit tests of the webgpu backend).
#   - code-server (a real VS Code server + web workbench, from npm) into $E2E_CACHE/code-server
#     (default: <repo>/.e2e/code-server, gitignored).
#   - the repo's own node_modules (playwright-core, vsce, esbuild ...) if missing.
# Idempotent: every step is skipped when already done, so a second run takes a second or two.
# Env: E2E_CACHE (cache folder), CODE_SERVER_VERSION (default 4.100.3), E2E_SKIP_APT=1 (never call apt).
# --apt-only: the Debian packages only (what the unit suites need; `npm test` runs this first).
set -euo pipefail
t0=$(date +%s)
lap() { echo "[e2e install $(( $(date +%s) - t0 ))s] $*"; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${E2E_CACHE:-$REPO/.e2e}; mkdir -p "$CACHE"
# 4.100.3 (VS Code 1.100.3) is the newest code-server whose engines.node is 20: 4.101+ needs Node 22/24,
# 4.96.x pulls a git dependency from GitHub.
VERSION=${CODE_SERVER_VERSION:-4.100.3}
DEST="$CACHE/code-server"
STAMP="$DEST/.installed-$VERSION"

# ---------------------------------------------------------------- Debian packages
APT_PKGS=(chromium libvulkan1 ripgrep libkrb5-dev fonts-liberation build-essential python3)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "${E2E_SKIP_APT:-}" ]; then echo "missing Debian packages: ${missing[*]} (E2E_SKIP_APT set)"; exit 1; fi
  [ "$(id -u)" = 0 ] || { echo "missing Debian packages ${missing[*]}: run this script as root"; exit 1; }
  lap "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${APT_PKGS[@]}" > "$CACHE.apt.log" 2>&1 \
    || { mkdir -p "$CACHE"; cat "$CACHE.apt.log"; exit 1; }
  rm -f "$CACHE.apt.log"
else
  lap "Debian packages present"
fi
test -x /usr/bin/chromium || { echo "/usr/bin/chromium missing after apt install"; exit 1; }
command -v rg > /dev/null || { echo "rg missing after apt install"; exit 1; }
[ "${1:-}" = --apt-only ] && exit 0

# ---------------------------------------------------------------- Node
node -e 'if (+process.versions.node.split(".")[0] < 20) { console.error("Node >= 20 needed, have " + process.version); process.exit(1) }'

# ---------------------------------------------------------------- repo node_modules
if [ ! -f "$REPO/node_modules/playwright-core/package.json" ] || [ ! -x "$REPO/node_modules/.bin/vsce" ]; then
  lap "npm ci in $REPO (playwright-core / vsce missing)"
  (cd "$REPO" && npm ci --no-audit --no-fund)
else
  lap "repo node_modules present"
fi
# Never `npx playwright install`: the browser is Debian's chromium.

# ---------------------------------------------------------------- code-server
verify() {
  (cd "$DEST/node_modules/code-server/lib/vscode" && node -e '
    for (const m of ["node-pty", "@vscode/spdlog", "kerberos"]) require(m);
    let rg; try { rg = require("@vscode/ripgrep").rgPath; } catch { rg = require("@vscode/ripgrep-universal").rgPath; }
    require("fs").accessSync(rg, require("fs").constants.X_OK);
    require("fs").accessSync("out/server-main.js");')
}
if [ -f "$STAMP" ] && verify 2> /dev/null; then
  lap "code-server $VERSION already installed in $DEST"
else
  lap "installing code-server $VERSION into $DEST"
  rm -f "$DEST"/.installed-*
  mkdir -p "$DEST/tmp"
  export TMPDIR="$DEST/tmp"
  # @vscode/ripgrep's postinstall downloads rg from GitHub unless the release asset is already in
  # $TMPDIR/vscode-ripgrep-cache-<its version>/: seed that cache with Debian's rg.
  RG_PKG_VERSION=1.15.11                                     # pinned in code-server 4.100.3's lib/vscode
  RG_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
  rgcache="$TMPDIR/vscode-ripgrep-cache-$RG_PKG_VERSION"
  if [ ! -f "$rgcache/$RG_ASSET" ]; then
    mkdir -p "$rgcache" "$TMPDIR/rg-src"
    cp "$(command -v rg)" "$TMPDIR/rg-src/rg"
    tar czf "$rgcache/$RG_ASSET" -C "$TMPDIR/rg-src" rg
  fi
  cd "$DEST"
  [ -f package.json ] || echo '{"name":"diffusion-distiller-e2e-host","private":true,"version":"0.0.0"}' > package.json
  # code-server's postinstall refuses root under npm unless unsafe_perm.
  export npm_config_unsafe_perm=true
  # npm 11 blocks dependency install scripts; code-server's postinstall runs a nested npm install in
  # lib/vscode whose native modules (node-pty, spdlog, kerberos ...) need theirs.
  export npm_config_dangerously_allow_all_scripts=true
  # node-pty's postinstall runs `npx node-gyp`: npx would cancel with yes=false.
  export npm_config_yes=true
  # Build native modules against the local Node headers (node-gyp would download them).
  export npm_config_nodedir=${npm_config_nodedir:-/usr}
  npm install --no-audit --no-fund --foreground-scripts "code-server@$VERSION" > "$DEST/install.log" 2>&1 \
    || { tail -60 "$DEST/install.log"; echo "code-server install failed, full log: $DEST/install.log"; exit 1; }
  verify || { echo "code-server installed but its native modules / ripgrep do not load"; exit 1; }
  rm -rf "$DEST/tmp"
  touch "$STAMP"
fi
XDG_CONFIG_HOME="$DEST/xdg/config" XDG_DATA_HOME="$DEST/xdg/data" \
  node "$DEST/node_modules/code-server/lib/vscode/out/server-main.js" --version 2>/dev/null | head -1 \
  | sed 's/^/VS Code server /'
lap "done"
