// The recipient directory and the template API over real HTTP, with the seeded templates: versions and
// previews included (a preview is what admission would store for the same parameters).
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { notifications } from '../../db/schema/index.js';
import { openContent } from '../../lib/notifications/content.js';
import { notificationWorkflowId } from '../../lib/notifications/start-workflow.js';
import { useTestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';

const api = useTestApi();

const send = (method: string, path: string, body: unknown) =>
  api.request(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('users', () => {
  it('upserts contact points, keeps fields left out, and validates them', async () => {
    const userId = unique('user');
    const created = await send('PUT', `/v1/users/${userId}`, { email: 'jane@example.com', phone: '+15551234567' });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ userId, email: 'jane@example.com', phone: '+15551234567', pushTokens: [] });
    expect((await send('PUT', `/v1/users/${userId}`, { pushTokens: ['device-token-0001'] })).status).toBe(200);
    const got: unknown = await (await api.request(`/v1/users/${userId}`)).json();
    expect(got).toMatchObject({ email: 'jane@example.com', phone: '+15551234567', pushTokens: ['device-token-0001'] });

    for (const [body, path] of [
      [{ phone: '555-1234' }, 'phone'],
      [{ email: 'nope' }, 'email'],
      [{ pushTokens: ['x'] }, 'pushTokens.0'],
      [{ fax: '1' }, '(root)'],
    ] as const) {
      const response = await send('PUT', `/v1/users/${userId}`, body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { path: string }[] }).errors[0]!.path).toContain(path);
    }
    expect((await send('PUT', '/v1/users/bad%20id', {})).status).toBe(400);
    expect((await api.request(`/v1/users/${unique('ghost')}`)).status).toBe(404);
    expect((await api.request(`/v1/users/${userId}`, { auth: null })).status).toBe(401);
  });
});

describe('templates', () => {
  it('ships the seed templates, PASSWORD_RESET with its limit', async () => {
    const list = (await (await api.request('/v1/templates')).json()) as { data: { id: string; rateLimit: unknown }[] };
    const ids = list.data.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(['ORDER_SHIPPED_CONFIRMATION', 'PASSWORD_RESET', 'ORDER_SHIPPED_SMS', 'NEW_MESSAGE_PUSH']));
    expect(list.data.find((t) => t.id === 'PASSWORD_RESET')!.rateLimit).toEqual({ count: 2, windowSeconds: 300 });
  });

  it('creates, versions and reads templates', async () => {
    const id = `T_${unique('x')
      .replace(/[^a-z0-9]/gi, '_')
      .toUpperCase()}`.slice(0, 60);
    const created = await send('POST', '/v1/templates', { id, channel: 'SMS', body: 'Hi {{name}}' });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id, version: 1, params: ['name'], rateLimit: null });
    expect((await send('POST', '/v1/templates', { id, channel: 'SMS', body: 'again' })).status).toBe(409);
    const updated = await send('PUT', `/v1/templates/${id}`, {
      channel: 'SMS',
      body: 'Hello {{name}}, code {{code}}',
      rateLimit: { count: 1, windowSeconds: 60 },
    });
    expect(await updated.json()).toMatchObject({ version: 2, params: ['name', 'code'], rateLimit: { count: 1, windowSeconds: 60 } });
    expect(await (await api.request(`/v1/templates/${id}`)).json()).toMatchObject({ version: 2 });
    expect(await (await api.request(`/v1/templates/${id}?version=1`)).json()).toMatchObject({ version: 1, body: 'Hi {{name}}' });
    expect((await api.request('/v1/templates/NO_SUCH_ONE')).status).toBe(404);
    expect((await send('PUT', '/v1/templates/NO_SUCH_ONE', { channel: 'SMS', body: 'x' })).status).toBe(404);
  });

  it('refuses invalid templates naming the problem', async () => {
    const cases: [unknown, string][] = [
      [{ id: 'lower_case', channel: 'SMS', body: 'x' }, 'id'],
      [{ id: 'NO_SUBJECT', channel: 'EMAIL', body: 'x' }, 'subject'],
      [{ id: 'SMS_SUBJECT', channel: 'SMS', subject: 's', body: 'x' }, 'subject'],
      [{ id: 'UNDECLARED', channel: 'SMS', body: '{{a}} {{b}}', params: ['a'] }, 'params'],
      [{ id: 'HTML_SMS', channel: 'SMS', body: 'x', format: 'html' }, 'format'],
    ];
    for (const [body, path] of cases) {
      const response = await send('POST', '/v1/templates', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(await response.json())).toContain(path);
    }
    expect((await api.request('/v1/templates', { auth: null })).status).toBe(401);
  });
});

const templateName = () =>
  `T_${unique('x')
    .replace(/[^a-z0-9]/gi, '_')
    .toUpperCase()}`.slice(0, 60);

interface Preview {
  id: string;
  version: number;
  channel: string;
  subject: string | null;
  text: string;
  html: string | null;
  missingParams: string[];
}
interface Problem {
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

/** An HTML email template with two versions: v1 greets, v2 also names the order. */
async function htmlTemplate(): Promise<string> {
  const id = templateName();
  const v1 = { channel: 'EMAIL', subject: 'Hi {{name}}', body: '<p>Hello {{name}}</p>', format: 'html' };
  expect((await send('POST', '/v1/templates', { id, ...v1 })).status).toBe(201);
  const v2 = {
    channel: 'EMAIL',
    subject: 'Order {{orderId}} for {{name}}',
    body: '<p>Dear {{name}},</p><p>order <b>{{orderId}}</b> shipped.</p>',
    format: 'html',
  };
  expect((await send('PUT', `/v1/templates/${id}`, v2)).status).toBe(200);
  return id;
}

describe('template versions', () => {
  it('lists every version, newest first, with its content', async () => {
    const id = await htmlTemplate();
    const response = await api.request(`/v1/templates/${id}/versions`);
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: { id: string; version: number; body: string; params: string[]; format: string; createdAt: string }[] };
    expect(data.map((v) => v.version)).toEqual([2, 1]);
    expect(data[0]).toMatchObject({ id, body: expect.stringContaining('{{orderId}}') as string, params: ['orderId', 'name'], format: 'html' });
    expect(data[1]).toMatchObject({ id, body: '<p>Hello {{name}}</p>', params: ['name'] });
    expect(Date.parse(data[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(data[1]!.createdAt));
    expect((await send('PUT', `/v1/templates/${id}`, { channel: 'SMS', body: 'v3 {{name}}' })).status).toBe(200);
    const after = (await (await api.request(`/v1/templates/${id}/versions`)).json()) as { data: { version: number; channel: string }[] };
    expect(after.data.map((v) => [v.version, v.channel])).toEqual([
      [3, 'SMS'],
      [2, 'EMAIL'],
      [1, 'EMAIL'],
    ]);
  });

  it('answers 404 for an unknown template and 400 for an id that cannot be one', async () => {
    const missing = await api.request(`/v1/templates/${templateName()}/versions`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await api.request('/v1/templates/lower_case/versions')).status).toBe(400);
  });
});

describe('template preview', () => {
  const preview = (id: string, body: unknown, auth?: string) =>
    api.request(`/v1/templates/${id}/preview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(auth ? { auth } : {}),
    });

  it('renders the latest version, escaping parameter values in HTML but not in the subject or text', async () => {
    const id = await htmlTemplate();
    const response = await preview(id, { params: { name: '<script>alert(1)</script>', orderId: 'A&B' } });
    expect(response.status).toBe(200);
    const p = (await response.json()) as Preview;
    expect(p).toMatchObject({ id, version: 2, channel: 'EMAIL', subject: 'Order A&B for <script>alert(1)</script>', missingParams: [] });
    expect(p.html).toBe('<p>Dear &lt;script&gt;alert(1)&lt;/script&gt;,</p><p>order <b>A&amp;B</b> shipped.</p>');
    expect(p.html).not.toContain('<script>');
    expect(p.text).toContain('Dear <script>alert(1)</script>,');
    expect(p.text).toContain('order A&B shipped.');
  });

  it('renders an earlier version when asked, and a text template without html', async () => {
    const id = await htmlTemplate();
    const v1 = (await (await preview(id, { params: { name: 'Jane' }, version: 1 })).json()) as Preview;
    expect(v1).toMatchObject({ version: 1, subject: 'Hi Jane', html: '<p>Hello Jane</p>', text: 'Hello Jane', missingParams: [] });
    const sms = (await (await preview('ORDER_SHIPPED_SMS', { params: { orderId: 'A1', trackingUrl: 'https://t.example/1' } })).json()) as Preview;
    expect(sms).toMatchObject({ channel: 'SMS', subject: null, html: null, missingParams: [] });
    expect(sms.text).toContain('A1');
    expect(sms.text).toContain('https://t.example/1');
  });

  it('lists missing parameters and leaves their placeholders', async () => {
    const id = await htmlTemplate();
    const p = (await (await preview(id, { params: { name: 'Jane' } })).json()) as Preview;
    expect(p.missingParams).toEqual(['orderId']);
    expect(p.subject).toBe('Order {{orderId}} for Jane');
    expect(p.html).toContain('<b>{{orderId}}</b>');
    const none = (await (await preview(id, {})).json()) as Preview;
    expect(none.missingParams).toEqual(['orderId', 'name']);
  });

  it('refuses an undeclared parameter (422) and a malformed one (400), naming the field', async () => {
    const id = await htmlTemplate();
    const unknown = await preview(id, { params: { name: 'Jane', orderId: 'A1', colour: 'red' } });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as Problem).errors).toEqual([{ path: 'params.colour', message: expect.stringContaining('unknown') as string }]);
    // An earlier version that does not use a parameter refuses it too.
    const older = await preview(id, { params: { name: 'Jane', orderId: 'A1' }, version: 1 });
    expect(older.status).toBe(422);
    expect(((await older.json()) as Problem).errors?.map((e) => e.path)).toEqual(['params.orderId']);
    for (const [body, path] of [
      [{ params: { name: { nested: true } } }, 'params.name'],
      [{ params: { 'bad name': 'x' } }, 'params'],
      [{ params: {}, version: 0 }, 'version'],
      [{ params: {}, extra: 1 }, '(root)'],
    ] as const) {
      const response = await preview(id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as Problem).errors?.[0]?.path, JSON.stringify(body)).toContain(path);
    }
  });

  it('answers 404 for an unknown template or version', async () => {
    const id = await htmlTemplate();
    const missing = await preview(templateName(), { params: {} });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).detail).toMatch(/no template/);
    expect((await preview(id, { params: {}, version: 3 })).status).toBe(404);
  });

  it('needs only the read scope (publishing needs admin)', async () => {
    const id = await htmlTemplate();
    const created = await send('POST', '/v1/api-keys', { name: unique('reader'), scopes: ['read'] });
    const reader = ((await created.json()) as { key: string }).key;
    expect((await preview(id, { params: { name: 'Jane', orderId: 'A1' } }, reader)).status).toBe(200);
    expect((await api.request(`/v1/templates/${id}/versions`, { auth: reader })).status).toBe(200);
    const refused = await api.request(`/v1/templates/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'SMS', body: 'y' }),
      auth: reader,
    });
    expect(refused.status).toBe(403);
    // Neither the previews nor the refused update added a version.
    const versions = (await (await api.request(`/v1/templates/${id}/versions`)).json()) as { data: unknown[] };
    expect(versions.data).toHaveLength(2);
  });

  it('shows what admission stores for the same template and parameters', async () => {
    const id = await htmlTemplate();
    const params = { name: 'Ann <"O\'Neil">', orderId: 'Z&9' };
    const p = (await (await preview(id, { params })).json()) as Preview;
    // A user without a directory entry: `to` names the recipient, so none is needed.
    const userId = 'console-test';
    expect((await api.request(`/v1/users/${userId}`)).status).toBe(404);
    const accepted = await send('POST', '/v1/notifications', { userId, type: 'EMAIL', templateId: id, templateParams: params, to: 'ann@example.com' });
    expect(accepted.status, await accepted.clone().text()).toBe(202);
    const { id: notificationId } = (await accepted.json()) as { id: string };
    try {
      const [row] = await api.deps.db.select().from(notifications).where(eq(notifications.id, notificationId));
      expect(row).toMatchObject({ templateId: id, templateVersion: p.version, subject: p.subject });
      expect(openContent(api.deps.encryptor, row!)).toMatchObject({ text: p.text, html: p.html });
    } finally {
      // No worker polls this file's queues: end the workflow rather than leave it open.
      await api.deps.temporal.workflow
        .getHandle(notificationWorkflowId(notificationId))
        .terminate('test done')
        .catch(() => undefined);
    }
  });
});
