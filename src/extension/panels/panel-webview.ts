/** Pieces shared by the two panels: webview options, HTML, path keys. */
import * as path from 'path';
import * as vscode from 'vscode';
import { asHostToWebview, asWebviewToHost, HostToWebview, WebviewToHost } from '../../protocol';
import { buildWebviewHtml, makeNonce } from './html';

/**
 * Scripts on; resources only from the extension's bundles and media, and the run folder (sample PNGs) — or each of
 * the folders a Compare view shows.
 */
export function webviewOptions(
  extensionUri: vscode.Uri,
  runDir: string | readonly string[] | undefined,
): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  const roots = [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
  for (const d of typeof runDir === 'string' ? [runDir] : (runDir ?? [])) if (d) roots.push(vscode.Uri.file(d));
  return { enableScripts: true, localResourceRoots: roots, retainContextWhenHidden: false, enableFindWidget: false };
}

export function panelHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  bundle: 'dashboard' | 'preview' | 'compare',
  title: string,
): string {
  return buildWebviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`)).toString(),
    title,
  });
}

/** The identity of a run folder for create-or-reveal (resolved, case-insensitive where the file system is). */
export function runKey(runDir: string | undefined): string {
  if (!runDir) return '';
  const p = path.resolve(runDir);
  return process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Posts a message only if it passes the same validator the webview applies (catches drift in the host's own data). */
export function postValidated(webview: vscode.Webview, m: HostToWebview, warn: (s: string) => void, who: string): void {
  if (!asHostToWebview(m)) {
    warn(`${who}: not posting a malformed ${m.type} message`);
    return;
  }
  void webview.postMessage(m);
}

/** Validates a message from a webview; a malformed one is dropped and logged. */
export function receiveValidated(raw: unknown, warn: (s: string) => void, who: string): WebviewToHost | undefined {
  const m = asWebviewToHost(raw);
  if (!m) {
    const type = typeof raw === 'object' && raw !== null ? String((raw as { type?: unknown }).type) : typeof raw;
    warn(`${who}: dropped a malformed webview message (type ${type})`);
  }
  return m;
}
