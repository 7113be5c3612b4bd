// Start / stop a real VS Code server (the plain server inside the npm package code-server, installed by
// test/e2e/install.sh) for the end-to-end tests: loopback only, a free port, no connection token, no auth,
// the smoke-test driver enabled (needed for the extensionDevelopmentPath/extensionTestsPath URL payload),
// no extension gallery, telemetry off, and HOME / XDG_* / TMPDIR isolated under the run folder.
//
// API:   const srv = await startServer({ runDir, workspace, vsix: [paths] });  … await srv.stop();
//        srv.baseUrl, srv.port, srv.pid, srv.logFile, srv.env (the isolated env), srv.extensionsDir
// CLI:   node test/e2e/server.mjs start RUN_DIR WORKSPACE [VSIX…]   (prints the URL, leaves it running)
//        node test/e2e/server.mjs stop RUN_DIR
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE = process.env.E2E_CACHE || path.join(REPO, '.e2e');
export const CODE_SERVER_DIR = path.join(CACHE, 'code-server');
export const SERVER_MAIN = path.join(CODE_SERVER_DIR, 'node_modules/code-server/lib/vscode/out/server-main.js');

const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'npm.autoDetect': 'off',
  'typescript.disableAutomaticTypeAcquisition': true,
  'workbench.enableExperiments': false,
  'chat.commandCenter.enabled': false,
};

/** A free TCP port on 127.0.0.1 (the OS picks one; a tiny race with other processes is accepted). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function isolatedEnv(runDir) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(VSCODE_|ELECTRON_)/.test(k)) delete env[k];
  Object.assign(env, {
    HOME: path.join(runDir, 'home'),
    XDG_CONFIG_HOME: path.join(runDir, 'xdg/config'),
    XDG_DATA_HOME: path.join(runDir, 'xdg/data'),
    XDG_CACHE_HOME: path.join(runDir, 'xdg/cache'),
    TMPDIR: path.join(runDir, 'tmp'),
    EXTENSIONS_GALLERY: '{}', // no marketplace / open-vsx
  });
  for (const k of ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'TMPDIR'])
    fs.mkdirSync(env[k], { recursive: true });
  return env;
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(0);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stop the server whose pid is in RUN_DIR/server.pid: TERM, then KILL its process group after 15 s.
 * Returns the processes that were still alive after 15 s (`ps` lines), which had to be killed.
 */
export async function stopServer(runDir) {
  runDir = path.resolve(runDir);
  const pidFile = path.join(runDir, 'server.pid');
  let survivors = [];
  if (!fs.existsSync(pidFile)) return { survivors };
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  if (pid > 1) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    const until = Date.now() + 15_000;
    while (groupAlive(pid) && Date.now() < until) await sleep(100);
    if (groupAlive(pid)) {
      // Whatever ignored the shutdown (an orphaned worker, a hung extension host) is named, then killed.
      const r = spawnSync('ps', ['-o', 'pid=,args=', '-g', String(pid)], { encoding: 'utf8' });
      survivors = (r.stdout || '')
        .split('\n')
        .map((l) => l.trim().slice(0, 200))
        .filter(Boolean);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  // Processes that left the group (setsid / detached children) but still run code from this server's folders.
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  for (const line of (r.stdout || '').split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || Number(m[1]) === process.pid || !m[2].includes(runDir + path.sep)) continue;
    survivors.push(`${m[1]} ${m[2].slice(0, 200)} (outside the server's process group)`);
    try {
      process.kill(Number(m[1]), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(pidFile, { force: true });
  return { survivors };
}

/**
 * Install the given .vsix files into a fresh extensions dir, then start the server.
 * `trust: true` turns Workspace Trust on (folders start untrusted, in Restricted Mode, with no prompt); by default it is off.
 * @param {{runDir: string, workspace?: string, vsix?: string[], port?: number, timeoutMs?: number, trust?: boolean}} o
 */
export async function startServer({ runDir, workspace, vsix = [], port, timeoutMs = 60_000, trust = false }) {
  if (!fs.existsSync(SERVER_MAIN))
    throw new Error(`VS Code server not installed (${SERVER_MAIN}); run: bash test/e2e/install.sh`);
  runDir = path.resolve(runDir);
  await stopServer(runDir); // a left-over server from an interrupted run of the same folder
  const dirs = {
    ud: path.join(runDir, 'user-data'),
    ext: path.join(runDir, 'extensions'),
    sd: path.join(runDir, 'server-data'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  if (workspace) fs.mkdirSync(workspace, { recursive: true });
  const env = isolatedEnv(runDir);
  // The plain VS Code server keeps the web client's user settings in the browser; settings that apply to
  // the remote side are read from <server-data-dir>/data/Machine/settings.json. Write both.
  for (const f of [path.join(dirs.ud, 'User/settings.json'), path.join(dirs.sd, 'data/Machine/settings.json')]) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const settings = trust
      ? {
          ...SETTINGS,
          'security.workspace.trust.enabled': true,
          'security.workspace.trust.startupPrompt': 'never',
          'security.workspace.trust.banner': 'never',
        }
      : SETTINGS;
    fs.writeFileSync(f, JSON.stringify(settings, null, 2));
  }
  const base = [
    SERVER_MAIN,
    '--accept-server-license-terms',
    '--server-data-dir',
    dirs.sd,
    '--user-data-dir',
    dirs.ud,
    '--extensions-dir',
    dirs.ext,
  ];
  for (const v of vsix) {
    const r = spawnSync(process.execPath, [...base, '--force', '--install-extension', path.resolve(v)], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    if (r.status !== 0 || /failed|error/i.test(out))
      throw new Error(`installing ${v} failed (exit ${r.status}):\n${out}`);
  }
  port = port || (await freePort());
  const logFile = path.join(runDir, 'server.log');
  const log = fs.openSync(logFile, 'w');
  const t0 = Date.now();
  // detached = setsid: the server, its file watcher and extension hosts share one process group to stop.
  const child = spawn(
    process.execPath,
    [
      ...base,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--without-connection-token',
      '--enable-smoke-test-driver',
      '--disable-telemetry',
      ...(trust ? [] : ['--disable-workspace-trust']),
      '--log',
      process.env.E2E_SERVER_LOG_LEVEL || 'info',
    ],
    { env, detached: true, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(path.join(runDir, 'server.pid'), String(child.pid));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (;;) {
    if ((await get(`${baseUrl}/`)) === 200) break;
    if (!alive(child.pid) || child.exitCode !== null) {
      throw new Error(`VS Code server exited during start-up:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      await stopServer(runDir);
      throw new Error(
        `VS Code server did not answer on ${baseUrl} within ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`,
      );
    }
    await sleep(100);
  }
  return {
    baseUrl,
    port,
    pid: child.pid,
    runDir,
    logFile,
    env,
    extensionsDir: dirs.ext,
    startupMs: Date.now() - t0,
    stop: () => stopServer(runDir),
  };
}

// ------------------------------------------------------------------------- CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, runDir, workspace, ...vsix] = process.argv.slice(2);
  if (cmd === 'start' && runDir && workspace) {
    const s = await startServer({ runDir, workspace, vsix });
    console.log(
      `VS Code server pid ${s.pid} on ${s.baseUrl}/?folder=${encodeURIComponent(path.resolve(workspace))} (up in ${s.startupMs} ms, log ${s.logFile})`,
    );
  } else if (cmd === 'stop' && runDir) {
    await stopServer(runDir);
  } else {
    console.error('usage: node test/e2e/server.mjs start RUN_DIR WORKSPACE [VSIX…] | stop RUN_DIR');
    process.exit(2);
  }
}
