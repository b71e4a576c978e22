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
// Lanes (the guarantee): the row holds N lanes, each the time from which a request may leave on it. Just
// before its slot a request passes the gate: one statement, under the row's lock, takes the lane that clears
// first if it has cleared by the slot's time (the database's clock), sets it to a pessimistic time (below) and
// answers when to leave: the slot's time or, if that has passed, now. Otherwise the request waits and asks
// again (and no slot is handed out before the next lane clears, so few wait). A slot that is about now
// takes its lane in the statement that reserves it, the same way. When the request's answer comes (or it
// fails), the lane is set to that moment plus W. Why no window ever holds more than N requests as the
// provider counts them:
//   - the provider counts a request after it left and before it answers; a request leaves no earlier than
//     the time its gate gave it, and the moment recorded for its answer is no earlier than the answer;
//   - so a request that takes a lane another request used leaves at or after (that one's recorded answer +
//     W), and reaches the provider more than W after that one did;
//   - N + 1 requests in one window would need two of them on one lane (there are N): impossible.
// Times cross between clocks safely: a database time is slept until through the largest possible offset
// (the sleep can only end late), and the local moment of an answer becomes the latest database time it can
// be (so a lane can only clear late); both bounds come from the round trips of the pacer's own statements.
// A request whose answer is never recorded (its process died, the database was unreachable) leaves its lane
// at the pessimistic time: the time it was given to leave, plus a second to get its request written, plus the
// request's own timeout (after which it cannot reach the provider any more), plus W. This holds as long as
// no process stalls that long between passing the gate and writing its request (then the request may arrive
// after its lane was given on); a request that comes to its lane half a second late gives it back and asks
// the gate again.
// Spacing needs no margin any more: the margin only lets each lane clear before the slot that needs it
// (when a request's round trip is shorter than the margin, the lanes never hold anyone up).
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type SQL } from 'drizzle-orm';
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
  /** The lane taken with the slot, if one had cleared by it (the slot was about now). */
  lane?: { lane: number; inFlightUs: bigint };
}

/** A request that passed the gate: tell the pacer when its answer came (or it failed), whatever it was. */
export interface Departure {
  /** The lane it took (1…N). */
  readonly lane: number;
  /** How long the gate held the request after its slot (ms): 0 when its lane had cleared by then. */
  readonly heldMs: number;
  /**
   * Records the answer, which came now: the lane clears a window after it. Call it as soon as the answer
   * came or the request failed. Never throws (an unrecorded lane only clears late).
   */
  answered(): Promise<void>;
}

/** Microseconds between slots: the window (plus the margin) divided evenly. */
export const intervalUs = (limit: PacerLimit) => Math.ceil(((limit.windowMs + limit.marginMs) * 1000) / limit.requests);

/** The requests the provider allows in one window, as lanes (a fraction of a request is not one). */
export const laneCount = (limit: PacerLimit) => Math.max(1, Math.floor(limit.requests));

/** How long a clock-offset sample is trusted: the tightest of the recent ones bound the offset best. */
const OFFSET_SAMPLE_MS = 60_000;
/** How long before its slot a request asks the gate, so that the gate's round trip does not delay it. */
const GATE_AHEAD_MS = 100;
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
  /**
   * Bounds on (local clock − database clock), in ms, from the pacer's round trips: the database read its
   * clock after the statement was sent and before its answer was received, so the offset lies between
   * (sent − database now) and (received − database now).
   */
  private offsets: { lower: number; upper: number; at: number }[] = [];

  /**
   * `requestTimeoutMs`: the longest a request may take from its write to its answer (the caller aborts it
   * then); a lane whose answer is never recorded clears that long after the gate, plus a window.
   */
  constructor(
    private readonly db: Database,
    readonly key: string,
    limit: PacerLimit,
    options: { horizonMs?: number; requestTimeoutMs?: number } = {},
  ) {
    this.intervalUs = intervalUs(limit);
    this.horizonUs = Math.round((options.horizonMs ?? Math.max(2_000, (2 * this.intervalUs) / 1000)) * 1000);
    this.lanes = laneCount(limit);
    this.windowUs = Math.round(limit.windowMs * 1000);
    this.inFlightUs = Math.round((GATE_TO_WRITE_MS + (options.requestTimeoutMs ?? 30_000)) * 1000) + this.windowUs;
  }

  /** Adds a round trip's sample: sent and received on the local clock (ms), the database's now (µs) between. */
  private sample(sent: number, nowUs: bigint, received: number): void {
    const dbNowMs = Number(nowUs) / 1000;
    this.offsets = this.offsets.filter((o) => received - o.at < OFFSET_SAMPLE_MS).slice(-31);
    this.offsets.push({ lower: sent - dbNowMs, upper: received - dbNowMs, at: received });
  }

  /** A database time (µs) as the earliest local time (ms) certain not to come before it. */
  private toLocal(us: bigint): number {
    return Number(us) / 1000 + Math.min(...this.offsets.map((o) => o.upper));
  }

  /** A local time (ms) as the latest database time (µs) it can be. */
  private toDatabase(ms: number): bigint {
    return BigInt(Math.ceil((ms - Math.max(...this.offsets.map((o) => o.lower))) * 1000));
  }

  /**
   * Takes the next slot if it is within the horizon; otherwise says when the row's `tat` will have come
   * within it (a local time), without taking anything. A slot that is about now (the fleet sends slower than
   * the limit) also takes a lane that has cleared by then, in the same statement, as the gate would (its
   * request then leaves without asking the gate).
   */
  async tryReserve(): Promise<{ slot: Slot } | { retryAt: number }> {
    const interval = sql`make_interval(secs => ${this.intervalUs / 1e6})`;
    const horizon = sql`make_interval(secs => ${this.horizonUs / 1e6})`;
    const inFlight = sql`make_interval(secs => ${this.inFlightUs / 1e6})`;
    const slotTime = sql`greatest(p.tat, (select now from clock))`;
    // One statement: `now` is read once; the row lock orders concurrent reservations, each seeing the last.
    const sent = Date.now();
    const [row] = await this.db.execute<{ tat_us: string | null; lane: number | null; current_us: string | null; now_us: string }>(sql`
      with clock as materialized (select clock_timestamp() as now),
      taken as (
        insert into provider_pacing as p (key, tat) select ${this.key}, clock.now + ${interval} from clock
        on conflict (key) do update set tat = ${slotTime} + ${interval},
          lanes = case when ${slotTime} <= (select now from clock) + make_interval(secs => ${GATE_AHEAD_MS / 1000})
            then ${withLaneTaken(sizedLanes(sql`p.lanes`, this.lanes), slotTime, inFlight)} else p.lanes end
          where ${slotTime} <= (select now from clock) + ${horizon}
        returning p.tat, array_position(p.lanes, p.tat - ${interval} + ${inFlight}) as lane)
      select (extract(epoch from (select tat from taken)) * 1e6)::bigint::text as tat_us, (select lane from taken) as lane,
             (extract(epoch from (select tat from provider_pacing where key = ${this.key})) * 1e6)::bigint::text as current_us,
             (extract(epoch from (select now from clock)) * 1e6)::bigint::text as now_us`);
    const localNow = Date.now();
    const nowUs = BigInt(row!.now_us);
    this.sample(sent, nowUs, localNow);
    if (row!.tat_us !== null) {
      const tatUs = BigInt(row!.tat_us);
      const slotUs = tatUs - BigInt(this.intervalUs);
      const lane = row!.lane === null ? undefined : { lane: row!.lane, inFlightUs: slotUs + BigInt(this.inFlightUs) };
      return { slot: { at: this.toLocal(slotUs), tatUs, ...(lane ? { lane } : {}) } };
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
   * Passes the gate once, for a request that is to leave at `notBeforeUs` (the database's clock) or now if
   * that has passed: takes the lane that clears first if it has cleared by then, marking it in flight, and
   * answers when to leave; or says how long until that lane clears (µs; a lane in flight may clear sooner,
   * when its answer is recorded). All in one statement under the row's lock, so two gates, whichever
   * processes they run in, never take one lane. Lanes of a row that has none or a different number (the
   * limit changed) all start from the latest. A request held here means lanes clear more slowly than slots
   * come (answers slower than the margin): no slot is then handed out before the next answered lane clears,
   * so the requests held here stay as few as the slots within the horizon.
   */
  async tryDepart(notBeforeUs?: bigint): Promise<{ lane: number; leaveUs: bigint; inFlightUs: bigint } | { waitUs: number }> {
    const notBefore = notBeforeUs === undefined ? sql`'-infinity'::timestamptz` : atUs(notBeforeUs);
    const window = sql`make_interval(secs => ${this.windowUs / 1e6})`;
    const sent = Date.now();
    const rows = await this.db.execute<{ lane: number; clear_us: string; now_us: string; granted: boolean; leave_us: string; in_flight_us: string }>(sql`
      with current as (
        select key, lanes, clock_timestamp() as now from provider_pacing where key = ${this.key} for update),
      sized as (select key, now, greatest(now, ${notBefore}) as leave, ${sizedLanes(sql`lanes`, this.lanes)} as lanes from current),
      pick as (
        select s.key, s.now, s.leave, s.lanes, first.lane, first.clear, s.leave + make_interval(secs => ${this.inFlightUs / 1e6}) as in_flight
        from sized s, lateral (select i::int as lane, l as clear from unnest(s.lanes) with ordinality u(l, i) order by l, i limit 1) first),
      taken as (
        update provider_pacing p
           set lanes = case when pick.clear <= pick.leave then pick.lanes[:pick.lane - 1] || pick.in_flight || pick.lanes[pick.lane + 1:] else pick.lanes end,
               -- Held: the next slot no earlier than the first lane that clears on an answer (one still in
               -- flight clears far later on its own, and sooner on its answer: it does not move the slots).
               tat = case when pick.clear <= pick.leave then p.tat
                 else greatest(p.tat, (select min(l) from unnest(pick.lanes) l where l <= pick.now + ${window})) end
        from pick where p.key = pick.key
        returning p.key)
      select lane, (select count(*) from taken) > 0 and clear <= leave as granted,
             (extract(epoch from greatest(clear, now - interval '1 day')) * 1e6)::bigint::text as clear_us,
             (extract(epoch from now) * 1e6)::bigint::text as now_us,
             (extract(epoch from leave) * 1e6)::bigint::text as leave_us,
             (extract(epoch from in_flight) * 1e6)::bigint::text as in_flight_us
      from pick`);
    const row = rows[0];
    if (!row) {
      // No row yet (the first request of this key): make it, then ask again.
      await this.db.execute(sql`insert into provider_pacing (key, tat) values (${this.key}, clock_timestamp()) on conflict (key) do nothing`);
      return { waitUs: 0 };
    }
    this.sample(sent, BigInt(row.now_us), Date.now());
    if (row.granted) return { lane: row.lane, leaveUs: BigInt(row.leave_us), inFlightUs: BigInt(row.in_flight_us) };
    return { waitUs: Math.max(0, Number(BigInt(row.clear_us) - BigInt(row.now_us))) };
  }

  /**
   * Resolves (abortably) when the request may leave: at its slot if a lane has cleared by then, else as soon
   * as one clears; call it before the slot (it asks the gate a little ahead, so the gate's round trip does not
   * make the request late), send right away, and tell the answer to the Departure. Without a slot: now.
   */
  async depart(slot?: Slot, signal?: AbortSignal): Promise<Departure> {
    if (slot?.lane) {
      // Its lane came with the slot; unless the request comes so late that the lane's in-flight time
      // (counted from the slot) would not cover it: then the lane goes back, and the request asks the gate.
      await sleepUntil(slot.at, signal);
      if (Date.now() - slot.at <= GATE_TO_WRITE_MS / 2) return this.departure(slot.lane.lane, slot.lane.inFlightUs, 0);
      await this.releaseLane(slot);
    }
    if (slot) await sleepUntil(slot.at - GATE_AHEAD_MS, signal);
    const notBeforeUs = slot && slot.tatUs - BigInt(this.intervalUs);
    let heldSince: number | undefined;
    let pollMs = GATE_POLL_MS.first;
    for (;;) {
      signal?.throwIfAborted();
      const answer = await this.tryDepart(notBeforeUs);
      if ('lane' in answer) {
        // Aborted in this sleep, the request does not leave; its lane's in-flight time stands (it only clears late).
        await sleepUntil(this.toLocal(answer.leaveUs), signal);
        return this.departure(answer.lane, answer.inFlightUs, heldSince === undefined ? 0 : Math.max(0, Date.now() - (slot?.at ?? heldSince)));
      }
      heldSince ??= Date.now();
      const waitMs = answer.waitUs / 1000;
      await sleepUntil(Date.now() + Math.min(waitMs, pollMs), signal);
      if (waitMs > pollMs) pollMs = Math.min(GATE_POLL_MS.max, pollMs * 2);
    }
  }

  private departure(lane: number, inFlightUs: bigint, heldMs: number): Departure {
    let recorded: Promise<void> | undefined;
    return {
      lane,
      heldMs,
      answered: () => {
        // The moment is taken now, when the answer came, not when the database gets to the record.
        recorded ??= this.record(lane, inFlightUs, this.toDatabase(Date.now())).catch(() => undefined);
        return recorded;
      },
    };
  }

  /**
   * The lane's request was answered (or failed) at `answeredUs` (the latest database time it can have
   * been): the lane clears a window after it, unless something else changed it meanwhile (a 429's back-off,
   * or the lane was given on after its in-flight time).
   */
  private async record(lane: number, inFlightUs: bigint, answeredUs: bigint): Promise<void> {
    await this.db.execute(sql`
      update provider_pacing p set lanes[${lane}::int] = ${atUs(answeredUs + BigInt(this.windowUs))}
       where p.key = ${this.key} and (extract(epoch from p.lanes[${lane}::int]) * 1e6)::bigint = ${inFlightUs.toString()}::bigint`);
  }

  /**
   * Gives an unused slot back if it is still the last one taken (a pause, or an abort before sending);
   * otherwise it stays a gap, which is only a lost slot. A lane that came with it clears at the slot's time
   * (no earlier than it had, as that lane had cleared by then).
   */
  async release(slot: Slot): Promise<boolean> {
    await this.releaseLane(slot);
    const rows = await this.db.execute(sql`
      update provider_pacing set tat = tat - make_interval(secs => ${this.intervalUs / 1e6})
       where key = ${this.key} and (extract(epoch from tat) * 1e6)::bigint = ${slot.tatUs.toString()}::bigint
      returning key`);
    return rows.length > 0;
  }

  /** The lane that came with a slot whose request will not leave on it clears at the slot's time. */
  private async releaseLane(slot: Slot): Promise<void> {
    if (!slot.lane) return;
    await this.db.execute(sql`
      update provider_pacing p set lanes[${slot.lane.lane}::int] = ${atUs(slot.tatUs - BigInt(this.intervalUs))}
       where p.key = ${this.key} and (extract(epoch from p.lanes[${slot.lane.lane}::int]) * 1e6)::bigint = ${slot.lane.inFlightUs.toString()}::bigint`);
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

/** `lanes` with n entries: a row that has none or another number (the limit changed) all from the latest. */
const sizedLanes = (lanes: SQL, n: number) => sql`(case when cardinality(${lanes}) = ${n} then ${lanes}
  else array_fill(greatest('-infinity'::timestamptz, (select max(l) from unnest(${lanes}) l)), array[${n}::int]) end)`;

/** `lanes` with the lane that clears first marked in flight (at + inFlight) if it has cleared by `at`. */
const withLaneTaken = (lanes: SQL, at: SQL, inFlight: SQL) => sql`(
  select case when first.l <= ${at} then sized.lanes[:first.i - 1] || (${at} + ${inFlight}) || sized.lanes[first.i + 1:] else sized.lanes end
    from (select ${lanes} as lanes) sized,
         lateral (select i::int as i, l from unnest(sized.lanes) with ordinality u(l, i) order by l, i limit 1) first)`;

/** A time in µs since the epoch as a timestamptz, exactly. */
const atUs = (us: bigint) => sql`(timestamptz 'epoch' + ${us.toString()}::bigint * interval '1 microsecond')`;

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
