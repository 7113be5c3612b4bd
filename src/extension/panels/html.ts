/**
 * The HTML shell of both webviews: a strict Content-Security-Policy (nothing remote, scripts only by nonce,
 * styles from the extension or by nonce; the bundles adopt their CSS as constructable stylesheets) and one script.
 * Pure string building (no `vscode` import), so it is unit-tested directly.
 */
import { randomBytes } from 'crypto';

export interface WebviewHtmlOptions {
  /** `webview.cspSource` */
  cspSource: string;
  nonce: string;
  /** `webview.asWebviewUri(dist/webview/<name>.js)` as a string. */
  scriptUri: string;
  title: string;
}

/** 128 random bits, base64url: valid in a CSP nonce and in an HTML attribute without escaping. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    `connect-src 'none'`,
    `form-action 'none'`,
    `base-uri 'none'`,
    `frame-src 'none'`,
  ].join('; ');
}

export function escapeHtml(s: string): string {
  // Attribute values are always double-quoted, so single quotes (as in 'none') stay readable.
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

export function buildWebviewHtml(o: WebviewHtmlOptions): string {
  if (!/^[A-Za-z0-9_-]{16,}$/.test(o.nonce)) throw new Error('webview nonce must be at least 16 base64url characters');
  const csp = contentSecurityPolicy(o.cspSource, o.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(o.title)}</title>
</head>
<body>
<script nonce="${o.nonce}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>
`;
}
