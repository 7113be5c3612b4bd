/** Show Backends: what the tools worker finds on this machine (WebGPU adapters, wasm, native TensorFlow). */
import * as vscode from 'vscode';
import type { Backend } from '../../protocol';
import { registerBackendsDocument, showBackends } from '../backends';
import type { Services } from '../services';

export function register(context: vscode.ExtensionContext, s: Services): void {
  const doc = registerBackendsDocument(context);
  s.command('distill.showBackends', () => {
    if (!s.trust.allow('probe the backends (a worker process)')) return undefined;
    return showBackends(s.manager, doc, s.log, s.explicit<Backend>('backend'));
  });
}
