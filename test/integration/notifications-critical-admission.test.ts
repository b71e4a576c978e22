// CRITICAL admissions have connections of their own (DATABASE_CRITICAL_POOL_SIZE), so a burst of other
// priorities queued for the main pool never delays one. Forced here: the API's only main-pool connection is
// held in an open transaction, so a MEDIUM request cannot be admitted; a CRITICAL one still is, at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi({ TASK_QUEUE_PREFIX: `${unique('crit')}-`, DATABASE_POOL_SIZE: '1', DATABASE_CRITICAL_POOL_SIZE: '1' });
});
afterAll(async () => {
  await api?.close();
});

const post = (priority: string) => api.request('/v1/notifications', {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ userId: unique('user'), type: 'SMS', templateId: 'ORDER_SHIPPED_SMS', to: '+15550100', templateParams: { orderId: 'C1', trackingUrl: 'https://t.example/c' }, priority }),
});

describe('CRITICAL admission with the main pool exhausted', () => {
  it('admits a CRITICAL request while a MEDIUM one waits for a connection, then the MEDIUM one', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let holding!: () => void;
    const held = new Promise<void>((resolve) => { holding = resolve; });
    // The main pool's one connection, busy until released.
    const hold = api.deps.db.transaction(async (tx) => {
      await tx.execute('select 1');
      holding();
      await released;
    });
    await held;

    let mediumDone = false;
    const medium = post('MEDIUM').then((r) => { mediumDone = true; return r; });
    const critical = await Promise.race([
      post('HIGH'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the CRITICAL request waited for the main pool')), 10_000)),
    ]);
    expect(critical.status).toBe(202);
    const { id } = await critical.json() as { id: string };
    // The main pool is still held: the MEDIUM request has not been admitted.
    expect(mediumDone).toBe(false);

    release();
    await hold;
    expect((await medium).status).toBe(202);
    const stored = await (await api.request(`/v1/notifications/${id}`)).json() as { priority: string; status: string };
    expect(stored).toMatchObject({ priority: 'critical', status: 'PENDING' });
  });
});
