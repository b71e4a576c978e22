// Priority isolation under a LOW backlog, and a worker process killed mid-send leaving no duplicate.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { testConfig, unique } from '../helpers/config.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

let api: TestApi;
let sims: ProviderSimulators;

beforeAll(async () => {
  sims = await startProviderSimulators({});
}, 30_000);
afterAll(async () => {
  await api?.close();
  await sims?.close();
});

async function submit(userId: string, priority: string): Promise<string> {
  const response = await api.request('/v1/notifications', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      userId,
      type: 'SMS',
      templateId: 'ORDER_SHIPPED_SMS',
      to: '+15550100',
      priority,
      templateParams: { orderId: 'A1', trackingUrl: 'https://t.example/1' },
    }),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

async function status(id: string): Promise<{ status: string; sentAt: string | null; createdAt: string }> {
  return (await (await api.request(`/v1/notifications/${id}`)).json()) as { status: string; sentAt: string | null; createdAt: string };
}

describe('priority isolation', () => {
  let workers: RunningWorkers | undefined;
  afterAll(async () => {
    await workers?.stop();
  });

  it('sends a CRITICAL notification within its deadline behind a backlog of LOW', async () => {
    const env = {
      ...sims.env,
      TASK_QUEUE_PREFIX: `${unique('iso')}-`,
      SEND_CONCURRENCY_LOW: '2',
      SEND_CONCURRENCY_CRITICAL: '4',
      RATE_LIMIT_USER_COUNT: '10000',
    };
    api = await startTestApi(env);
    // Every send takes 300 ms: two LOW slots drain about 6 per second.
    await sims.setFaults('sms', { latencyMs: 300 });
    const userId = unique('backlog');
    const low: string[] = [];
    for (let i = 0; i < 200; i++) low.push(await submit(userId, 'LOW'));
    workers = await startRoleWorkers(testConfig(env), ['delivery', 'sms']);
    // The backlog is draining when the critical one comes.
    await waitUntil('the LOW backlog draining', async () => ((await sims.ledger('sms')).length >= 2 ? true : undefined));
    const critical = await submit(unique('vip'), 'HIGH');
    const deadline = Date.now() + 15_000;
    let n = await status(critical);
    while (!n.sentAt && Date.now() < deadline) {
      await sleep(100);
      n = await status(critical);
    }
    expect(n.sentAt, 'critical was not sent within 15 s').not.toBeNull();
    const latencyMs = Date.parse(n.sentAt!) - Date.parse(n.createdAt);
    expect(latencyMs).toBeLessThan(5_000);
    // The LOW backlog was still there when CRITICAL went out.
    const lowSent = (await Promise.all(low.map(status))).filter((x) => x.sentAt && Date.parse(x.sentAt) <= Date.parse(n.sentAt!)).length;
    expect(lowSent).toBeLessThan(150);
    await sims.setFaults('sms', { latencyMs: 0 });
  }, 90_000);
});

describe('a worker killed mid-send', () => {
  it('leaves exactly one message in the provider ledger', async () => {
    const env = { ...sims.env, TASK_QUEUE_PREFIX: `${unique('kill')}-` };
    await api?.close();
    api = await startTestApi(env);
    await sims.resetAll();
    // The workflow worker runs here; the SMS sender runs in a child process we can kill.
    const workflows = await startRoleWorkers(testConfig(env), ['delivery']);
    const spawnSender = () => spawnWorkerProcess('sms', { ...env, LOG_LEVEL: 'debug' });
    const waitRunning = (s: WorkerProcess) => s.ready;
    const first = spawnSender();
    let second: ReturnType<typeof spawnSender> | undefined;
    try {
      await waitRunning(first);
      // The provider answers only after 10 s: the kill lands while the request is in flight.
      await sims.setFaults('sms', { latencyMs: 10_000 });
      const id = await submit(unique('killed'), 'HIGH');
      // The provider records a message as it arrives and answers 10 s later: once the ledger has it, the
      // request is in flight, and the kill lands before its answer (a log line alone could come before the
      // request leaves, and the kill would then land before the provider saw anything).
      await waitUntil('the request at the provider', async () => ((await sims.ledger('sms')).length >= 1 ? true : undefined), 20_000);
      first.child.kill('SIGKILL');
      await sims.setFaults('sms', { latencyMs: 0 });
      second = spawnSender();
      await waitRunning(second);
      // The dead worker's heartbeats stop (heartbeat timeout 5 s), and the retry runs on the new worker.
      const done = Date.now() + 60_000;
      let n = await status(id);
      while (n.status !== 'SENT' && Date.now() < done) {
        await sleep(250);
        n = await status(id);
      }
      expect(n.status).toBe('SENT');
      const ledger = await sims.ledger('sms');
      expect(ledger).toHaveLength(1);
      expect(ledger[0]).toMatchObject({ idempotencyKey: `mailflow-${id}` });
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await workflows.stop();
    }
  }, 150_000);
});
