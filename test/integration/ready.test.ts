import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

interface ReadyBody {
  status: string;
  checks: Record<string, { ok: boolean; backend?: string; error?: string }>;
}

/** An API started with `env` (a dependency pointed nowhere), and its /ready answer. */
async function readyWith(env: Record<string, string>) {
  api = await startTestApi(env);
  const response = await api.request('/ready', { auth: null });
  return { response, body: (await response.json()) as ReadyBody };
}

describe('/health and /ready', () => {
  it('is live and ready with every dependency up, naming the index backend', async () => {
    api = await startTestApi();
    expect(await (await api.request('/health', { auth: null })).json()).toEqual({ status: 'ok' });
    const response = await api.request('/ready', { auth: null });
    const body = (await response.json()) as ReadyBody;
    expect(response.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.temporal!.ok).toBe(true);
    expect(body.checks.postgres!.ok).toBe(true);
    expect(body.checks.index!.ok).toBe(true);
    expect(body.checks.index!.backend).toBe(inject('services').ELASTICSEARCH_URL ? 'elasticsearch' : 'postgres');
  });

  it('reports Temporal down', async () => {
    const { response, body } = await readyWith({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(response.status).toBe(503);
    expect(body.checks.temporal!.ok).toBe(false);
    expect(body.checks.postgres!.ok).toBe(true);
  });

  it('reports PostgreSQL down, without leaking its URL', async () => {
    const { response, body } = await readyWith({ DATABASE_URL: 'postgres://nobody:secretpw@127.0.0.1:1/none' });
    expect(response.status).toBe(503);
    expect(body.checks.postgres!.ok).toBe(false);
    expect(body.checks.temporal!.ok).toBe(true);
    expect(JSON.stringify(body)).not.toContain('secretpw');
  });

  it('reports the Elasticsearch index down', async () => {
    const { response, body } = await readyWith({ ELASTICSEARCH_URL: 'http://127.0.0.1:1' });
    expect(response.status).toBe(503);
    expect(body.checks.index).toMatchObject({ ok: false, backend: 'elasticsearch' });
  });

  it('serves the OpenAPI document and docs without a key, and metrics only with one', async () => {
    api = await startTestApi();
    const doc = (await (await api.request('/openapi.json', { auth: null })).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/ready', '/v1/api-keys']));
    expect((await api.request('/docs', { auth: null })).status).toBe(200);
    expect((await api.request('/metrics', { auth: null })).status).toBe(401);
    await api.request('/health', { auth: null });
    const metrics = await (await api.request('/metrics')).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect(metrics).toMatch(/mailflow_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(metrics).toContain('mailflow_http_request_duration_seconds_bucket');
  });
});
