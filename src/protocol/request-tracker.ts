/**
 * Pairs requests carrying an `id` with the `reply` message of the same id.
 * `send` posts a message; call `handleReply` with every reply received.
 */
export class RequestTracker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  request<R>(send: (id: number) => void): { id: number; promise: Promise<R> } {
    const id = this.nextId++;
    const promise = new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    send(id);
    return { id, promise };
  }

  handleReply(msg: { id: number; ok: boolean; result?: unknown; error?: string }): boolean {
    const p = this.pending.get(msg.id);
    if (!p) return false;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(msg.error ?? 'request failed'));
    return true;
  }

  /** Rejects every pending request (e.g. the worker exited). */
  failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
