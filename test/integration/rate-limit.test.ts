// The sliding-window limit on the real database, with the interleaving that made Retry-After exceed the
// window forced: a hit stamped later than the checking transaction began (its writer waited on the lock).
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { consumeRateLimits, lockKeys, RateLimitExceededError, type RateLimit } from '../../lib/notifications/rate-limit.js';
import { testConfig, unique } from '../helpers/config.js';

const database = connectDatabase(testConfig().DATABASE_URL, { max: 2 });
afterAll(async () => {
  await database.close();
});

describe('rate-limit Retry-After', () => {
  it('never exceeds the window, even when the blocking hit was stamped after this transaction began', async () => {
    const limit: RateLimit = { key: unique('rl'), limit: 1, windowSeconds: 60, description: '1 per 60 s' };
    const error = await database.db.transaction(async (tx) => {
      await lockKeys(tx, [limit.key]);
      // Another process's hit, committed while this transaction waited: stamped two seconds after our now().
      await tx.execute(sql`insert into rate_limit_hits (key, at) values (${limit.key}, now() + interval '2 seconds')`);
      return consumeRateLimits(tx, [limit]).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect((error as RateLimitExceededError).retryAfterSeconds).toBeLessThanOrEqual(60);
  });
});
