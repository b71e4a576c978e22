// The send activity on its own, against a real database and real HTTP servers that misbehave: a provider
// that never answers (the attempt must end inside its own start-to-close, request aborted, heartbeating),
// a provider that echoes the message back in its error (content redacted everywhere), and a suppressed
// address (never sent).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../activities/deps.js';
import { createNotificationActivities, type SendInput } from '../../activities/notifications.js';
import { connectDatabase, type DbHandle } from '../../db/client.js';
import { notifications } from '../../db/schema/index.js';
import { BlobStore } from '../../lib/blob-store.js';
import { Encryptor } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import { sealContent, type NotificationContent } from '../../lib/notifications/content.js';
import { SmsGatewayProvider } from '../../lib/notifications/providers/gateways.js';
import type { NotificationProvider } from '../../lib/notifications/providers/index.js';
import { suppressAddress } from '../../lib/notifications/suppressions.js';
import { SecretStore } from '../../lib/secret-store.js';
import type { MailIndex } from '../../lib/mail-index/types.js';
import { testConfig } from '../helpers/config.js';

const config = testConfig({ PROVIDER_TIMEOUT_MS: '60000' });
let database: DbHandle;
let deps: ActivityDeps;
const logLines: string[] = [];
const servers: Server[] = [];
const retry = { maximumAttempts: 3, initialIntervalMs: 100, maximumIntervalMs: 200, backoffCoefficient: 2 };

beforeAll(() => {
  database = connectDatabase(config.DATABASE_URL, { max: 3 });
  const encryptor = new Encryptor(config.ENCRYPTION_KEYS);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  deps = {
    config,
    db: database.db,
    encryptor,
    logger: pino({ level: 'debug' }, sink),
    blobs: new BlobStore(database.db),
    secrets: new SecretStore(database.db, encryptor),
    mailIndex: {} as MailIndex,
  };
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await database?.close();
});

/** A real HTTP server; `handle` decides what each request gets. */
async function provider(handle: (body: string, req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => handle(body, req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function insertNotification(channel: 'EMAIL' | 'SMS', recipients: string[], content: NotificationContent, owner = 'admin'): Promise<string> {
  const id = newId('ntf');
  await database.db.insert(notifications).values({
    id,
    owner,
    channel,
    priority: 'medium',
    recipient: recipients.join(', '),
    recipients,
    body: '',
    subject: channel === 'EMAIL' ? 'Hello' : null,
    contentSealed: sealContent(deps.encryptor, id, content),
    workflowId: `notification-${id}`,
    deadlineAt: new Date(Date.now() + 60_000),
  });
  return id;
}

const row = async (id: string) => (await database.db.select().from(notifications).where(eq(notifications.id, id)))[0]!;
const unused: NotificationProvider = { name: 'unused', channel: 'EMAIL', send: () => Promise.reject(new Error('must not be called')) };

describe('sendNotification', () => {
  it('abandons a provider request that outlives the attempt, inside its start-to-close, and heartbeats while it waits', async () => {
    let aborted = false;
    const url = await provider((_body, req) => {
      req.socket.on('close', () => {
        aborted = true;
      });
    }); // never answers
    const sms = new SmsGatewayProvider({ apiUrl: url, apiKey: 'k', timeoutMs: config.PROVIDER_TIMEOUT_MS });
    const activities = createNotificationActivities(deps, { EMAIL: unused, SMS: sms, PUSH: unused });
    const id = await insertNotification('SMS', ['+15550100'], { text: 'hello', html: null, params: null });
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 2_500, attempt: 1 });
    let heartbeats = 0;
    env.on('heartbeat', () => {
      heartbeats += 1;
    });
    const started = Date.now();
    await expect(env.run((input: SendInput) => activities.sendNotification(input), { notificationId: id, retry })).rejects.toThrow(/abandoned after \d+ ms/);
    const took = Date.now() - started;
    expect(took).toBeLessThan(2_500);
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(heartbeats).toBeGreaterThanOrEqual(1);
    await expect.poll(() => aborted).toBe(true);
    const n = await row(id);
    expect(n.status).toBe('RETRYING');
    expect(n.errorMessage).toMatch(/abandoned/);
  });

  it('stops at once when Temporal cancels the attempt, and records nothing', async () => {
    let reached!: () => void;
    const requestArrived = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const url = await provider(() => reached()); // never answers
    const sms = new SmsGatewayProvider({ apiUrl: url, apiKey: 'k', timeoutMs: config.PROVIDER_TIMEOUT_MS });
    const activities = createNotificationActivities(deps, { EMAIL: unused, SMS: sms, PUSH: unused });
    const id = await insertNotification('SMS', ['+15550100'], { text: 'hello', html: null, params: null });
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 30_000, attempt: 1 });
    const running = env.run((input: SendInput) => activities.sendNotification(input), { notificationId: id, retry });
    await requestArrived;
    const started = Date.now();
    env.cancel('CANCELLED');
    await expect(running).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await row(id)).status).toBe('PENDING');
  });

  it('keeps the message content out of errorMessage and the logs when the provider echoes it', async () => {
    const url = await provider((body, _req, res) => {
      res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid message', received: JSON.parse(body) as unknown }));
    });
    const sms = new SmsGatewayProvider({ apiUrl: url, apiKey: 'k', timeoutMs: 5_000 });
    const activities = createNotificationActivities(deps, { EMAIL: unused, SMS: sms, PUSH: unused });
    const text = 'Your Mailflow sign-in code is 918273. It expires in 10 minutes.';
    const id = await insertNotification('SMS', ['+15550100'], { text, html: null, params: { code: '918273' } });
    logLines.length = 0;
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_000, attempt: 1 });
    const failure = await env
      .run((input: SendInput) => activities.sendNotification(input), { notificationId: id, retry })
      .then(
        () => new Error('sent'),
        (e: unknown) => e as Error,
      );
    expect(failure.message).toContain('422');
    expect(failure.message).toContain('[redacted]');
    expect(failure.message).not.toContain('918273');
    const n = await row(id);
    expect(n.status).toBe('FAILED');
    expect(n.errorMessage).toContain('[redacted]');
    expect(n.errorMessage).not.toContain('918273');
    expect(logLines.join('')).toContain('422');
    expect(logLines.join('')).not.toContain('918273');
    // Stored sealed: nothing of the code in the row.
    expect(JSON.stringify(n)).not.toContain('918273');
  });

  it('never sends to a suppressed address: FAILED with the reason, the provider untouched', async () => {
    let calls = 0;
    const email: NotificationProvider = {
      name: 'counting',
      channel: 'EMAIL',
      send: () => {
        calls += 1;
        return Promise.resolve({ provider: 'counting', providerMessageId: 'm' });
      },
    };
    const activities = createNotificationActivities(deps, { EMAIL: email, SMS: unused, PUSH: unused });
    await suppressAddress(database.db, { owner: 'key_suppress', address: 'Jane@Example.com', reason: 'complained', detail: null, notificationId: null });
    const id = await insertNotification('EMAIL', ['jane@example.com'], { text: 'hi', html: null, params: null }, 'key_suppress');
    const other = await insertNotification('EMAIL', ['jane@example.com'], { text: 'hi', html: null, params: null }, 'key_other');
    const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 10_000, attempt: 1 });
    await expect(env.run((input: SendInput) => activities.sendNotification(input), { notificationId: id, retry })).rejects.toMatchObject({
      type: 'RecipientSuppressed',
      nonRetryable: true,
    });
    expect(calls).toBe(0);
    const n = await row(id);
    expect(n.status).toBe('FAILED');
    expect(n.errorMessage).toMatch(/jane@example\.com is on the suppression list \(complained/);
    // Another tenant's list is its own.
    await env.run((input: SendInput) => activities.sendNotification(input), { notificationId: other, retry });
    expect(calls).toBe(1);
  });
});
