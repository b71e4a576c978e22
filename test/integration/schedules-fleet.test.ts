// The done-when check: three delivery worker processes share the firings of a schedule that fires
// every 2 seconds for a minute, and the email simulator's ledger holds exactly one message per firing, with
// no slot missing and none twice (Temporal's Schedule fires each slot once; the slot's idempotency key
// makes any repeat a no-op).
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scheduleFirings } from '../../db/schema/index.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';

const env: Record<string, string> = { TASK_QUEUE_PREFIX: `${unique('schf')}-`, RATE_LIMIT_USER_COUNT: '1000' };
let api: TestApi;
let sims: ProviderSimulators;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  api = await startTestApi(env);
  sims = await startProviderSimulators({});
  Object.assign(env, sims.env);
  const spawned = [1, 2, 3].map(() => spawnWorkerProcess('delivery,email', env));
  workers.push(...spawned);
  await Promise.all(spawned.map((w) => w.ready));
}, 120_000);
afterAll(async () => {
  await Promise.all(
    workers.map(async ({ child }) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }),
  );
  await sims?.close();
  await api?.close();
});

it('three delivery workers, every 2 s for a minute: one message per firing, no gap, no duplicate', async () => {
  const receiver = `${unique('fleet')}@example.com`;
  const startAt = new Date(Math.ceil((Date.now() + 2_000) / 2_000) * 2_000);
  const endAt = new Date(startAt.getTime() + 60_000);
  const created = await api.request('/v1/schedules', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: { sender: 'shop@example.com', receiver, subject: 'Every 2 s', content: 'Tick' },
      when: { type: 'interval', everySeconds: 2, startAt: startAt.toISOString(), endAt: endAt.toISOString() },
    }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id } = (await created.json()) as { id: string };

  await sleep(endAt.getTime() - Date.now() + 3_000);
  const deadline = Date.now() + 20_000;
  let ledger: Record<string, unknown>[] = [];
  let firings: (typeof scheduleFirings.$inferSelect)[] = [];
  for (;;) {
    firings = await api.deps.db.select().from(scheduleFirings).where(eq(scheduleFirings.scheduleId, id));
    ledger = (await sims.ledger('mailgun')).filter((m) => JSON.stringify(m.to).includes(receiver));
    if ((ledger.length >= firings.length && firings.length >= 30) || Date.now() > deadline) break;
    await sleep(500);
  }

  const times = firings.map((f) => f.scheduledAt.getTime()).sort((a, b) => a - b);
  // Every 2-second slot from start to end, each once.
  expect(times[0]).toBe(startAt.getTime());
  expect(times[times.length - 1]).toBeGreaterThanOrEqual(endAt.getTime() - 2_000);
  expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(Array(times.length - 1).fill(2_000));
  expect(firings.every((f) => f.outcome === 'CREATED')).toBe(true);
  expect(new Set(firings.map((f) => f.notificationId)).size).toBe(firings.length);
  // One message per firing in the provider's ledger.
  expect(ledger).toHaveLength(firings.length);
  // The firings were shared by the fleet, not run by one process.
  const firingProcesses = workers.filter((w) => w.output().includes(`"scheduleId":"${id}"`)).length;
  expect(firingProcesses).toBeGreaterThanOrEqual(2);
}, 150_000);
