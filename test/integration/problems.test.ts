// Every error the API returns is RFC 7807 problem details with the request id; 500s leak nothing.
import { describe, expect, it } from 'vitest';
import { useTestApi } from '../helpers/api.js';
import { buildAppDeps } from '../../api/deps.js';
import { createApp } from '../../api/app.js';
import { createLogger } from '../../lib/logger.js';
import { TEST_ADMIN_KEY, testConfig } from '../helpers/config.js';

const api = useTestApi();

async function problem(response: Response) {
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.requestId).toBe(response.headers.get('x-request-id'));
  expect(body.status).toBe(response.status);
  expect(typeof body.title).toBe('string');
  expect(String(body.type)).toMatch(/^urn:mailflow:problem:/);
  return body;
}

describe('problem details', () => {
  it('400 names the invalid field in errors[]', async () => {
    const response = await api.request('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: '' }) });
    expect(response.status).toBe(400);
    const body = await problem(response);
    expect(body.type).toBe('urn:mailflow:problem:validation');
    expect(body.errors).toEqual([expect.objectContaining({ path: 'name' })]);
    expect(body.detail).toMatch(/name/);
  });

  it('400 for a body that is not JSON', async () => {
    const response = await api.request('/v1/api-keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBe(400);
    await problem(response);
  });

  it('401 without a key and with a wrong key', async () => {
    const missing = await api.request('/v1/api-keys', { auth: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect((await problem(missing)).detail).toMatch(/API key is required/);
    const wrong = await api.request('/v1/api-keys', { auth: 'mf_wrong' });
    expect(wrong.status).toBe(401);
    expect((await problem(wrong)).detail).toMatch(/invalid or revoked/);
  });

  it('404 for an unknown route, with the request id the client sent', async () => {
    const response = await api.request('/v1/nothing-here', { headers: { 'x-request-id': 'client-chosen-id-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('client-chosen-id-1');
    await problem(response);
  });

  it('500 hides internals and keeps the request id', async () => {
    // A real failure: the database pool is closed under a live app.
    const config = testConfig();
    const { deps, close } = buildAppDeps(config, createLogger({ level: 'silent' }));
    const app = createApp(deps);
    await close();
    const response = await app.request('/v1/api-keys', { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.status).toBe(500);
    const body = await problem(response);
    expect(body.detail).toBe('an unexpected error occurred; quote the request id when reporting it');
    expect(JSON.stringify(body)).not.toMatch(/postgres|CONNECTION|stack|at /i);
  });
});
