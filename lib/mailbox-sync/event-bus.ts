// One LISTEN per process on the live feed's channel, fanned out to the streams of this process by
// account: a stream wakes when its account has new events, and reads them from the table.
import type postgres from 'postgres';
import { EVENTS_CHANNEL } from './events.js';

type Listener = () => void;

export class AccountEventBus {
  private readonly listeners = new Map<string, Set<Listener>>();
  private listening: Promise<{ unlisten: () => Promise<void> }> | undefined;

  constructor(private readonly sql: postgres.Sql) {}

  /** Calls `listener` whenever the account gets an event; resolves once listening. Returns the unsubscribe. */
  async subscribe(accountId: string, listener: Listener): Promise<() => void> {
    this.listening ??= this.sql.listen(EVENTS_CHANNEL, (accountIdOfEvent) => {
      for (const l of this.listeners.get(accountIdOfEvent) ?? []) l();
    });
    const set = this.listeners.get(accountId) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(accountId, set);
    await this.listening;
    // Idempotent, and it only drops the account's set if that is still the set it joined: a newer stream
    // of the same account may have started a new one.
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(accountId) === set) this.listeners.delete(accountId);
    };
  }

  async close(): Promise<void> {
    const listening = this.listening;
    this.listening = undefined;
    if (listening) await (await listening).unlisten().catch(() => {});
  }
}
