// The edge cases the fuzzer found, kept as plain tests: each answered 500, an undocumented status, or
// accepted what its schema refuses.
import { describe, expect, it } from 'vitest';
import { useTestApi } from '../helpers/api.js';

const api = useTestApi();

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
}

describe('the API keeps its contract', () => {
  it('answers a method a path does not have with 405 and Allow', async () => {
    const response = await api.request('/v1/templates', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await api.request('/v1/no-such-thing', { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses a multipart body without a boundary (400), where parsing it failed with 500', async () => {
    for (const path of ['/v1/emails', '/v1/mailings']) {
      const response = await api.request(path, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' });
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { detail: string }).detail).toMatch(/boundary/);
    }
  });

  it('refuses NUL characters in a JSON body or a query (PostgreSQL text cannot hold them)', async () => {
    const body = await api.request('/v1/notifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u1', type: 'SMS', templateId: 'A\u0000B' }),
    });
    expect(body.status).toBe(400);
    expect(((await body.json()) as { detail: string }).detail).toMatch(/NUL/);
    const query = await api.request('/v1/notifications?userId=a%00b');
    expect(query.status).toBe(400);
  });

  it('refuses a required body that is missing (415) instead of reading it as empty', async () => {
    const response = await api.request('/v1/users/contract-user', { method: 'PUT' });
    expect(response.status).toBe(415);
    expect((await api.request('/v1/users/contract-user')).status).toBe(404); // nothing was written
  });

  it('bounds a template version to what the database holds', async () => {
    expect((await api.request('/v1/templates/NEW_MESSAGE?version=37648845759706')).status).toBe(400);
  });

  it('documents 400 wherever input is validated, and a create-template body a client can generate', async () => {
    const doc = (await (await api.request('/openapi.json')).json()) as OpenApiDoc;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (path.includes('{') || operation.requestBody) expect(Object.keys(operation.responses), `${method} ${path}`).toContain('400');
      }
    }
    // The multipart bodies are schemas a client generator can call, not prose.
    const form = (path: string) => JSON.stringify(doc.paths[path]!.post!.requestBody?.content['multipart/form-data']?.schema ?? null);
    expect(form('/v1/emails')).toMatch(/EmailForm/);
    expect(form('/v1/mailings')).toMatch(/MailingForm/);
    const create = doc.paths['/v1/templates']!.post!.requestBody!.content['application/json']!.schema;
    expect(JSON.stringify(create)).not.toContain('allOf');
    const created = await api.request('/v1/templates', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: `CONTRACT_${Date.now()}`, channel: 'SMS', body: 'Hello {{name}}' }),
    });
    expect(created.status).toBe(201);
  });
});
