// A fleet-wide pacer for a provider's rate limit: GCRA with no burst, on one PostgreSQL row per provider key.
// Every request first reserves a slot (one UPDATE moves the row's theoretical arrival time `tat` forward by
// one interval and returns the slot), sleeps until it, then sends. Slots are evenly spaced, so no window of
// the provider's length ever holds more than its limit, whichever worker sends; a 429 pushes `tat` past the
// provider's Retry-After, so the whole fleet backs off. Times come from the database's clock (the workers'
// clocks may disagree with each other) and are turned into local times with the offset seen on the fastest
// recent answer. A request that misses its slot by more than half the margin (a busy event loop, a slow
// round trip) does not go late, where it could crowd the request one window after it: it takes a new slot.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

export interface PacerLimit {
  /** At most this many requests… */
  requests: number;
  /** …in any window of this length (ms), counted the strict way (a sliding window). */
  windowMs: number;
  /**
   * Added to the window before dividing it into slots: how much later than its slot a request may reach
   * the provider than the one `requests` before it, and still not be one too many in a window.
   */
  marginMs: number;
}

export interface Slot {
  /** When to send, on this process's clock (ms since the epoch). */
  at: number;
  /** The row's `tat` once this slot was taken (µs since the epoch, the database's clock): for release. */
  tatUs: bigint;
}

/** Microseconds between slots: the window (plus the margin) divided evenly. */
export const intervalUs = (limit: PacerLimit) => Math.ceil(((limit.windowMs + limit.marginMs) * 1000) / limit.requests);

/** How long a clock-offset sample is trusted: the smallest of the recent ones is the closest to the truth. */
const OFFSET_SAMPLE_MS = 60_000;

export class GcraPacer {
  readonly intervalUs: number;
  /** How far ahead a slot may be reserved: bounds the slots a pause or a crash leaves unused. */
  readonly horizonUs: number;
  /** How late a request may leave after its slot (half the margin; the rest is for the network's jitter). */
  readonly toleranceMs: number;
  /** Local clock minus the database's (ms), as (answer received − database now) samples: the least is best. */
  private offsets: { ms: number; at: number }[] = [];

  constructor(private readonly db: Database, readonly key: string, limit: PacerLimit, options: { horizonMs?: number } = {}) {
    this.intervalUs = intervalUs(limit);
    this.horizonUs = Math.round((options.horizonMs ?? Math.max(2_000, (2 * this.intervalUs) / 1000)) * 1000);
    this.toleranceMs = limit.marginMs / 2;
  }

  /** The database's time (µs) as a local time (ms), through the best recent offset, updated with this sample. */
  private toLocal(nowUs: bigint, localNow: number): (us: bigint) => number {
    const dbNowMs = Number(nowUs) / 1000;
    this.offsets = this.offsets.filter((o) => localNow - o.at < OFFSET_SAMPLE_MS).slice(-31);
    this.offsets.push({ ms: localNow - dbNowMs, at: localNow });
    const offset = Math.min(...this.offsets.map((o) => o.ms));
    return (us) => Number(us) / 1000 + offset;
  }

  /**
   * Takes the next slot if it is within the horizon; otherwise says when the row's `tat` will have come
   * within it (a local time), without taking anything.
   */
  async tryReserve(): Promise<{ slot: Slot } | { retryAt: number }> {
    const interval = sql`make_interval(secs => ${this.intervalUs / 1e6})`;
    const horizon = sql`make_interval(secs => ${this.horizonUs / 1e6})`;
    // One statement: `now` is read once; the row lock orders concurrent reservations, each seeing the last.
    const [row] = await this.db.execute<{ tat_us: string | null; current_us: string | null; now_us: string }>(sql`
      with clock as materialized (select clock_timestamp() as now),
      taken as (
        insert into provider_pacing as p (key, tat) select ${this.key}, clock.now + ${interval} from clock
        on conflict (key) do update set tat = greatest(p.tat, (select now from clock)) + ${interval}
          where greatest(p.tat, (select now from clock)) <= (select now from clock) + ${horizon}
        returning p.tat)
      select (extract(epoch from (select tat from taken)) * 1e6)::bigint::text as tat_us,
             (extract(epoch from (select tat from provider_pacing where key = ${this.key})) * 1e6)::bigint::text as current_us,
             (extract(epoch from (select now from clock)) * 1e6)::bigint::text as now_us`);
    const localNow = Date.now();
    const nowUs = BigInt(row!.now_us);
    const local = this.toLocal(nowUs, localNow);
    if (row!.tat_us !== null) {
      const tatUs = BigInt(row!.tat_us);
      return { slot: { at: local(tatUs - BigInt(this.intervalUs)), tatUs } };
    }
    // Beyond the horizon: come back when it is within reach, spread over half the horizon so that many
    // waiting senders do not all ask at once.
    const currentUs = row!.current_us === null ? nowUs : BigInt(row!.current_us);
    const reachableInMs = Number(currentUs - nowUs - BigInt(this.horizonUs)) / 1000;
    return { retryAt: localNow + Math.max(0, reachableInMs) + Math.random() * (this.horizonUs / 2000) };
  }

  /** Reserves a slot, waiting (abortably) while the next one is beyond the horizon. */
  async acquire(signal?: AbortSignal): Promise<Slot> {
    for (;;) {
      signal?.throwIfAborted();
      const answer = await this.tryReserve();
      if ('slot' in answer) return answer.slot;
      await sleepUntil(answer.retryAt, signal);
    }
  }

  /**
   * Sleeps until the slot. False when the request could not leave within the tolerance after it: it must
   * not go (take a new slot); the missed one stays a gap.
   */
  async wait(slot: Slot, signal?: AbortSignal): Promise<boolean> {
    await sleepUntil(slot.at, signal);
    return Date.now() - slot.at <= this.toleranceMs;
  }

  /**
   * Gives an unused slot back if it is still the last one taken (a pause, or an abort before sending);
   * otherwise it stays a gap, which is only a lost slot.
   */
  async release(slot: Slot): Promise<boolean> {
    const rows = await this.db.execute(sql`
      update provider_pacing set tat = tat - make_interval(secs => ${this.intervalUs / 1e6})
       where key = ${this.key} and (extract(epoch from tat) * 1e6)::bigint = ${slot.tatUs.toString()}::bigint
      returning key`);
    return rows.length > 0;
  }

  /** The provider said "too many" (429): nobody gets a slot before `ms` from now. */
  async backOff(ms: number): Promise<void> {
    await this.db.execute(sql`
      insert into provider_pacing as p (key, tat) values (${this.key}, clock_timestamp() + make_interval(secs => ${ms / 1000}))
      on conflict (key) do update set tat = greatest(p.tat, clock_timestamp() + make_interval(secs => ${ms / 1000}))`);
  }
}

/** Sleeps until a local time (ms since the epoch); rejects with the signal's reason when it aborts. */
export async function sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const ms = at - Date.now();
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
}
