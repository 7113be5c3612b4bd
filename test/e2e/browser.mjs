// Playwright helpers shared by the e2e scripts: Debian's chromium (never a downloaded browser), a throw-away
// profile + HOME, a log of every request that leaves the test server, and small VS Code workbench actions.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--disable-default-apps',
  '--disable-domain-reliability',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Launch chromium against a test server. Every request whose host is not the server's goes to
 * `external` (and the console): an offline test must make none.
 */
export async function launch(baseUrl, { viewport = { width: 1400, height: 900 }, log = console.log } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found; run: bash test/e2e/install.sh`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // chromium writes ~/.config/chromium and ~/.cache/dconf even with a profile dir: give it its own HOME.
    env: {
      ...process.env,
      HOME: profile,
      XDG_CONFIG_HOME: path.join(profile, '.config'),
      XDG_CACHE_HOME: path.join(profile, '.cache'),
    },
    args: CHROMIUM_ARGS,
    viewport,
  });
  const host = new URL(baseUrl).host;
  const external = [];
  const httpErrors = [];
  // Webview resources (asWebviewUri) are addressed as https://*.vscode-resource.vscode-cdn.net/… but the
  // webview's service worker answers them from the extension host: such responses never touch the network.
  // Every other request to another host (answered, failed or never finished) counts as leaving the server.
  const pending = new Map();
  const isExternal = (r) => {
    let u;
    try {
      u = new URL(r.url());
    } catch {
      return false;
    }
    // data:, blob:, vscode-file: … stay inside the browser; http(s) / ws(s) to another host leave it.
    return /^(https?|wss?):$/.test(u.protocol) && u.host !== host;
  };
  const leaked = (r, how) => {
    external.push(`${r.method()} ${r.url()} (${how})`);
    log(`[external request] ${r.method()} ${r.url().slice(0, 300)} (${how})`);
  };
  context.on('request', (r) => {
    if (isExternal(r)) pending.set(r, Date.now());
  });
  context.on('requestfinished', async (r) => {
    if (!pending.delete(r)) return;
    const resp = await r.response().catch(() => null);
    if (!resp || !resp.fromServiceWorker()) leaked(r, `answered ${resp ? resp.status() : '?'} from the network`);
  });
  context.on('requestfailed', (r) => {
    if (!pending.delete(r)) return;
    leaked(r, `failed: ${r.failure()?.errorText}`);
  });
  context.on('response', (r) => {
    if (r.status() >= 400) httpErrors.push(`${r.status()} ${r.url()}`);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
    for (const r of pending.keys()) leaked(r, 'never finished');
    pending.clear();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, external, httpErrors, close };
}

/** Poll `fn` until it returns a truthy value; throw `what` (with the last value/error) after `timeout` ms. */
export async function poll(what, fn, { timeout = 30_000, interval = 250 } = {}) {
  const until = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      const detail = last instanceof Error ? last.message.split('\n')[0] : JSON.stringify(last);
      throw new Error(`timed out after ${timeout / 1000}s waiting for ${what} (last: ${detail})`);
    }
    await sleep(interval);
  }
}

/** The workbench URL for a folder, optionally with a payload (extensionDevelopmentPath …). */
export function workbenchUrl(baseUrl, folder, payload) {
  let u = `${baseUrl}/?folder=${encodeURIComponent(path.resolve(folder))}`;
  if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}

export async function openWorkbench(page, url) {
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
}

/** F1 → type the command → wait for the row → Enter. */
export async function runCommand(page, title, { timeout = 20_000 } = {}) {
  const widget = page.locator('.quick-input-widget');
  // Escape whatever quick input / menu is open, then focus the workbench.
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = widget.locator('.quick-input-box input').first();
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(`>${title}`);
  const row = widget.locator('.monaco-list-row', { hasText: title }).first();
  await poll(
    `command palette entry "${title}"`,
    async () => {
      const label = await row.getAttribute('aria-label', { timeout: 1000 }).catch(() => null);
      return label && label.includes(title);
    },
    { timeout },
  );
  await page.keyboard.press('Enter');
}

/** The visible quick pick (after a command asked for something); returns its rows' texts. */
export async function quickPickRows(page, { timeout = 20_000 } = {}) {
  const widget = page.locator('.quick-input-widget');
  return poll(
    'a quick pick with rows',
    async () => {
      if (!(await widget.isVisible())) return null;
      const rows = await widget.locator('.monaco-list-row').allInnerTexts();
      return rows.length ? rows : null;
    },
    { timeout },
  );
}

/** Text of every notification toast currently shown. */
export async function notifications(page) {
  return page
    .locator('.notification-toast .notification-list-item-message')
    .allInnerTexts()
    .catch(() => []);
}
