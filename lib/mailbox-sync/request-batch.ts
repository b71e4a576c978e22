// A batch of provider requests made one after another for one mailbox (an activity reading a folder's pages
// in a row): a provider may keep what it opened for one request (an IMAP connection with its folder selected)
// for the next, and it is released when the batch ends. Outside a batch every request stands alone. The
// batch is carried by AsyncLocalStorage, so the port's signatures stay the same.
import { AsyncLocalStorage } from 'node:async_hooks';

interface Kept {
  value: unknown;
  release: () => Promise<void>;
}

export class RequestBatch {
  private readonly kept = new Map<string, Kept>();

  /** What a provider kept under `key` earlier in this batch. */
  get<T>(key: string): T | undefined {
    return this.kept.get(key)?.value as T | undefined;
  }

  /** Keeps `value` for the batch's later requests; `release` runs when the batch ends (or `value` is replaced). */
  keep(key: string, value: unknown, release: () => Promise<void>): void {
    const before = this.kept.get(key);
    this.kept.set(key, { value, release });
    if (before && before.value !== value) void before.release().catch(() => undefined);
  }

  /** Forgets `key` without releasing it (the caller already has). */
  drop(key: string): void {
    this.kept.delete(key);
  }

  async release(): Promise<void> {
    const all = [...this.kept.values()];
    this.kept.clear();
    await Promise.all(all.map((k) => k.release().catch(() => undefined)));
  }
}

const current = new AsyncLocalStorage<RequestBatch>();

/** Runs `work` as one batch of requests; what its requests kept is released before this returns. */
export async function inRequestBatch<T>(work: () => Promise<T>): Promise<T> {
  const batch = new RequestBatch();
  try {
    return await current.run(batch, work);
  } finally {
    await batch.release();
  }
}

/** The batch the running request belongs to, if any. */
export function currentRequestBatch(): RequestBatch | undefined {
  return current.getStore();
}
