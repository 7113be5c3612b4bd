/**
 * For unit tests of extension modules that import `vscode`: a minimal EventEmitter like vscode's, and a hook that
 * makes `require('vscode')` return the test's stand-in (restore it when the test file is done).
 */
import Module from 'module';

export interface Disposable {
  dispose(): void;
}

export class EventEmitter<T> {
  private listeners = new Set<(v: T) => void>();
  readonly event = (l: (v: T) => void): Disposable => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(v: T): void {
    for (const l of [...this.listeners]) l(v);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

/** Until the returned function is called, `require('vscode')` gives `fake`. */
export function stubVscode(fake: object): () => void {
  const internals = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const original = internals._load;
  internals._load = function (request: string, parent: unknown, isMain: boolean): unknown {
    if (request === 'vscode') return fake;
    return original.call(this, request, parent, isMain);
  };
  return () => {
    internals._load = original;
  };
}
