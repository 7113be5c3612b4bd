/**
 * The webview side of the host channel: a typed wrapper around `acquireVsCodeApi()` (callable once per page),
 * validated incoming messages, persisted UI state, and the shared stylesheet (adopted, so the strict CSP needs no
 * inline styles).
 */
import type { HostToWebview, WebviewToHost } from '../src/protocol';
import { checkHostToWebview } from '../src/protocol';
import baseCss from './styles.css';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;
function vscodeApi(): VsCodeApi {
  api ??= acquireVsCodeApi();
  return api;
}

export function post(message: WebviewToHost): void {
  vscodeApi().postMessage(message);
}

export function getState<T extends object>(): Partial<T> {
  const s = vscodeApi().getState();
  return typeof s === 'object' && s !== null ? (s as Partial<T>) : {};
}

export function setState<T extends object>(state: T): void {
  vscodeApi().setState(state);
}

/** Calls `handler` with every valid host message; malformed ones are dropped and reported on the console. */
export function onHostMessage(handler: (m: HostToWebview) => void): void {
  window.addEventListener('message', (ev: MessageEvent) => {
    const checked = checkHostToWebview(ev.data);
    if (!checked.ok) {
      console.warn(`diffusion-distiller: dropped a malformed host message (${checked.error})`);
      return;
    }
    handler(checked.value);
  });
}

/** Adopts CSS text as constructable stylesheets (allowed by a nonce-only style-src, unlike <style> without nonce). */
export function adoptStyles(...cssTexts: string[]): void {
  const sheets = cssTexts.map((text) => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(text);
    return sheet;
  });
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, ...sheets];
}

export function installBaseStyles(...extra: string[]): void {
  adoptStyles(baseCss, ...extra);
}

/** Tiny element builder: `h('div', { class: 'x', 'aria-label': 'y' }, child, 'text')`. Attributes only, never inline styles. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | number | boolean | undefined>,
  ...children: (Node | string | undefined | null | false)[]
): HTMLElementTagNameMap[K];
export function h(
  tag: string,
  attrs?: Record<string, string | number | boolean | undefined>,
  ...children: (Node | string | undefined | null | false)[]
): HTMLElement;
export function h(
  tag: string,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string | undefined | null | false)[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export function setDisabled(el: Element, disabled: boolean): void {
  if (disabled) el.setAttribute('disabled', '');
  else el.removeAttribute('disabled');
  (el as HTMLElement & { disabled?: boolean }).disabled = disabled;
}
