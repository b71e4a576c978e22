// CRITICAL admissions have connections of their own (DATABASE_CRITICAL_POOL_SIZE), so a burst of other
// priorities queued for the main pool never delays one. Forced here: the API's only main-pool connection is
// held in an open transaction, so a MEDIUM request cannot be admitted; a CRITICAL one still is, at once.
// After commit, a CRITICAL workflow start never waits for a start slot: forced with a Temporal client whose
// interceptor holds every MEDIUM start until released, with every slot taken by them.
import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationStarts } from '../../lib/notifications/starts.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('crit')}-`, DATABASE_POOL_SIZE: '1', DATABASE_CRITICAL_POOL_SIZE: '1' });
});
afterAll(async () => {
  await api?.close();
});

const post = (priority: string) =>
  api.request('/v1/notifications', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      userId: unique('user'),
      type: 'SMS',
      templateId: 'ORDER_SHIPPED_SMS',
      to: '+15550100',
      templateParams: { orderId: 'C1', trackingUrl: 'https://t.example/c' },
      priority,
    }),
  });

describe('CRITICAL admission with the main pool exhausted', () => {
  it('admits a CRITICAL request while a MEDIUM one waits for a connection, then the MEDIUM one', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    // The main pool's one connection, busy until released.
    const hold = api.deps.db.transaction(async (tx) => {
      await tx.execute('select 1');
      holding();
      await released;
    });
    await held;

    let mediumDone = false;
    const medium = post('MEDIUM').then((r) => {
      mediumDone = true;
      return r;
    });
    const critical = await Promise.race([
      post('HIGH'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the CRITICAL request waited for the main pool')), 10_000)),
    ]);
    expect(critical.status).toBe(202);
    const { id } = (await critical.json()) as { id: string };
    // The main pool is still held: the MEDIUM request has not been admitted.
    expect(mediumDone).toBe(false);

    release();
    await hold;
    expect((await medium).status).toBe(202);
    const stored = (await (await api.request(`/v1/notifications/${id}`)).json()) as { priority: string; status: string };
    expect(stored).toMatchObject({ priority: 'critical', status: 'PENDING' });
  });
});

describe('CRITICAL workflow starts with every start slot taken', () => {
  it('starts a CRITICAL run while MEDIUM starts hold both slots, then the MEDIUM ones', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: string[] = [];
    const holdMedium: WorkflowClientInterceptor = {
      async start(input, next) {
        const { priority, notificationId } = input.options.args[0] as { priority: string; notificationId: string };
        if (priority !== 'critical') await released;
        const runId = await next(input);
        started.push(notificationId); // once the server has the run
        return runId;
      },
    };
    const temporal = new Client({
      connection: api.deps.temporal.connection,
      namespace: api.deps.config.TEMPORAL_NAMESPACE,
      interceptors: { workflow: [holdMedium] },
    });
    const starts = new NotificationStarts({ db: api.deps.db, temporal, config: api.deps.config }, { concurrency: 2 });
    api.deps.notificationStarts = starts;

    const ids: Record<string, string> = {};
    for (const [name, priority] of [
      ['medium1', 'MEDIUM'],
      ['medium2', 'MEDIUM'],
      ['medium3', 'MEDIUM'],
      ['critical', 'HIGH'],
    ] as const) {
      const response = await post(priority);
      expect(response.status).toBe(202);
      ids[name] = ((await response.json()) as { id: string }).id;
    }
    const until = Date.now() + 10_000;
    while (!started.includes(ids.critical!)) {
      if (Date.now() > until) throw new Error('the CRITICAL start waited for a slot');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(started).toEqual([ids.critical]);
    await api.deps.temporal.workflow.getHandle(`notification-${ids.critical!}`).describe();

    release();
    await starts.drain(10_000);
    expect(new Set(started)).toEqual(new Set(Object.values(ids)));
  });
});
