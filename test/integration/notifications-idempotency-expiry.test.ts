// An Idempotency-Key older than IDEMPOTENCY_TTL_HOURS is free again: the same request is a new notification
// (its id derived from the old one, so repeats of it still collapse), the old one keeps its row without the
// key, and the new one counts against the rate limit. The key's age is set by moving created_at back.
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifications } from '../../db/schema/index.js';
import { admitNotification, idFromIdempotencyKey, type AdmissionDeps, type AdmissionRequest } from '../../lib/notifications/admission.js';
import { RateLimitExceededError } from '../../lib/notifications/rate-limit.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

let api: TestApi;
let deps: AdmissionDeps;
// No worker polls this prefix: the runs start and wait, nothing is sent.
beforeAll(async () => {
  api = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('exp')}-`, RATE_LIMIT_USER_COUNT: '2' });
  deps = { db: api.deps.db, temporal: api.deps.temporal, config: api.deps.config, encryptor: api.deps.encryptor };
}, 30_000);
afterAll(async () => {
  await api?.close();
});

describe('an expired Idempotency-Key', () => {
  it('admits the request again as a new notification with a derived id, counted by the rate limit', async () => {
    const key = unique('key');
    const request: AdmissionRequest = {
      scope: 'admin',
      idempotencyKey: key,
      fingerprint: { body: 'same' },
      userId: unique('user'),
      channel: 'SMS',
      priority: 'low',
      recipients: ['+15550111'],
      text: 'Your parcel left the depot',
    };
    const first = await admitNotification(deps, request);
    expect(first).toMatchObject({ created: true, notification: { id: idFromIdempotencyKey('admin', key) } });
    expect(await admitNotification(deps, request)).toMatchObject({ created: false, notification: { id: first.notification.id } });

    await api.deps.db.execute(sql`update notifications set created_at = now() - interval '25 hours' where id = ${first.notification.id}`);
    const second = await admitNotification(deps, request);
    expect(second).toMatchObject({ created: true, notification: { id: idFromIdempotencyKey('admin', key, first.notification.id) } });
    const [old] = await api.deps.db.select().from(notifications).where(eq(notifications.id, first.notification.id));
    expect(old?.idempotencyKey).toBeNull();
    // A repeat now collapses into the new one.
    expect(await admitNotification(deps, request)).toMatchObject({ created: false, notification: { id: second.notification.id } });
    // Both admissions counted (limit 2 per user): a third notification for the user is refused.
    await expect(admitNotification(deps, { ...request, idempotencyKey: unique('other'), fingerprint: { body: 'other' } })).rejects.toBeInstanceOf(
      RateLimitExceededError,
    );
  });
});
