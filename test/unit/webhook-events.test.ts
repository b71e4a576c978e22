// What a recorded row becomes as webhook events, which endpoints want them, and when a failed delivery is
// tried again: the pure parts of outbound webhooks.
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { retryAt } from '../../lib/webhooks/deliveries.js';
import type { EndpointRow } from '../../lib/webhooks/endpoints.js';
import { coalesceProgress, eventsOf, type OutboxRow } from '../../lib/webhooks/events.js';
import { retryAfterMs } from '../../lib/webhooks/post.js';
import { wants } from '../../lib/webhooks/projector.js';
import { newSigningSecret, signerFor } from '../../lib/webhooks/signing.js';

const at = new Date('2026-12-07T10:00:00Z');
const row = (source: string, data: Record<string, unknown>, orderingKey = 'mbx_1'): OutboxRow => ({
  id: 1,
  owner: 'ten_a',
  source,
  orderingKey,
  data,
  occurredAt: at,
});
const message = (folder: string) => ({ id: 'm1', mailboxId: 'mbx_1', folder: { id: folder, name: folder }, subject: 'Hi', isRead: true });

describe('events of a recorded row', () => {
  it('turns a page of mail changes into created, updated, moved and deleted events, in the page order', () => {
    const events = eventsOf(
      row('mail', {
        accountId: 'acc_1',
        type: 'messages',
        data: {
          mailboxId: 'mbx_1',
          upserted: [],
          removed: ['m9'],
          changes: [
            { kind: 'created', message: message('inbox') },
            { kind: 'updated', message: message('inbox'), changed: ['isRead'] },
            { kind: 'moved', message: message('archive'), from: { id: 'inbox', name: 'inbox' }, changed: [] },
          ],
        },
      }),
    );
    expect(events.map((e) => e.type)).toEqual(['message.created', 'message.updated', 'message.moved', 'message.deleted']);
    expect(events[1]!.data).toMatchObject({ accountId: 'acc_1', mailboxId: 'mbx_1', changed: ['isRead'] });
    expect(events[2]!.data).toMatchObject({ from: { id: 'inbox' }, to: { id: 'archive' } });
    expect(events[3]!.data).toEqual({ accountId: 'acc_1', mailboxId: 'mbx_1', messageId: 'm9' });
    expect(new Set(events.map((e) => e.orderingKey))).toEqual(new Set(['mbx_1']));
  });

  it('names the mailbox statuses a tenant is told of, and no others', () => {
    const status = (s: string) => eventsOf(row('mailbox', { mailboxId: 'mbx_1', status: s })).map((e) => e.type);
    expect([...status('LINKED'), ...status('LIVE'), ...status('REAUTH_REQUIRED'), ...status('UNLINKED')]).toEqual([
      'mailbox.linked',
      'mailbox.live',
      'mailbox.reauth_required',
      'mailbox.unlinked',
    ]);
    expect(status('SYNCING')).toEqual([]);
  });

  it('names notification statuses, and keeps only the last progress of a mailing in a batch', () => {
    expect(eventsOf(row('notification', { status: 'DEAD_LETTERED' }, 'ntf_1')).map((e) => e.type)).toEqual(['notification.dead_lettered']);
    const progress = (sent: number, key = 'mlg_1') => eventsOf(row('mailing_progress', { mailingId: key, sent }, key))[0]!;
    const kept = coalesceProgress([progress(1), progress(2, 'mlg_2'), progress(3), ...eventsOf(row('mailing', { status: 'COMPLETED' }, 'mlg_1'))]);
    expect(kept.map((e) => [e.type, e.data.sent])).toEqual([
      ['mailing.progress', 2],
      ['mailing.progress', 3],
      ['mailing.completed', undefined],
    ]);
  });
});

describe('which endpoints want an event', () => {
  const endpoint = (fields: Partial<EndpointRow>) =>
    ({ eventTypes: ['message.created', 'notification.sent'], createdAt: new Date(0), mailboxId: null, accountId: null, ...fields }) as EndpointRow;
  const created = eventsOf(row('mail', { accountId: 'acc_1', data: { mailboxId: 'mbx_1', changes: [{ kind: 'created', message: message('inbox') }] } }))[0]!;
  const sent = eventsOf(row('notification', { status: 'SENT' }, 'ntf_1'))[0]!;

  it('by type, by mailbox or account filter (which only mail events pass), and only events after it was made', () => {
    expect(wants(endpoint({}), created)).toBe(true);
    expect(wants(endpoint({ eventTypes: ['message.deleted'] }), created)).toBe(false);
    expect(wants(endpoint({ mailboxId: 'mbx_1' }), created)).toBe(true);
    expect(wants(endpoint({ mailboxId: 'mbx_2' }), created)).toBe(false);
    expect(wants(endpoint({ accountId: 'acc_1' }), created)).toBe(true);
    expect(wants(endpoint({ accountId: 'acc_1' }), sent)).toBe(false);
    expect(wants(endpoint({}), sent)).toBe(true);
    expect(wants(endpoint({ createdAt: new Date(at.getTime() + 1) }), created)).toBe(false);
  });
});

describe('retries', () => {
  const schedule = [5, 300, 1800];
  it('follows the schedule, waits longer when Retry-After asks (up to a day), and gives up after it', () => {
    expect(retryAt(0, schedule, undefined, 0)?.getTime()).toBe(5_000);
    expect(retryAt(1, schedule, 60_000, 0)?.getTime()).toBe(300_000);
    expect(retryAt(0, schedule, 60_000, 0)?.getTime()).toBe(60_000);
    expect(retryAt(0, schedule, 7 * 86_400_000, 0)?.getTime()).toBe(86_400_000);
    expect(retryAt(3, schedule, undefined, 0)).toBeNull();
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs(new Date(70_000).toUTCString(), 10_000)).toBe(60_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('signatures', () => {
  it('sign with every secret in force, and the standardwebhooks library verifies with either', () => {
    const [current, previous] = [newSigningSecret(), newSigningSecret()];
    const body = JSON.stringify({ type: 'webhook.test', timestamp: at.toISOString(), data: {} });
    const headers = signerFor([current, previous])('msg_1', new Date(), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) expect(new Webhook(secret).verify(body, headers)).toMatchObject({ type: 'webhook.test' });
    expect(() => new Webhook(newSigningSecret()).verify(body, headers)).toThrow();
  });

  it("are the library's own signatures, for a body beyond ASCII too", () => {
    const secrets = [newSigningSecret(), newSigningSecret()];
    const body = JSON.stringify({ type: 'message.created', data: { subject: 'Grüße — 你好 🎉' } });
    const sentAt = new Date('2026-12-07T10:00:00.750Z');
    const headers = signerFor(secrets)('msg_2', sentAt, body);
    expect(headers['webhook-signature']).toBe(secrets.map((secret) => new Webhook(secret).sign('msg_2', sentAt, body)).join(' '));
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(sentAt.getTime() / 1000)));
  });
});
