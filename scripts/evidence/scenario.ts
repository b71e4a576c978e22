// What an evidence run does against a running stack, through its public API and the simulators' control
// APIs only: one notification per channel, the seed-004 sample list as a CSV mailing, and the checks.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { StackEndpoints } from './stack.js';

const notificationView = z.object({
  id: z.string(),
  status: z.string(),
  type: z.string(),
  templateId: z.string().nullable(),
  attempts: z.number(),
  provider: z.string().nullable(),
  providerMessageId: z.string().nullable(),
  workflowId: z.string(),
  late: z.boolean(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  openedAt: z.string().nullable(),
  errorMessage: z.string().nullable(),
});
const mailingView = z.object({
  id: z.string(),
  status: z.string(),
  workflowId: z.string(),
  failureReason: z.string().nullable(),
  counts: z.record(z.string(), z.number()),
  createdAt: z.string(),
  sendingStartedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
const recipientsPage = z.object({ data: z.array(z.object({ email: z.string(), status: z.string() }).passthrough()), nextCursor: z.number().nullable() });
const seed004Ledger = z.object({
  sends: z.array(z.object({ message_id: z.string(), to: z.string(), subject: z.string(), body: z.string(), acceptedAt: z.string() })),
  duplicates: z.array(z.object({ to: z.string(), count: z.number() })),
});
const seed004Stats = z.object({ byStatus: z.record(z.string(), z.number()), tokensIssued: z.number() });
const providerLedger = z.array(z.object({ id: z.string(), acceptedAt: z.string() }).passthrough());

export type NotificationView = z.infer<typeof notificationView>;
export type MailingView = z.infer<typeof mailingView>;

export function apiClient(base: string, key: string) {
  return async <T>(path: string, schema: z.ZodType<T>, init: RequestInit = {}, expect: number[] = [200]): Promise<T> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    const response = await fetch(`${base}${path}`, { ...init, headers });
    const text = await response.text();
    if (!expect.includes(response.status)) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${text.slice(0, 300)}`);
    return schema.parse(text ? JSON.parse(text) : null);
  };
}
type Api = ReturnType<typeof apiClient>;
const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function control<T>(url: string, schema: z.ZodType<T>, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return schema.parse(response.status === 204 ? null : await response.json());
}

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, onValue?: (v: T) => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    onValue?.(value);
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not finish in ${timeoutMs / 1000} s: ${JSON.stringify(value).slice(0, 400)}`);
    await sleep(500);
  }
}

/** The seed-004 simulator's limit, raised for the run (its own default is 1 request per 10 s). */
export async function configureSeed004(endpoints: StackEndpoints, ratePerSecond: number): Promise<void> {
  await control(`${endpoints.seed004}/_control/reset`, z.null(), { method: 'POST' });
  await control(`${endpoints.seed004}/_control/config`, z.unknown(), json('PUT', { requests: ratePerSecond, perSeconds: 1 }));
}

export interface NotificationResult {
  channel: string;
  view: NotificationView;
  inProviderLedger: boolean;
  acceptedMs: number;
}

const FINAL: Record<string, string[]> = { EMAIL: ['OPENED'], SMS: ['SENT', 'DELIVERED'], PUSH: ['SENT', 'DELIVERED'] };
const FAILED = ['FAILED', 'DEAD_LETTERED'];

export async function sendNotifications(api: Api, endpoints: StackEndpoints, runId: string): Promise<NotificationResult[]> {
  const userId = `evidence-${runId}`;
  await api(
    `/v1/users/${userId}`,
    z.unknown(),
    json('PUT', { email: `evidence-${runId}@example.com`, phone: '+15550100', pushTokens: [`evidence-device-${runId}`] }),
  );
  const requests = [
    {
      type: 'EMAIL',
      templateId: 'NEW_MESSAGE',
      templateParams: { name: 'Jane', senderName: 'Sam', preview: 'Lunch at noon?', messageUrl: 'https://example.com/m/1' },
    },
    { type: 'SMS', templateId: 'ORDER_SHIPPED_SMS', templateParams: { orderId: 'A-1001', trackingUrl: 'https://example.com/t/A-1001' } },
    { type: 'PUSH', templateId: 'NEW_MESSAGE_PUSH', templateParams: { senderName: 'Sam', preview: 'Lunch at noon?' } },
  ];
  const accepted = await Promise.all(
    requests.map(async (r) => {
      const t0 = Date.now();
      const created = await api(
        '/v1/notifications',
        z.object({ id: z.string() }),
        {
          ...json('POST', { userId, correlationId: `evidence-${runId}`, ...r }),
          headers: { 'content-type': 'application/json', 'idempotency-key': `evidence-${runId}-${r.type}` },
        },
        [202],
      );
      return { channel: r.type, id: created.id, acceptedMs: Date.now() - t0 };
    }),
  );
  const ledgers: Record<string, string> = { EMAIL: endpoints.mailgun, SMS: endpoints.sms, PUSH: endpoints.push };
  return Promise.all(
    accepted.map(async ({ channel, id, acceptedMs }) => {
      const view = await until(
        `notification ${id}`,
        () => api(`/v1/notifications/${id}`, notificationView),
        (n) => FINAL[channel]!.includes(n.status) || FAILED.includes(n.status),
        90_000,
      );
      const ledger = await control(`${ledgers[channel]}/_control/ledger`, providerLedger);
      return { channel, view, acceptedMs, inProviderLedger: ledger.some((e) => e.id.replace(/^<|>$/g, '') === view.providerMessageId) };
    }),
  );
}

export interface MailingSample {
  at: number;
  status: string;
  sent: number;
  queued: number;
}
export interface MailingResult {
  view: MailingView;
  uploadMs: number;
  samples: MailingSample[];
  sentRecipients: string[];
  invalidRecipients: string[];
  ledger: z.infer<typeof seed004Ledger>;
  stats: z.infer<typeof seed004Stats>;
}

export async function runMailing(api: Api, endpoints: StackEndpoints, csv: Buffer, runId: string, timeoutMs: number): Promise<MailingResult> {
  const form = new FormData();
  form.set('name', `seed-004 sample list (evidence ${runId})`);
  form.set('file', new Blob([new Uint8Array(csv)], { type: 'text/csv' }), 'mailing_list.csv');
  const t0 = Date.now();
  const created = await api(
    '/v1/mailings',
    z.object({ id: z.string() }),
    { method: 'POST', body: form, headers: { 'idempotency-key': `evidence-${runId}-${randomUUID()}` } },
    [202],
  );
  const uploadMs = Date.now() - t0;
  const samples: MailingSample[] = [];
  const view = await until(
    `mailing ${created.id}`,
    () => api(`/v1/mailings/${created.id}`, mailingView),
    (m) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(m.status),
    timeoutMs,
    (m) => samples.push({ at: Date.now() - t0, status: m.status, sent: m.counts.sent ?? 0, queued: m.counts.queued ?? 0 }),
  );
  const recipients: { email: string; status: string }[] = [];
  for (let cursor: number | null = 0; cursor !== null;) {
    const page: z.infer<typeof recipientsPage> = await api(`/v1/mailings/${created.id}/recipients?limit=100&cursor=${cursor}`, recipientsPage);
    recipients.push(...page.data);
    cursor = page.nextCursor;
  }
  return {
    view,
    uploadMs,
    samples,
    sentRecipients: recipients.filter((r) => r.status === 'SENT').map((r) => r.email),
    invalidRecipients: recipients.filter((r) => r.status === 'INVALID').map((r) => r.email),
    ledger: await control(`${endpoints.seed004}/_control/ledger`, seed004Ledger),
    stats: await control(`${endpoints.seed004}/_control/stats`, seed004Stats),
  };
}

export interface LedgerCheck {
  ledgerSends: number;
  distinctRecipients: number;
  duplicates: { to: string; count: number }[];
  missing: string[];
  unexpected: string[];
  tokens: number;
  distinctTokens: number;
  shortestToken: number;
  ok: boolean;
}

const tokenOf = (body: string) => /verify your token (\S+) to continue/.exec(body)?.[1];

/** Each SENT recipient exactly once in the seed-004 ledger, each with a token of its own. */
export function checkLedger(result: MailingResult, expected: number): LedgerCheck {
  const sends = result.ledger.sends;
  const ledgerTo = sends.map((s) => s.to.toLowerCase());
  const sent = new Set(result.sentRecipients.map((e) => e.toLowerCase()));
  const tokens = sends.map((s) => tokenOf(s.body)).filter((t): t is string => Boolean(t));
  const check = {
    ledgerSends: sends.length,
    distinctRecipients: new Set(ledgerTo).size,
    duplicates: result.ledger.duplicates,
    missing: [...sent].filter((e) => !ledgerTo.includes(e)),
    unexpected: [...new Set(ledgerTo)].filter((e) => !sent.has(e)),
    tokens: tokens.length,
    distinctTokens: new Set(tokens).size,
    shortestToken: Math.min(...tokens.map((t) => t.length)),
  };
  const ok =
    check.ledgerSends === expected &&
    check.distinctRecipients === expected &&
    sent.size === expected &&
    check.duplicates.length === 0 &&
    check.missing.length === 0 &&
    check.unexpected.length === 0 &&
    check.tokens === expected &&
    check.distinctTokens === expected;
  return { ...check, ok };
}

/** The verification tokens, so that the report can make sure none of them is printed. */
export const ledgerTokens = (result: MailingResult) => result.ledger.sends.map((s) => tokenOf(s.body)).filter((t): t is string => Boolean(t));
