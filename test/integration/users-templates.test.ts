// The recipient directory and the template API over real HTTP, with the seeded templates.
import { describe, expect, it } from 'vitest';
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
