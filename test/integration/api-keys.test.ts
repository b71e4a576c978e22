import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { useTestApi } from '../helpers/api.js';

const api = useTestApi();

describe('API keys', () => {
  it('the admin creates a key that authenticates, is stored hashed, and stops working when revoked', async () => {
    const created = await api.request('/v1/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'billing' }),
    });
    expect(created.status).toBe(201);
    const { id, key, prefix } = (await created.json()) as { id: string; key: string; prefix: string };
    expect(key).toMatch(/^mf_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);

    const rows = await api.deps.db.execute<{ key_hash: string }>(sql`select key_hash from api_keys where id = ${id}`);
    expect(rows[0]!.key_hash).toMatch(/^[0-9a-f]{64}$/);
    const everything = JSON.stringify(await api.deps.db.execute(sql`select * from api_keys`));
    expect(everything).not.toContain(key);

    // A normal key is authenticated but may not manage keys.
    const asKey = await api.request('/v1/api-keys', { auth: key });
    expect(asKey.status).toBe(403);

    const listed = (await (await api.request('/v1/api-keys')).json()) as { data: { id: string }[] };
    expect(listed.data.map((k) => k.id)).toContain(id);

    expect((await api.request(`/v1/api-keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api.request('/v1/api-keys', { auth: key })).status).toBe(401);
    expect((await api.request(`/v1/api-keys/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('gives a key the scopes it was made with (default read and send), and refuses unknown ones', async () => {
    const post = (body: unknown, auth?: string) =>
      api.request('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(auth ? { auth } : {}) });
    const plain = (await (await post({ name: 'plain' })).json()) as { key: string; scopes: string[] };
    expect(plain.scopes.sort()).toEqual(['read', 'send']);
    const reader = (await (await post({ name: 'reader', scopes: ['read'] })).json()) as { key: string; scopes: string[] };
    expect(reader.scopes).toEqual(['read']);
    const admin = (await (await post({ name: 'admin', scopes: ['admin'] })).json()) as { key: string; scopes: string[] };

    expect((await post({ name: 'x', scopes: ['superuser'] })).status).toBe(400);
    expect((await post({ name: 'x', scopes: [] })).status).toBe(400);
    // Only a key with the admin scope manages keys, and scopes are independent: admin alone does not read mail.
    const forbidden = await post({ name: 'x' }, plain.key);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { detail: string }).detail).toContain('"admin"');
    expect((await post({ name: 'made-by-admin-key', scopes: ['read'] }, admin.key)).status).toBe(201);
    expect((await api.request('/v1/notifications', { auth: admin.key })).status).toBe(403);
    expect((await api.request('/v1/notifications', { auth: reader.key })).status).toBe(200);
    expect(
      (await api.request('/v1/notifications', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', auth: reader.key })).status,
    ).toBe(403);
    const listed = (await (await api.request('/v1/api-keys')).json()) as { data: { name: string; scopes: string[] }[] };
    expect(listed.data.find((k) => k.name === 'reader')?.scopes).toEqual(['read']);
  });
});
