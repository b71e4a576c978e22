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
  constructor(readonly limit: RateLimit, readonly retryAfterSeconds: number) {
    super(`rate limit exceeded: ${limit.description}`);
    this.name = 'RateLimitExceededError';
  }
}

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** The longest window a template may set (the templates API caps it): older hits count for no key. */
export const LONGEST_WINDOW_SECONDS = 86_400 * 7;
/** Hits of unused keys removed per admission: more than one admission inserts, so the sweep keeps up. */
const SWEEP_BATCH = 50;

/** Locks the keys in a fixed order (no deadlocks between requests sharing keys). */
export async function lockKeys(tx: Tx, keys: string[]): Promise<void> {
  for (const key of [...new Set(keys)].sort()) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
  }
}

/**
 * Checks every limit and, only if all pass, records one hit on each. Must run inside a transaction that
 * already holds the keys' locks (lockKeys), so the check and the insert are one step for other processes.
 */
export async function consumeRateLimits(tx: Tx, limits: RateLimit[]): Promise<void> {
  for (const limit of limits) {
    // Forget hits that left the window: keeps the log as small as the limits.
    await tx.execute(sql`delete from rate_limit_hits where key = ${limit.key} and at <= now() - make_interval(secs => ${limit.windowSeconds})`);
    const [row] = await tx.execute<{ count: number; oldest: string | null }>(sql`
      select count(*)::int as count,
             (select extract(epoch from (at + make_interval(secs => ${limit.windowSeconds}) - clock_timestamp()))::float8
                from rate_limit_hits where key = ${limit.key}
                order by at desc offset ${limit.limit - 1} limit 1)::text as oldest
        from rate_limit_hits where key = ${limit.key}`);
    if ((row?.count ?? 0) >= limit.limit) {
      // The hit that must leave the window before one more fits. A hit is stamped with its transaction's
      // start, which can be later than this transaction's (it waited on the lock): measure against the
      // clock, and never ask for more than a window.
      const wait = Math.ceil(Number(row?.oldest ?? limit.windowSeconds));
      throw new RateLimitExceededError(limit, Math.min(limit.windowSeconds, Math.max(1, wait)));
    }
  }
  if (limits.length === 0) return;
  // One round trip: the hits, and the sweep of keys nobody uses any more.
  const olderThan = Math.max(LONGEST_WINDOW_SECONDS, ...limits.map((l) => l.windowSeconds));
  await tx.execute(sql`
    with swept as (${sweepUnusedKeys(olderThan)})
    insert into rate_limit_hits (key) values ${sql.join(limits.map((l) => sql`(${l.key})`), sql`, `)}`);
}

/**
 * The per-key delete above bounds each key to its limit, but a key nobody uses again keeps its last hits:
 * remove a few hits older than every window. Runs after this transaction's own deletes and skips rows
 * another admission holds, so it never waits on (or deadlocks with) a request for a different key.
 */
function sweepUnusedKeys(olderThanSeconds: number): SQL {
  return sql`
    delete from rate_limit_hits where id in (
      select id from rate_limit_hits where at <= now() - make_interval(secs => ${olderThanSeconds})
       order by at limit ${SWEEP_BATCH} for update skip locked)`;
}
