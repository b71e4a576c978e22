// Forcing an interleaving on a PostgreSQL advisory lock: admission takes its idempotency and rate-limit keys
// with pg_advisory_xact_lock(hashtextextended(key, 0)); a test holds one key's lock on a connection of its own
// and waits until the requests it sent are queued behind it.
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Database } from '../../db/client.js';
import { testConfig } from './config.js';

/** How many sessions wait for `key`'s advisory lock now. */
export async function advisoryLockWaiters(db: Database, key: string): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from pg_locks l, (select hashtextextended(${key}, 0) as h) k
     where l.locktype = 'advisory' and not l.granted
       and l.classid::bigint = ((k.h >> 32) & 4294967295) and l.objid::bigint = (k.h & 4294967295)`);
  return row!.n;
}

/**
 * Holds `key`'s advisory lock in a transaction of its own while `during` runs; the lock goes when it returns.
 * What `during` answers is handed back: promises in it (requests waiting on the lock) settle after. (An object:
 * postgres.js would await an array's promises inside the transaction, with the lock still held.)
 */
export async function holdingAdvisoryLock<T extends Record<string, unknown>>(key: string, during: () => Promise<T>): Promise<T> {
  const holder = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    return (await holder.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
      return during();
    })) as T;
  } finally {
    await holder.end();
  }
}
