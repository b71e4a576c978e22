// Complaints and permanent bounces suppress later email to the address (per tenant), through the API:
// the webhook adds the entry, a later send ends FAILED without reaching the provider, and the owner lists
// and removes entries. Also here: the `to` override is one recipient per channel format, and content is
// stored sealed.
import { eq } from 'drizzle-orm';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notifications } from '../../db/schema/index.js';
import { suppressAddress } from '../../lib/notifications/suppressions.js';
import { useDeliveryRig } from '../helpers/delivery.js';
import { unique } from '../helpers/config.js';
import { notificationClient, signedWebhook } from '../helpers/notifications.js';

const rig = useDeliveryRig('sup', { webhooks: true, roles: ['delivery', 'email', 'sms', 'push'] });
let tenant: { id: string; key: string; tenantId: string };
let other: { id: string; key: string; tenantId: string };

async function createKey(name: string) {
  const response = await rig.api.request('/v1/api-keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes: ['send', 'read'] }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string; tenantId: string };
}

beforeAll(async () => {
  tenant = await createKey(unique('tenant'));
  other = await createKey(unique('other'));
});
beforeEach(async () => {
  await rig.sims.resetAll();
});

const emailTo = (
  to: unknown,
  templateParams: Record<string, string> = { name: 'Jane', orderId: 'A1', itemName: 'Laptop', trackingUrl: 'https://t.example/1' },
) => ({
  userId: unique('user'),
  type: 'EMAIL',
  templateId: 'ORDER_SHIPPED_CONFIRMATION',
  to,
  templateParams,
});

describe('suppression list', () => {
  it.each([
    ['a complaint', 'complained', {}],
    ['a permanent bounce', 'failed', { severity: 'permanent', reason: 'bounce', 'delivery-status': { description: '550 5.1.1 mailbox does not exist' } }],
  ])('%s suppresses later email to the address until the owner removes it', async (_name, event, extra) => {
    const c = notificationClient(rig.api, tenant.key);
    const address = `${unique('jane')}@example.com`;
    const first = await c.post('/v1/notifications', emailTo(address));
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const sent = await c.waitFor(id, ['SENT']);
    expect((await c.post('/v1/webhooks/mailgun', signedWebhook(sent.providerMessageId!, event, { recipient: address.toUpperCase(), ...extra }))).status).toBe(
      200,
    );

    const list = (await (await rig.api.request('/v1/suppressions', { auth: tenant.key })).json()) as {
      data: { address: string; reason: string; notificationId: string }[];
    };
    expect(list.data).toContainEqual(expect.objectContaining({ address, reason: event === 'failed' ? 'bounced' : 'complained', notificationId: id }));
    // Another tenant sees nothing of it and cannot remove it.
    const foreign = (await (await rig.api.request('/v1/suppressions', { auth: other.key })).json()) as { data: { address: string }[] };
    expect(foreign.data.map((s) => s.address)).not.toContain(address);
    expect((await rig.api.request(`/v1/suppressions/${encodeURIComponent(address)}`, { method: 'DELETE', auth: other.key })).status).toBe(404);

    const ledgerBefore = (await rig.sims.ledger('mailgun')).length;
    const second = await c.post('/v1/notifications', emailTo(address));
    const blocked = await c.waitFor(((await second.json()) as { id: string }).id, ['FAILED']);
    expect(blocked.attempts).toBe(0);
    expect(blocked.errorMessage).toMatch(/is on the suppression list/);
    expect(blocked.history.at(-1)?.reason).toMatch(/^suppressed/);
    expect(await rig.sims.ledger('mailgun')).toHaveLength(ledgerBefore);

    // Another tenant may still mail the address.
    const theirs = await notificationClient(rig.api, other.key).post('/v1/notifications', emailTo(address));
    await notificationClient(rig.api, other.key).waitFor(((await theirs.json()) as { id: string }).id, ['SENT']);

    expect((await rig.api.request(`/v1/suppressions/${encodeURIComponent(address)}`, { method: 'DELETE', auth: tenant.key })).status).toBe(204);
    expect((await rig.api.request(`/v1/suppressions/${encodeURIComponent(address)}`, { method: 'DELETE', auth: tenant.key })).status).toBe(404);
    const third = await c.post('/v1/notifications', emailTo(address));
    await c.waitFor(((await third.json()) as { id: string }).id, ['SENT']);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await rig.api.request('/openapi.json', { auth: null })).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.paths['/v1/suppressions']?.get?.operationId).toBe('listSuppressions');
    expect(doc.paths['/v1/suppressions/{address}']?.delete?.operationId).toBe('deleteSuppression');
  });
});

describe('searching the suppression list', () => {
  type Page = { data: { address: string; createdAt: string }[]; nextCursor: string | null };
  const list = async (query: Record<string, string>, key = tenant.key) => {
    const response = await rig.api.request(`/v1/suppressions?${new URLSearchParams(query)}`, { auth: key });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as Page;
  };
  const suppress = (owner: string, address: string) =>
    suppressAddress(rig.api.deps.db, { owner, address, reason: 'bounced', detail: null, notificationId: null });

  it("keeps addresses containing q in any case, pages through them with the cursor, and never shows another tenant's", async () => {
    const marker = unique('find').toLowerCase();
    const mine = Array.from({ length: 7 }, (_, i) => `${marker}-${i}@example.com`);
    for (const address of mine) await suppress(tenant.tenantId, address);
    await suppress(tenant.tenantId, `${unique('elsewhere')}@example.com`);
    await suppress(other.tenantId, `${marker}-theirs@example.com`);

    const all = await list({ q: marker.toUpperCase() });
    expect(all.data.map((s) => s.address).sort()).toEqual([...mine].sort());
    expect(all.nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await list({ q: marker, limit: '3', ...(cursor ? { cursor } : {}) });
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((s) => s.address));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    // Every match once, in the unfiltered list's order (newest first).
    expect(seen).toEqual(all.data.map((s) => s.address));

    // A prefix of one address, a domain-like suffix, and nothing.
    expect((await list({ q: `${marker}-3@` })).data.map((s) => s.address)).toEqual([`${marker}-3@example.com`]);
    expect((await list({ q: `  ${marker}-4@EXAMPLE.com ` })).data.map((s) => s.address)).toEqual([`${marker}-4@example.com`]);
    expect((await list({ q: `${marker}-9` })).data).toEqual([]);
    expect((await list({ q: marker }, other.key)).data.map((s) => s.address)).toEqual([`${marker}-theirs@example.com`]);
  });

  it('takes % and _ in q literally', async () => {
    const marker = unique('wild').toLowerCase();
    for (const local of ['p%q', 'pxq', 'r_s', 'rys']) await suppress(tenant.tenantId, `${local}-${marker}@example.com`);
    expect((await list({ q: `p%q-${marker}` })).data.map((s) => s.address)).toEqual([`p%q-${marker}@example.com`]);
    expect((await list({ q: `r_s-${marker}` })).data.map((s) => s.address)).toEqual([`r_s-${marker}@example.com`]);
    expect((await list({ q: marker })).data).toHaveLength(4);
  });

  it('refuses a q longer than an address can be (400, naming q)', async () => {
    const response = await rig.api.request(`/v1/suppressions?q=${'a'.repeat(321)}`, { auth: tenant.key });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('q');
  });
});

describe('the to override', () => {
  it.each([
    ['EMAIL', 'a@example.com,b@example.com'],
    ['EMAIL', ['a@example.com', 'b@example.com']],
    ['EMAIL', 'not-an-address'],
    ['SMS', '+15550100,+15550101'],
    ['SMS', '555-0100'],
    ['PUSH', Array.from({ length: 21 }, (_, i) => `device-token-${i}-abcdef`)],
    ['PUSH', ['ok-device-token-1', 'bad token, with spaces']],
  ])('%s refuses %j with 400 naming "to"', async (type, to) => {
    const templateId = type === 'EMAIL' ? 'ORDER_SHIPPED_CONFIRMATION' : type === 'SMS' ? 'ORDER_SHIPPED_SMS' : 'ORDER_SHIPPED_PUSH';
    const response = await notificationClient(rig.api, tenant.key).post('/v1/notifications', {
      userId: unique('user'),
      type,
      templateId,
      to,
      templateParams: {},
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { path: string }[] };
    expect(
      problem.errors.some((e) => e.path.startsWith('to')),
      JSON.stringify(problem),
    ).toBe(true);
  });

  it('sends push to each listed device token as one recipient each, never split', async () => {
    const c = notificationClient(rig.api, tenant.key);
    const tokens = ['device-token-aaaa-1111', 'device-token-bbbb-2222'];
    const response = await c.post('/v1/notifications', {
      userId: unique('user'),
      type: 'PUSH',
      templateId: 'ORDER_SHIPPED_PUSH',
      to: tokens,
      templateParams: { orderId: 'A1', itemName: 'Laptop' },
    });
    expect(response.status, await response.clone().text()).toBe(202);
    await c.waitFor(((await response.json()) as { id: string }).id, ['SENT']);
    const [entry] = await rig.sims.ledger('push');
    expect(entry).toMatchObject({ tokens });
  });
});

describe('content at rest', () => {
  it('stores the rendered content and template parameters sealed, and sends them in clear', async () => {
    const c = notificationClient(rig.api, tenant.key);
    const secret = `https://shop.example/reset/${unique('tok')}`;
    const response = await c.post('/v1/notifications', {
      userId: unique('user'),
      type: 'EMAIL',
      templateId: 'PASSWORD_RESET',
      to: 'jane@example.com',
      templateParams: { name: 'Jane', resetUrl: secret },
    });
    expect(response.status, await response.clone().text()).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await c.waitFor(id, ['SENT']);
    const [row] = await rig.api.deps.db.select().from(notifications).where(eq(notifications.id, id));
    expect(row).toMatchObject({ body: '', bodyHtml: null, templateParams: null });
    expect(row!.contentSealed).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(JSON.stringify(await rig.sims.ledger('mailgun'))).toContain(secret);
  });
});

describe('list cursors', () => {
  it.each(['/v1/suppressions', '/v1/notifications'])('%s refuses a cursor it could not have issued with 400, never 500', async (path) => {
    for (const at of ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '1900-01-01T00:00:00.000Z', 'garbage']) {
      const cursor = Buffer.from(`${at}|x@example.com`).toString('base64url');
      const response = await rig.api.request(`${path}?cursor=${cursor}`, { auth: tenant.key });
      expect(response.status, `${at}: ${await response.clone().text()}`).toBe(400);
    }
  });
});
