// Admission rate limits shared by every API process through PostgreSQL. Each limit is a sliding-window
// log under a transaction-scoped advisory lock on its key: concurrent requests for one key queue on the
// lock, so exactly `limit` are admitted per window however many processes serve them.
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';

export interface RateLimit {
  /** Counted separately per key, e.g. `user:u1` or `user-template:u1:PASSWORD_RESET`. */
  key: string;
  limit: number;
  windowSeconds: number;
  /** Human-readable, for the 429 problem: "5 per 60 s per user". */
  description: string;
}

export class RateLimitExceededError extends Error {
  constructor(
    readonly limit: RateLimit,
    readonly retryAfterSeconds: number,
  ) {
    super(`rate limit exceeded: ${limit.description}`);
    this.name = 'RateLimitExceededError';
  }
}

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** The longest window a template may set (the templates API caps it): older hits count for no key. */
export const LONGEST_WINDOW_SECONDS = 86_400 * 7;
/** Hits of unused keys removed per admission: more than one admission inserts, so the sweep keeps up. */
const SWEEP_BATCH = 50;

/**
 * Locks the keys in a fixed order (no deadlocks between requests sharing keys), all in one statement: the
 * function scan yields the sorted keys in order, and each lock is taken as its row is produced.
 */
export async function lockKeys(tx: Tx, keys: string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  await tx.execute(lockKeysStatement(sorted));
}

/** The statement lockKeys runs, for callers that pipeline it with the statements that follow. */
export function lockKeysStatement(sortedKeys: string[]): SQL {
  return sql`select count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int as locked
    from unnest(array[${sql.join(
      sortedKeys.map((k) => sql`${k}`),
      sql`, `,
    )}]::text[]) as t(k)`;
}

/**
 * Checks every limit and, only if all pass, records one hit on each. Must run inside a transaction that
 * already holds the keys' locks (lockKeys), so the check and the insert are one step for other processes.
 * One statement, one round trip.
 */
export async function consumeRateLimits(tx: Tx, limits: RateLimit[]): Promise<void> {
  if (limits.length === 0) return;
  checkRateLimits(limits, await tx.execute<RateLimitCount>(rateLimitStatement(limits)));
}

export interface RateLimitCount extends Record<string, unknown> {
  key: string;
  count: number;
  wait: number | null;
}

/**
 * The statement consumeRateLimits runs: forgets each key's hits that left its window (keeping the log as
 * small as the limits), counts the rest, and records one hit per key only if every limit passes and
 * `unless` (e.g. "this request is a duplicate") is false; sweeps a few hits of keys nobody uses any more.
 * All of it sees one snapshot, so the count filters by the window itself instead of relying on the delete.
 * `wait`: seconds until the hit that must leave the window before one more fits. A hit is stamped with its
 * transaction's start, which can be later than this transaction's (it waited on the lock): measured
 * against the clock.
 */
export function rateLimitStatement(limits: RateLimit[], unless: SQL = sql`false`): SQL {
  const olderThan = Math.max(LONGEST_WINDOW_SECONDS, ...limits.map((l) => l.windowSeconds));
  const values = sql.join(
    limits.map((l) => sql`(${l.key}::text, ${l.limit}::int, ${l.windowSeconds}::int)`),
    sql`, `,
  );
  return sql`
    with limits (key, lim, win) as (values ${values}),
    pruned as (
      delete from rate_limit_hits h using limits l where h.key = l.key and h.at <= now() - make_interval(secs => l.win)
    ),
    counts as (
      select l.key, l.lim,
             (select count(*) from rate_limit_hits h where h.key = l.key and h.at > now() - make_interval(secs => l.win))::int as count,
             (select extract(epoch from (h.at + make_interval(secs => l.win) - clock_timestamp()))::float8
                from rate_limit_hits h where h.key = l.key and h.at > now() - make_interval(secs => l.win)
               order by h.at desc offset l.lim - 1 limit 1) as wait
        from limits l
    ),
    hits as (
      insert into rate_limit_hits (key)
      select key from limits where (select bool_and(count < lim) from counts) and not (${unless})
    ),
    swept as (${sweepUnusedKeys(olderThan)} and key not in (select key from limits))
    select key, count, wait from counts`;
}

/** Throws for the first limit (in the given order) that the counts show exceeded. */
export function checkRateLimits(limits: RateLimit[], counts: RateLimitCount[]): void {
  for (const limit of limits) {
    const row = counts.find((c) => c.key === limit.key);
    if ((row?.count ?? 0) >= limit.limit) {
      // Never ask for more than a window.
      const wait = Math.ceil(Number(row?.wait ?? limit.windowSeconds));
      throw new RateLimitExceededError(limit, Math.min(limit.windowSeconds, Math.max(1, wait)));
    }
  }
}

/**
 * The per-key delete above bounds each key to its limit, but a key nobody uses again keeps its last hits:
 * remove a few hits older than every window (never the keys this statement counts). Skips rows another
 * admission holds, so it never waits on (or deadlocks with) a request for a different key.
 */
function sweepUnusedKeys(olderThanSeconds: number): SQL {
  return sql`
    delete from rate_limit_hits where id in (
      select id from rate_limit_hits where at <= now() - make_interval(secs => ${olderThanSeconds})
       order by at limit ${SWEEP_BATCH} for update skip locked)`;
}

export interface RateLimitWindow extends Record<string, unknown> {
  key: string;
  count: number;
  /** Seconds since each hit inside the window, most recent first, at most `limit` of them. */
  ages: number[];
}

/**
 * For admitting many requests at once (a batch): prunes each key's hits that left its window, sweeps a few
 * of unused keys, and answers each key's count and the ages of its most recent hits, so the caller can
 * check the limits item by item in memory and record every hit in one insert. Must run under the keys'
 * locks, as rateLimitStatement. One statement: the limits travel as one JSON parameter.
 */
export function rateLimitWindowsStatement(limits: RateLimit[]): SQL {
  const olderThan = Math.max(LONGEST_WINDOW_SECONDS, ...limits.map((l) => l.windowSeconds));
  const rows = JSON.stringify(limits.map((l) => ({ key: l.key, lim: l.limit, win: l.windowSeconds })));
  return sql`
    with limits as (select * from jsonb_to_recordset(${rows}::jsonb) as l(key text, lim int, win int)),
    pruned as (
      delete from rate_limit_hits h using limits l where h.key = l.key and h.at <= now() - make_interval(secs => l.win)
    ),
    swept as (${sweepUnusedKeys(olderThan)} and key not in (select key from limits))
    select l.key,
           (select count(*) from rate_limit_hits h where h.key = l.key and h.at > now() - make_interval(secs => l.win))::int as count,
           array(select extract(epoch from (clock_timestamp() - h.at))::float8
                   from rate_limit_hits h where h.key = l.key and h.at > now() - make_interval(secs => l.win)
                  order by h.at desc limit l.lim) as ages
      from limits l`;
}

/** Records one hit per element of `keys` (a key may repeat), in one statement. */
export function recordHitsStatement(keys: string[]): SQL {
  return sql`insert into rate_limit_hits (key) select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb)`;
}

/**
 * Seconds until one more request fits under `limit`, given the ages of its most recent hits (most recent
 * first): the hit at position limit-1 must leave the window. Bounded as the single path's is.
 */
export function retryAfterSeconds(limit: RateLimit, agesMostRecentFirst: number[]): number {
  const age = agesMostRecentFirst[limit.limit - 1];
  const wait = age === undefined ? limit.windowSeconds : Math.ceil(limit.windowSeconds - age);
  return Math.min(limit.windowSeconds, Math.max(1, wait));
}
