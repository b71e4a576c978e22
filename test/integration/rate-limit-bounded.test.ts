// The rate-limit log stays bounded: a key keeps only the hits inside its window, and hits of keys nobody
// uses again are swept once they are older than every window. Windows passing are simulated by ageing the
// rows (moving `at` back), so nothing waits on the clock.
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { consumeRateLimits, LONGEST_WINDOW_SECONDS, lockKeys, RateLimitExceededError, type RateLimit } from '../../lib/notifications/rate-limit.js';
import { testConfig, unique } from '../helpers/config.js';
import { deferred } from '../helpers/wait.js';

const database = connectDatabase(testConfig().DATABASE_URL, { max: 4 });
afterAll(async () => {
  await database.close();
});
const { db } = database;

function limitOf(limit: number, windowSeconds = 60): RateLimit {
  return { key: unique('rl'), limit, windowSeconds, description: `${limit} per ${windowSeconds} s` };
}

async function consume(limit: RateLimit): Promise<unknown> {
  return db.transaction(async (tx) => {
    await lockKeys(tx, [limit.key]);
    return consumeRateLimits(tx, [limit]).then(
      () => undefined,
      (e: unknown) => e,
    );
  });
}

async function ages(key: string): Promise<number[]> {
  const rows = await db.execute<{ age: number }>(sql`
    select extract(epoch from (now() - at))::float8 as age from rate_limit_hits where key = ${key} order by at`);
  return rows.map((r) => Math.round(r.age));
}

async function age(key: string, seconds: number): Promise<void> {
  await db.execute(sql`update rate_limit_hits set at = at - make_interval(secs => ${seconds}) where key = ${key}`);
}

describe('rate-limit log bounds', () => {
  it('keeps a key to the hits inside its window, however many windows pass', async () => {
    const limit = limitOf(3);
    for (let window = 0; window < 10; window++) {
      for (let i = 0; i < 3; i++) expect(await consume(limit)).toBeUndefined();
      // The limit is still exact: the fourth hit in the window is refused.
      expect(await consume(limit)).toBeInstanceOf(RateLimitExceededError);
      expect((await ages(limit.key)).length).toBe(3);
      await age(limit.key, 61); // the window passes
    }
    // Ten windows later the key holds only the hits of the window that just ended, not thirty.
    expect((await ages(limit.key)).length).toBe(3);
    expect(await consume(limit)).toBeUndefined();
    expect(await ages(limit.key)).toEqual([0]);
  });

  it('removes only the expired hits of the key it counts', async () => {
    const limit = limitOf(5);
    await db.execute(sql`insert into rate_limit_hits (key, at) values
      (${limit.key}, now() - interval '10 minutes'), (${limit.key}, now() - interval '61 seconds'), (${limit.key}, now() - interval '30 seconds')`);
    expect(await consume(limit)).toBeUndefined();
    expect(await ages(limit.key)).toEqual([30, 0]);
  });

  it('sweeps hits of unused keys once they are older than the longest window, and keeps younger ones', async () => {
    const unused = unique('rl-unused');
    await db.execute(sql`insert into rate_limit_hits (key, at) values
      (${unused}, now() - make_interval(secs => ${LONGEST_WINDOW_SECONDS + 60})), (${unused}, now() - interval '1 day')`);
    expect(await consume(limitOf(5))).toBeUndefined();
    expect(await ages(unused)).toEqual([86_400]);
  });

  it('skips a swept hit another transaction holds, without waiting for it', async () => {
    const unused = unique('rl-held');
    await db.execute(sql`insert into rate_limit_hits (key, at) values (${unused}, now() - make_interval(secs => ${LONGEST_WINDOW_SECONDS + 60}))`);
    const release = deferred();
    const held = deferred();
    const holder = db.transaction(async (tx) => {
      await tx.execute(sql`select id from rate_limit_hits where key = ${unused} for update`);
      held.resolve();
      await release.promise;
    });
    await held.promise;
    try {
      // Would block on the held row without skip locked; the statement timeout turns that into a failure.
      await db.transaction(async (tx) => {
        await tx.execute(sql`set local statement_timeout = '3s'`);
        const limit = limitOf(5);
        await lockKeys(tx, [limit.key]);
        await consumeRateLimits(tx, [limit]);
      });
      expect((await ages(unused)).length).toBe(1);
    } finally {
      release.resolve();
      await holder;
    }
    expect(await consume(limitOf(5))).toBeUndefined();
    expect(await ages(unused)).toEqual([]);
  });
});
