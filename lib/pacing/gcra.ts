// A fleet-wide pacer for a provider's rate limit ("at most N requests in any window of W"), on one PostgreSQL
// row per provider key, in two layers.
//
// Slots (GCRA with no burst): every request first reserves a slot; one UPDATE moves the row's theoretical
// arrival time `tat` forward by one interval ((W + margin) / N) and returns the slot, and the request sleeps
// until it. Slots spread the fleet's requests evenly and queue them; a 429 pushes `tat` past the provider's
// Retry-After, so the whole fleet backs off. Slots alone cannot keep the limit: the provider counts arrivals,
// and a request can reach it later than its slot (its process stalled after the slot came, the network or
// the provider was slow) while the request N after it is on time.
//
// Lanes (the guarantee): the row holds N lanes, each the time from which a request may leave on it. At its
// slot a request passes the gate: one statement, under the row's lock, takes the lane that clears first
// if it has cleared (by the database's clock) and sets it to a pessimistic time (below); otherwise the request
// waits and asks again. When the request's answer comes (or it fails), the lane is set to that moment (the
// database's clock) plus W. Why no window ever holds more than N requests as the provider counts them:
//   - the provider counts a request after it left and before it answers; the gate is passed before the
//     request leaves, and the answer is recorded after it came;
//   - so a request that takes a lane another request used leaves at or after (that one's recorded answer +
//     W), and reaches the provider more than W after that one did;
//   - N + 1 requests in one window would need two of them on one lane (there are N): impossible.
// A request whose answer is never recorded (its process died, the database was unreachable) leaves its lane
// at the pessimistic time: the gate's time plus the request's own timeout, after which it cannot reach the
// provider any more, plus W. This holds as long as no process stalls longer than its request timeout between
// passing the gate and writing its request (then the request may arrive after its lane was given on).
// Spacing needs no margin any more: the margin only lets each lane clear before the slot that needs it
// (when a request's round trip is shorter than the margin, the lanes never hold anyone up).
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

export interface PacerLimit {
  /** At most this many requests… */
  requests: number;
  /** …in any window of this length (ms), counted the strict way (a sliding window). */
  windowMs: number;
  /**
   * Added to the window before dividing it into slots: spreads the slots a little wider than the limit, so
   * that a lane has cleared (its last request answered, a window ago) by the time the slot that reuses it comes.
   */
  marginMs: number;
}

export interface Slot {
  /** When to send, on this process's clock (ms since the epoch). */
  at: number;
  /** The row's `tat` once this slot was taken (µs since the epoch, the database's clock): for release. */
  tatUs: bigint;
}

/** A request that passed the gate: tell the pacer when its answer came (or it failed), whatever it was. */
export interface Departure {
  /** The lane it took (1…N). */
  readonly lane: number;
  /** How long the gate held the request after its slot (ms): 0 when its lane had cleared. */
  readonly heldMs: number;
  /** Records the answer: the lane clears a window from now. Never throws (an unrecorded lane clears late). */
  answered(): Promise<void>;
}

/** Microseconds between slots: the window (plus the margin) divided evenly. */
export const intervalUs = (limit: PacerLimit) => Math.ceil(((limit.windowMs + limit.marginMs) * 1000) / limit.requests);

/** The requests the provider allows in one window, as lanes (a fraction of a request is not one). */
export const laneCount = (limit: PacerLimit) => Math.max(1, Math.floor(limit.requests));

/** How long a clock-offset sample is trusted: the smallest of the recent ones is the closest to the truth. */
const OFFSET_SAMPLE_MS = 60_000;
/** Between the gate and the request's write: a hop through the event loop, given a second. */
const GATE_TO_WRITE_MS = 1_000;
/** How often a request held at the gate asks again, at first and at most (a lane in flight clears when answered). */
const GATE_POLL_MS = { first: 5, max: 100 };

export class GcraPacer {
  readonly intervalUs: number;
  /** How far ahead a slot may be reserved: bounds the slots a pause or a crash leaves unused. */
  readonly horizonUs: number;
  readonly lanes: number;
  readonly windowUs: number;
  /** How long after the gate a lane whose answer never comes clears by itself (µs). */
  readonly inFlightUs: number;
  /** Local clock minus the database's (ms), as (answer received − database now) samples: the least is best. */
  private offsets: { ms: number; at: number }[] = [];

  /**
   * `requestTimeoutMs`: the longest a request may take from its write to its answer (the caller aborts it
   * then); a lane whose answer is never recorded clears that long after the gate, plus a window.
   */
  constructor(private readonly db: Database, readonly key: string, limit: PacerLimit, options: { horizonMs?: number; requestTimeoutMs?: number } = {}) {
    this.intervalUs = intervalUs(limit);
    this.horizonUs = Math.round((options.horizonMs ?? Math.max(2_000, (2 * this.intervalUs) / 1000)) * 1000);
    this.lanes = laneCount(limit);
    this.windowUs = Math.round(limit.windowMs * 1000);
    this.inFlightUs = Math.round((GATE_TO_WRITE_MS + (options.requestTimeoutMs ?? 30_000)) * 1000) + this.windowUs;
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
   * Passes the gate once: takes the lane that clears first if it has cleared, marking it in flight, or says
   * how long until it clears (µs; a lane in flight may clear sooner, when its answer is recorded). All in
   * one statement under the row's lock, so two gates, whichever processes they run in, never take one lane.
   * Lanes of a row that has none or a different number (the limit changed) all start from the latest.
   */
  async tryDepart(): Promise<{ lane: number; inFlightUs: bigint } | { waitUs: number }> {
    const n = this.lanes;
    const rows = await this.db.execute<{ lane: number; clear_us: string; now_us: string; granted: boolean; in_flight_us: string }>(sql`
      with current as (
        select key, lanes, clock_timestamp() as now from provider_pacing where key = ${this.key} for update),
      sized as (
        select key, now, case when cardinality(lanes) = ${n} then lanes
          else array_fill(greatest('-infinity'::timestamptz, (select max(l) from unnest(lanes) l)), array[${n}::int]) end as lanes
        from current),
      pick as (
        select s.key, s.now, s.lanes, first.lane, first.clear, s.now + make_interval(secs => ${this.inFlightUs / 1e6}) as in_flight
        from sized s, lateral (select i::int as lane, l as clear from unnest(s.lanes) with ordinality u(l, i) order by l, i limit 1) first),
      taken as (
        update provider_pacing p set lanes = pick.lanes[:pick.lane - 1] || pick.in_flight || pick.lanes[pick.lane + 1:]
        from pick where p.key = pick.key and pick.clear <= pick.now
        returning p.key)
      select lane, (select count(*) from taken) > 0 as granted,
             (extract(epoch from greatest(clear, now - interval '1 day')) * 1e6)::bigint::text as clear_us,
             (extract(epoch from now) * 1e6)::bigint::text as now_us,
             (extract(epoch from in_flight) * 1e6)::bigint::text as in_flight_us
      from pick`);
    const row = rows[0];
    if (!row) {
      // No row yet (the first request of this key): make it, then ask again.
      await this.db.execute(sql`insert into provider_pacing (key, tat) values (${this.key}, clock_timestamp()) on conflict (key) do nothing`);
      return { waitUs: 0 };
    }
    if (row.granted) return { lane: row.lane, inFlightUs: BigInt(row.in_flight_us) };
    return { waitUs: Math.max(0, Number(BigInt(row.clear_us) - BigInt(row.now_us))) };
  }

  /**
   * Waits (abortably) until a lane has cleared and takes it: call right before the request leaves, and tell
   * the answer to the Departure. The wait is the database's (it says how long; sleeping that long after its
   * answer arrived can only be longer), and the lane is taken by the database once it has cleared.
   */
  async depart(signal?: AbortSignal): Promise<Departure> {
    let heldSince: number | undefined;
    let pollMs = GATE_POLL_MS.first;
    for (;;) {
      signal?.throwIfAborted();
      const answer = await this.tryDepart();
      if ('lane' in answer) return this.departure(answer.lane, answer.inFlightUs, heldSince === undefined ? 0 : Date.now() - heldSince);
      heldSince ??= Date.now();
      const waitMs = answer.waitUs / 1000;
      await sleepUntil(Date.now() + Math.min(waitMs, pollMs), signal);
      if (waitMs > pollMs) pollMs = Math.min(GATE_POLL_MS.max, pollMs * 2);
    }
  }

  private departure(lane: number, inFlightUs: bigint, heldMs: number): Departure {
    let recorded: Promise<void> | undefined;
    return {
      lane, heldMs,
      answered: () => {
        recorded ??= this.record(lane, inFlightUs).catch(() => undefined);
        return recorded;
      },
    };
  }

  /**
   * The lane's request was answered (or failed): the lane clears a window from now, unless something else
   * changed it meanwhile (a 429's back-off, or the lane was given on after its in-flight time). `tat` moves up
   * to the earliest lane, so slots are not handed out faster than lanes clear (a slow provider).
   */
  private async record(lane: number, inFlightUs: bigint): Promise<void> {
    const window = sql`make_interval(secs => ${this.windowUs / 1e6})`;
    await this.db.execute(sql`
      update provider_pacing p
         set lanes[${lane}::int] = clock_timestamp() + ${window},
             tat = greatest(p.tat, least(clock_timestamp() + ${window},
               (select min(l) from unnest(p.lanes) with ordinality u(l, i) where i <> ${lane})))
       where p.key = ${this.key} and (extract(epoch from p.lanes[${lane}::int]) * 1e6)::bigint = ${inFlightUs.toString()}::bigint`);
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

  /**
   * The provider said "too many" (429): nobody gets a slot, or a lane, before `ms` from now. (A lane in flight
   * that would clear later anyway is cleared by its answer, recorded after this: a window after it, which is
   * after `ms` from now unless the provider asked for more than a window.)
   */
  async backOff(ms: number): Promise<void> {
    const until = sql`clock_timestamp() + make_interval(secs => ${ms / 1000})`;
    await this.db.execute(sql`
      insert into provider_pacing as p (key, tat) values (${this.key}, ${until})
      on conflict (key) do update set tat = greatest(p.tat, ${until}),
        lanes = (select array_agg(greatest(l, ${until}) order by i) from unnest(p.lanes) with ordinality u(l, i))`);
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
