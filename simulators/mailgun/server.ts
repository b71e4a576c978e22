// A Mailgun-style email API: POST /v3/{domain}/messages with HTTP Basic api:<key>, multipart or
// urlencoded fields, `Idempotency-Key` honoured; signed delivered/opened webhooks back to Mailflow.
import { createHash, randomBytes } from 'node:crypto';
import type { LedgerEntry } from '../lib/ledger.js';
import { createSimulatorFrame, listen, refuse, type RunningSimulator } from '../lib/server.js';
import { signedEvent, type MailgunEvent } from './webhooks.js';

export interface MailgunSimulatorOptions {
  port?: number;
  host?: string;
  apiKey: string;
  domain?: string;
  /** Where to post delivery events (Mailflow's /v1/webhooks/mailgun); with webhookSigningKey. */
  webhookUrl?: string;
  webhookSigningKey?: string;
  /** Emit `delivered` / `opened` this long after acceptance (unset: only on request). */
  deliveredAfterMs?: number;
  openedAfterMs?: number;
}

export interface MailgunLedgerEntry extends LedgerEntry {
  domain: string;
  from: string;
  to: string[];
  subject: string;
  text: string | null;
  html: string | null;
  attachments: { filename: string; contentType: string; size: number; sha256: string }[];
  userVariables: Record<string, string>;
}

export interface SentWebhook {
  messageId: string;
  event: string;
  eventId: string;
  status: number | null;
  error?: string;
  at: string;
}

const address = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
/** `Jane <jane@x.com>` or `jane@x.com`. */
const bareAddress = (value: string) => /<([^>]+)>/.exec(value)?.[1]?.trim() ?? value.trim();

export async function startMailgunSimulator(options: MailgunSimulatorOptions): Promise<RunningSimulator & { ledger: () => MailgunLedgerEntry[] }> {
  const frame = createSimulatorFrame<MailgunLedgerEntry>();
  const { app, ledger } = frame;
  const sentWebhooks: SentWebhook[] = [];
  const timers = new Set<NodeJS.Timeout>();
  frame.onReset(() => {
    sentWebhooks.length = 0;
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });
  const expectedAuth = `Basic ${Buffer.from(`api:${options.apiKey}`).toString('base64')}`;

  async function emit(entry: MailgunLedgerEntry, event: MailgunEvent, extra: Record<string, unknown> = {}): Promise<SentWebhook> {
    const record: SentWebhook = { messageId: entry.id, event, eventId: '', status: null, at: new Date().toISOString() };
    if (!options.webhookUrl || !options.webhookSigningKey) return { ...record, error: 'no webhookUrl / webhookSigningKey configured' };
    const body = signedEvent(
      options.webhookSigningKey,
      { messageId: entry.id, recipient: entry.to[0] ?? '', userVariables: entry.userVariables },
      event,
      extra,
    );
    record.eventId = body['event-data'].id;
    try {
      const response = await fetch(options.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      record.status = response.status;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    sentWebhooks.push(record);
    return record;
  }
  function schedule(entry: MailgunLedgerEntry, event: MailgunEvent, afterMs: number | undefined) {
    if (afterMs === undefined || !options.webhookUrl) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void emit(entry, event);
    }, afterMs);
    timers.add(timer);
  }

  app.post('/v3/:domain/messages', async (c) => {
    if (c.req.header('authorization') !== expectedAuth) return c.text('Forbidden', 401);
    const refusal = frame.gate();
    if (refusal) return refuse(c, refusal, { message: refusal.reason });
    const form = await c.req.parseBody({ all: true });
    const one = (name: string) => {
      const v = form[name];
      const x = Array.isArray(v) ? v[0] : v;
      return typeof x === 'string' ? x : undefined;
    };
    const from = one('from');
    const toField = form.to;
    const to = [toField ?? []]
      .flat()
      .filter((v): v is string => typeof v === 'string')
      .flatMap((v) => v.split(','))
      .map(bareAddress)
      .filter(Boolean);
    const subject = one('subject');
    if (!from) return c.json({ message: 'from parameter is missing' }, 400);
    if (to.length === 0) return c.json({ message: 'to parameter is missing' }, 400);
    const invalid = to.find((t) => !address.test(t));
    if (invalid) return c.json({ message: `to parameter is not a valid address. please check documentation (${invalid})` }, 400);
    if (!subject) return c.json({ message: 'subject parameter is missing' }, 400);
    if (!one('text') && !one('html')) return c.json({ message: "Need at least one of 'text' or 'html' parameters specified" }, 400);

    const idempotencyKey = c.req.header('idempotency-key') ?? null;
    const known = ledger.find(idempotencyKey);
    if (known) {
      await frame.delay();
      return c.json({ id: known.id, message: 'Queued. Thank you.' });
    }
    const files = [form.attachment ?? []].flat().filter((f): f is File => typeof f !== 'string');
    const attachments = await Promise.all(
      files.map(async (f) => {
        const bytes = Buffer.from(await f.arrayBuffer());
        return { filename: f.name, contentType: f.type, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      }),
    );
    const userVariables = Object.fromEntries(
      Object.entries(form)
        .filter(([k, v]) => k.startsWith('v:') && typeof v === 'string')
        .map(([k, v]) => [k.slice(2), v as string]),
    );
    const domain = c.req.param('domain');
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const entry = ledger.add({
      id: `<${stamp}.${randomBytes(8).toString('hex')}@${domain}>`,
      idempotencyKey,
      acceptedAt: new Date().toISOString(),
      domain,
      from,
      to,
      subject,
      text: one('text') ?? null,
      html: one('html') ?? null,
      attachments,
      userVariables,
    });
    schedule(entry, 'delivered', options.deliveredAfterMs);
    schedule(entry, 'opened', options.openedAfterMs);
    await frame.delay();
    return c.json({ id: entry.id, message: 'Queued. Thank you.' });
  });

  // Emit an event on demand: tests use it for out-of-order, failed and complained events.
  app.post('/_control/events', async (c) => {
    const body = await c.req.json<{ messageId?: string; event?: MailgunEvent; delayMs?: number; extra?: Record<string, unknown> }>();
    const normalised = (body.messageId ?? '').replace(/^<|>$/g, '');
    const entry = ledger.all().find((e) => e.id.replace(/^<|>$/g, '') === normalised);
    if (!entry) return c.json({ error: `no message ${body.messageId}` }, 404);
    if (!body.event || !['delivered', 'opened', 'failed', 'complained'].includes(body.event))
      return c.json({ error: 'event must be delivered | opened | failed | complained' }, 400);
    if (body.delayMs) {
      schedule(entry, body.event, body.delayMs);
      return c.json({ scheduled: true }, 202);
    }
    return c.json(await emit(entry, body.event, body.extra ?? {}));
  });
  app.get('/_control/webhooks', (c) => c.json(sentWebhooks));

  const running = await listen(app, options.port, options.host);
  return {
    ...running,
    ledger: () => ledger.all(),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      await running.close();
    },
  };
}
