// The simulators' own contract: auth, dedup by idempotency key, deterministic faults, rate limits with
// Retry-After, SMTP dedup by Message-ID, and signed webhooks Mailflow's verifier accepts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyMailgunSignature } from '../lib/notifications/providers/index.js';
import { formOf } from '../test/helpers/requests.js';
import { startMailgunSimulator } from './mailgun/server.js';
import { startSmsSimulator } from './sms/server.js';
import { startSmtpSimulator } from './smtp/server.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

const sms = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer key-12345678', 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('SMS gateway simulator', () => {
  it('checks the key and the number, and dedupes by idempotency key', async () => {
    const sim = await startSmsSimulator({ apiKey: 'key-12345678' });
    closers.push(() => sim.close());
    expect((await sms(sim.url, { to: '+15550100', body: 'x' }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await sms(sim.url, { to: '555', body: 'x' })).status).toBe(400);
    const first = (await (await sms(sim.url, { to: '+15550100', body: 'hi' }, { 'idempotency-key': 'k1' })).json()) as { id: string };
    const again = (await (await sms(sim.url, { to: '+15550100', body: 'hi' }, { 'idempotency-key': 'k1' })).json()) as { id: string };
    expect(again.id).toBe(first.id);
    expect(sim.ledger()).toHaveLength(1);
  });

  it('injects failNext, outage and a rate limit with Retry-After', async () => {
    const sim = await startSmsSimulator({ apiKey: 'key-12345678' });
    closers.push(() => sim.close());
    const faults = (f: unknown) =>
      fetch(`${sim.url}/_control/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) });
    await faults({ failNext: { count: 2, status: 502 } });
    expect([
      (await sms(sim.url, { to: '+15550100', body: 'a' })).status,
      (await sms(sim.url, { to: '+15550100', body: 'a' })).status,
      (await sms(sim.url, { to: '+15550100', body: 'a' })).status,
    ]).toEqual([502, 502, 202]);
    await faults({ rateLimit: { perSecond: 1, retryAfterSeconds: 7 } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await sms(sim.url, { to: '+15550100', body: 'b' })).status).toBe(202);
    const limited = await sms(sim.url, { to: '+15550100', body: 'c' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    await faults({ rateLimit: null, outage: true });
    expect((await sms(sim.url, { to: '+15550100', body: 'd' })).status).toBe(503);
    expect((await fetch(`${sim.url}/_control/faults`, { method: 'PUT', body: '{"failureRate": 7}' })).status).toBe(400);
    await fetch(`${sim.url}/_control/reset`, { method: 'POST' });
    expect(await (await fetch(`${sim.url}/_control/ledger`)).json()).toEqual([]);
  });
});

describe('Mailgun simulator', () => {
  it('accepts Basic-authenticated multipart sends and posts signed events', async () => {
    const received: unknown[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => hook.close(() => r())));
    const sim = await startMailgunSimulator({
      apiKey: 'mg-key-123',
      domain: 'mg.test',
      webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
      webhookSigningKey: 'signing-key-1',
      deliveredAfterMs: 10,
    });
    closers.push(() => sim.close());
    const form = formOf({ from: 'a@b.example', to: 'Jane <jane@example.com>', subject: 'S', text: 'T', 'v:notification-id': 'ntf_1' });
    const bad = await fetch(`${sim.url}/v3/mg.test/messages`, { method: 'POST', body: form });
    expect(bad.status).toBe(401);
    const auth = { authorization: `Basic ${Buffer.from('api:mg-key-123').toString('base64')}` };
    const ok = await fetch(`${sim.url}/v3/mg.test/messages`, { method: 'POST', body: form, headers: auth });
    expect(ok.status).toBe(200);
    const { id } = (await ok.json()) as { id: string };
    expect(id).toMatch(/^<.+@mg\.test>$/);
    const invalid = formOf({ from: 'a@b.example', to: 'not-an-address', subject: 'S', text: 'T' });
    expect((await fetch(`${sim.url}/v3/mg.test/messages`, { method: 'POST', body: invalid, headers: auth })).status).toBe(400);

    for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const event = received[0] as {
      signature: { timestamp: string; token: string; signature: string };
      'event-data': { event: string; message: { headers: { 'message-id': string } }; 'user-variables': Record<string, string> };
    };
    expect(event['event-data'].event).toBe('delivered');
    expect(event['event-data'].message.headers['message-id']).toBe(id.slice(1, -1));
    expect(event['event-data']['user-variables']).toEqual({ 'notification-id': 'ntf_1' });
    expect(verifyMailgunSignature(event.signature, 'signing-key-1')).toBe(true);
    expect(verifyMailgunSignature(event.signature, 'another-key')).toBe(false);
  });
});

describe('SMTP simulator', () => {
  it('records messages once per Message-ID and answers faults with SMTP codes', async () => {
    const sim = await startSmtpSimulator();
    closers.push(() => sim.close());
    const transport = nodemailer.createTransport({ url: sim.smtpUrl });
    const mail = {
      from: 'a@b.example',
      to: 'c@d.example',
      subject: 'Hello',
      text: 'x',
      messageId: '<same@mailflow>',
      attachments: [{ filename: 'a.txt', content: 'abc' }],
    };
    await transport.sendMail(mail);
    await transport.sendMail(mail);
    expect(sim.ledger()).toHaveLength(1);
    expect(sim.ledger()[0]).toMatchObject({ subject: 'Hello', to: ['c@d.example'], attachments: 1, idempotencyKey: '<same@mailflow>' });
    await fetch(`${sim.url}/_control/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: { count: 1, status: 550 } }),
    });
    await expect(transport.sendMail({ ...mail, messageId: '<other@mailflow>' })).rejects.toMatchObject({ responseCode: 550 });
  });
});
