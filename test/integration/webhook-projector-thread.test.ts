// The webhook projector's thread (workers/webhook-projector-host.ts) in a database of its own, so that no
// other file's projector takes its outbox rows: it projects an outbox row into a delivery and asks its
// parent to wake the endpoint; a thread that dies is started again and projects what was recorded since;
// stopping it ends the thread.
import type { Worker } from 'node:worker_threads';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../db/migrate.js';
import { createLogger } from '../../lib/logger.js';
import { newProjectorThread, startProjectorThread } from '../../workers/webhook-projector-host.js';
import { testConfig, unique } from '../helpers/config.js';
import { until } from '../helpers/wait.js';

const admin = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
const name = unique('projector').replace(/-/g, '_');
const url = new URL(testConfig().DATABASE_URL);
url.pathname = `/${name}`;
const db = postgres(url.toString(), { max: 2, onnotice: () => {} });

beforeAll(async () => {
  await admin.unsafe(`create database "${name}"`);
  await runMigrations(url.toString());
  await db`insert into webhook_endpoints (id, owner, url, event_types, secret_sealed, created_at)
           values ('whe_thread', 'tenant_thread', 'https://hooks.example.com/in', ${['notification.sent']}, 'sealed', now() - interval '1 minute')`;
});
afterAll(async () => {
  await db.end();
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

/** Records a notification's SENT status as the trigger does, committing it (its NOTIFY wakes the projector). */
async function recordSent(notificationId: string): Promise<void> {
  await db.begin(async (sql) => {
    await sql`insert into webhook_outbox (owner, source, ordering_key, data) values ('tenant_thread', 'notification', ${notificationId},
      ${sql.json({ notificationId, status: 'SENT', previousStatus: 'SENDING', reason: null, at: new Date().toISOString(), channel: 'SMS', priority: 'medium' })})`;
    await sql`select pg_notify('webhook_outbox', '')`;
  });
}

const deliveriesFor = async (notificationId: string) =>
  (await db<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where endpoint_id = 'whe_thread' and ordering_key = ${notificationId}`)[0]!.n;

describe('the webhook projector thread', () => {
  it('projects outbox rows and has its parent wake the endpoint; started again when it dies; ended by stop', async () => {
    const threads: Worker[] = [];
    const woken: string[] = [];
    const service = await startProjectorThread({
      data: { databaseUrl: url.toString(), logLevel: 'silent', retentionDays: 7 },
      logger: createLogger({ level: 'silent' }),
      wake: (endpointId) => {
        woken.push(endpointId);
        return Promise.resolve();
      },
      spawn: (data) => {
        const thread = newProjectorThread(data);
        threads.push(thread);
        return thread;
      },
    });
    try {
      await recordSent('ntf_first');
      await until('the first row projected', async () => (await deliveriesFor('ntf_first')) === 1);
      await until('the endpoint woken through the parent', () => Promise.resolve(woken.includes('whe_thread')));

      // The thread dies: another is started, and what is recorded meanwhile is projected by it.
      const exited = new Promise((resolve) => threads[0]!.once('exit', resolve));
      await threads[0]!.terminate();
      await exited;
      woken.length = 0;
      await recordSent('ntf_second');
      await until('a new thread started', () => Promise.resolve(threads.length === 2));
      await until('the row recorded after the death projected', async () => (await deliveriesFor('ntf_second')) === 1);
      await until('the endpoint woken again', () => Promise.resolve(woken.includes('whe_thread')));
      expect(await deliveriesFor('ntf_first')).toBe(1);
      expect((await db<{ n: number }[]>`select count(*)::int as n from webhook_outbox`)[0]!.n).toBe(0);
    } finally {
      const ended = threads.length > 0 ? new Promise((resolve) => threads[threads.length - 1]!.once('exit', resolve)) : Promise.resolve();
      await service.stop();
      await ended;
    }
    expect(threads).toHaveLength(2);
  });
});
