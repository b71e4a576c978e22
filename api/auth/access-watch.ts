// Streams outlive the request that opened them, so the key they were opened with is checked again while
// they run: every few seconds, one query per API process for all the keys its open streams were opened
// with, and a stream whose key was revoked (or whose tenant was disabled) is ended. The admin key cannot
// change under a running process (it is read at start), so admin streams need no check.
import type { Database } from '../../db/client.js';
import type { Principal } from './principal.js';
import { invalidKeys } from './api-keys.js';

export const ACCESS_CHECK_MS = 2_000;

export class AccessWatch {
  private readonly watchers = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly db: Database,
    private readonly intervalMs = ACCESS_CHECK_MS,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Calls `revoked` once when the principal's key stops being valid; returns the unsubscribe. */
  watch(principal: Principal, revoked: () => void): () => void {
    if (principal.kind !== 'api_key') return () => {};
    const keyId = principal.keyId;
    let set = this.watchers.get(keyId);
    if (!set) this.watchers.set(keyId, (set = new Set()));
    let done = false;
    const once = () => {
      if (!done) {
        done = true;
        revoked();
      }
    };
    set.add(once);
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
    return () => {
      set.delete(once);
      if (set.size === 0 && this.watchers.get(keyId) === set) this.watchers.delete(keyId);
      if (this.watchers.size === 0) this.stop();
    };
  }

  /** One pass: every watched key that is no longer valid ends its streams. */
  async check(): Promise<void> {
    if (this.checking || this.watchers.size === 0) return;
    this.checking = true;
    try {
      for (const keyId of await invalidKeys(this.db, [...this.watchers.keys()])) {
        for (const revoked of this.watchers.get(keyId) ?? []) revoked();
      }
    } catch (error) {
      this.onError(error); // the database is away: streams go on, and the next pass checks again
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
