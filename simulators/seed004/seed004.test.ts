// The seed-004 API simulator speaks the contract of simulators/seed004/contract/openapi.json.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSeed004Simulator } from './server.js';

let sim: Awaited<ReturnType<typeof startSeed004Simulator>>;
beforeAll(async () => {
  sim = await startSeed004Simulator({ ratePerSeconds: { requests: 1, perSeconds: 2 }, tokenLifetimeSeconds: 2 });
});
afterAll(async () => {
  await sim?.close();
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
const token = async () =>
  ((await (await post('/auth/token', { username: 'cnx_test', password: 'cnx_password_2025!' })).json()) as { access_token: string }).access_token;
const mail = { to: 'a@example.com', subject: 'Complete your registration', body: 'Thank you.' };

describe('seed-004 simulator', () => {
  it('issues JWTs and refuses bad credentials and missing fields', async () => {
    const ok = await post('/auth/token', { username: 'cnx_test', password: 'cnx_password_2025!' });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 2 });
    const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()) as { sub: string; exp: number };
    expect(payload.sub).toBe('cnx_test');
    expect((await post('/auth/token', { username: 'cnx_test', password: 'wrong' })).status).toBe(401);
    expect((await post('/auth/token', { username: 'cnx_test' })).status).toBe(422);
    // Not an object: 422 as FastAPI answers (loc ["body"]), never a 500.
    for (const bad of [null, [], 42, 'text']) {
      const refused = await post('/auth/token', bad);
      expect(refused.status).toBe(422);
      expect(await refused.json()).toMatchObject({ detail: [{ loc: ['body'], type: bad === null ? 'missing' : 'model_attributes_type' }] });
    }
    expect(await (await fetch(`${sim.url}/health`)).json()).toMatchObject({ status: 'healthy' });
  });

  it('sends with a valid token, limits the rate with Retry-After, and expires tokens', async () => {
    await fetch(`${sim.url}/_control/reset`, { method: 'POST' });
    expect((await post('/send-email', mail)).status).toBe(401);
    expect((await post('/send-email', mail, 'not.a.jwt')).status).toBe(401);
    const t = await token();
    expect((await post('/send-email', { ...mail, to: 'not-an-email' }, t)).status).toBe(422);
    for (const bad of [null, [mail], 7]) expect((await post('/send-email', bad, t)).status).toBe(422);
    expect((await post('/send-email', { ...mail, subject: 'x'.repeat(256) }, t)).status).toBe(400);
    const sent = await post('/send-email', mail, t);
    expect(sent.status).toBe(202);
    expect(await sent.json()).toMatchObject({ message_id: expect.stringMatching(/^msg_[0-9a-f]{8}$/) as string, status: 'queued' });
    const limited = await post('/send-email', { ...mail, to: 'b@example.com' }, await token());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await sleep(2_100);
    expect((await post('/send-email', { ...mail, to: 'c@example.com' }, t)).status).toBe(401); // expired: exp is whole seconds, so a 2 s token lives at least 1 s and at most 2 s
    const ledger = (await (await fetch(`${sim.url}/_control/ledger`)).json()) as { sends: { to: string }[] };
    expect(ledger.sends.map((s) => s.to)).toEqual(['a@example.com']);
  });

  it('injects failures, refusals and revocations, and reports duplicates', async () => {
    await fetch(`${sim.url}/_control/reset`, { method: 'POST' });
    const configure = (c: unknown) =>
      fetch(`${sim.url}/_control/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c) });
    expect(
      (await configure({ requests: 100, perSeconds: 1, tokenLifetimeSeconds: 60, failNext: { count: 1, status: 502 }, refuse: ['Refused@example.com'] }))
        .status,
    ).toBe(200);
    const t = await token();
    expect((await post('/send-email', mail, t)).status).toBe(502);
    expect((await post('/send-email', { ...mail, to: 'refused@example.com' }, t)).status).toBe(422);
    expect((await post('/send-email', mail, t)).status).toBe(202);
    expect((await post('/send-email', mail, t)).status).toBe(202);
    await configure({ revokeTokens: true });
    expect((await post('/send-email', mail, t)).status).toBe(401);
    expect((await post('/send-email', { ...mail, to: 'd@example.com' }, await token())).status).toBe(202);
    const ledger = (await (await fetch(`${sim.url}/_control/ledger`)).json()) as { duplicates: unknown[] };
    expect(ledger.duplicates).toEqual([{ to: 'a@example.com', count: 2 }]);
    expect((await configure({ requests: -1 })).status).toBe(400);
    const stats = (await (await fetch(`${sim.url}/_control/stats`)).json()) as { byStatus: Record<string, number> };
    expect(stats.byStatus).toMatchObject({ 502: 1, 422: 1, 401: 1 });
  });
});
