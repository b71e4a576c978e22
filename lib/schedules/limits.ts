// What a tenant may ask of the scheduler: how many schedules it keeps (SCHEDULES_MAX_ACTIVE_PER_TENANT), how
// often one may fire (SCHEDULE_MIN_INTERVAL_SECONDS), and how often it may preview run times (a preview
// creates and deletes a Temporal Schedule: SCHEDULE_PREVIEW_RATE_COUNT per SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS
// per API key). The tenant is the schedule's owner string as the caller gives it.
import { and, count, eq, gt, isNull, ne, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { schedules } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import { consumeRateLimits, lockKeys, type RateLimit } from '../notifications/rate-limit.js';
import type { When } from './spec.js';

/** The tenant already has as many schedules as it may keep (not archived, not ended). */
export class ScheduleCapError extends Error {
  constructor(readonly limit: number) {
    super(`a tenant may keep at most ${limit} schedules that have not ended (SCHEDULES_MAX_ACTIVE_PER_TENANT=${limit}); delete one first`);
    this.name = 'ScheduleCapError';
  }
}

/** Two firings would come closer together than the configured minimum. */
export class ScheduleTooFrequentError extends Error {
  constructor(
    readonly path: string,
    readonly gapSeconds: number,
    readonly minSeconds: number,
  ) {
    super(`fires ${gapSeconds} s apart; the shortest interval allowed between two firings is ${minSeconds} s (SCHEDULE_MIN_INTERVAL_SECONDS=${minSeconds})`);
    this.name = 'ScheduleTooFrequentError';
  }
}

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Runs `insert` only while the tenant has fewer than the cap of schedules that count: not archived, and not
 * past their end (one that ended is only waiting for its last jittered or caught-up slot and its archive).
 * The count and the insert hold the tenant's advisory lock, so concurrent creates in any API process never
 * go over the cap together.
 */
export async function withinCap<T>(
  db: Database,
  config: Pick<Config, 'SCHEDULES_MAX_ACTIVE_PER_TENANT'>,
  owner: string,
  insert: (tx: Tx) => Promise<T>,
): Promise<T> {
  const cap = config.SCHEDULES_MAX_ACTIVE_PER_TENANT;
  return db.transaction(async (tx) => {
    await lockKeys(tx, [`schedules-of:${owner}`]);
    const [row] = await tx
      .select({ n: count() })
      .from(schedules)
      .where(and(eq(schedules.owner, owner), ne(schedules.status, 'ARCHIVED'), or(isNull(schedules.endAt), gt(schedules.endAt, sql`now()`))));
    if ((row?.n ?? 0) >= cap) throw new ScheduleCapError(cap);
    return insert(tx);
  });
}

/** An `every` spec shorter than the minimum; other kinds are checked on their run times (checkGaps). */
export function checkEvery(when: When, minSeconds: number): void {
  if (when.type === 'interval' && when.everySeconds < minSeconds) throw new ScheduleTooFrequentError('when.everySeconds', when.everySeconds, minSeconds);
}

/**
 * The smallest gap between consecutive run times Temporal computed (nominal times, before jitter: jitter
 * moves a firing within its slot, it does not add firings). Temporal answers the next ten, which shows
 * every gap of a daily or weekly pattern; a spec whose only short gap comes later is not caught.
 */
export function checkGaps(when: When, times: Date[], minSeconds: number): void {
  if (when.type !== 'cron' && when.type !== 'calendar') return;
  const sorted = times.map((t) => t.getTime()).sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((t, i) => (t - sorted[i]!) / 1000);
  const smallest = Math.min(...gaps);
  if (gaps.length > 0 && smallest < minSeconds)
    throw new ScheduleTooFrequentError(when.type === 'cron' ? 'when.expression' : 'when.calendar', smallest, minSeconds);
}

/** The preview limit of one API key (not of its tenant: each key has its own budget). */
export function previewLimit(config: Pick<Config, 'SCHEDULE_PREVIEW_RATE_COUNT' | 'SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS'>, apiKey: string): RateLimit {
  const limit = config.SCHEDULE_PREVIEW_RATE_COUNT;
  const windowSeconds = config.SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS;
  return { key: `schedule-preview:${apiKey}`, limit, windowSeconds, description: `${limit} schedule previews per ${windowSeconds} s per API key` };
}

/** Counts one preview, or throws RateLimitExceededError (with its Retry-After) through the shared sliding-window log. */
export async function consumePreview(db: Database, limit: RateLimit): Promise<void> {
  await db.transaction(async (tx) => {
    await lockKeys(tx, [limit.key]);
    await consumeRateLimits(tx, [limit]);
  });
}
