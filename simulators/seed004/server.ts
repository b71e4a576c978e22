// The seed-004 email API as its OpenAPI document says (simulators/seed004/contract/openapi.json):
// POST /auth/token → a JWT (sub, exp); POST /send-email with Bearer → 202 {message_id, status};
// 1 request per 10 s across all clients (429 + Retry-After; a refused request uses no slot);
// optional transient 500/502/503; GET /health. Plus a control API with the ledger of accepted sends, and
// faults: failures, refusals, latency of answers, and requests held before they count (as if they reached the
// API late: a stalled client or a slow network).
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { jwtVerify, SignJWT } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { listen, type RunningSimulator } from '../lib/server.js';

export interface Seed004SimulatorOptions {
  port?: number;
  host?: string;
  username?: string;
  password?: string;
  tokenLifetimeSeconds?: number;
  ratePerSeconds?: { requests: number; perSeconds: number };
  transientFailureRate?: number;
}

export interface Seed004Send {
  message_id: string;
  to: string;
  subject: string;
  body: string;
  acceptedAt: string;
}

const configSchema = z
  .object({
    requests: z.number().int().min(1),
    perSeconds: z.number().positive(),
    tokenLifetimeSeconds: z.number().int().min(1),
    transientFailureRate: z.number().min(0).max(1),
    failNext: z.object({ count: z.number().int().min(0), status: z.number().int().min(400).max(599) }).nullable(),
    refuse: z.array(z.string()),
    latencyMs: z.number().int().min(0),
    /** The next `count` POST /send-email are held `ms` before the API sees them (and counts them). */
    holdNext: z.object({ count: z.number().int().min(0), ms: z.number().int().min(0).max(60_000) }).nullable(),
  })
  .partial()
  .extend({ revokeTokens: z.boolean().optional() });

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const fastApiMissing = (field: string) => ({ detail: [{ type: 'missing', loc: ['body', field], msg: 'Field required' }] });
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** FastAPI's 422 for a JSON body that is not an object (null, an array, a number, a string), or undefined if it is one. */
function notAnObject(body: unknown) {
  if (body === null) return { detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] };
  if (typeof body !== 'object' || Array.isArray(body)) {
    return {
      detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }],
    };
  }
  return undefined;
}

export async function startSeed004Simulator(options: Seed004SimulatorOptions = {}): Promise<RunningSimulator & { ledger: () => Seed004Send[] }> {
  const secret = randomBytes(32);
  const state = {
    username: options.username ?? 'cnx_test',
    password: options.password ?? 'cnx_password_2025!',
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 1800,
    requests: options.ratePerSeconds?.requests ?? 1,
    perSeconds: options.ratePerSeconds?.perSeconds ?? 10,
    transientFailureRate: options.transientFailureRate ?? 0,
    failNext: null as { count: number; status: number } | null,
    refuse: [] as string[],
    latencyMs: 0,
    holdNext: null as { count: number; ms: number } | null,
  };
  const ledger: Seed004Send[] = [];
  const issued = new Set<string>();
  const revoked = new Set<string>();
  const slots: number[] = []; // times (ms) of accepted sends inside the current window
  const stats = { byStatus: {} as Record<string, number>, tokensIssued: 0, held: 0 };
  const count = (status: number) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  };
  const answer = (c: Context, status: number, body: unknown, headers: Record<string, string> = {}) => {
    count(status);
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    return c.json(body, status as 200);
  };

  const app = new Hono();
  app.get('/health', (c) => c.json({ status: 'healthy', timestamp: new Date().toISOString(), version: '1.0.0' }));

  app.post('/auth/token', async (c) => {
    const body: unknown = await c.req.json<unknown>().catch(() => ({}));
    const shape = notAnObject(body);
    if (shape) return answer(c, 422, shape);
    if (!isRecord(body)) return answer(c, 422, fastApiMissing('username'));
    for (const field of ['username', 'password']) if (typeof body[field] !== 'string') return answer(c, 422, fastApiMissing(field));
    if (body.username !== state.username || body.password !== state.password) return answer(c, 401, { detail: 'Invalid credentials' });
    const now = Math.floor(Date.now() / 1000);
    const jti = randomBytes(8).toString('hex');
    issued.add(jti);
    const token = await new SignJWT({ sub: state.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + state.tokenLifetimeSeconds)
      .setJti(jti)
      .sign(secret);
    stats.tokensIssued += 1;
    return answer(c, 200, { access_token: token, token_type: 'bearer', expires_in: state.tokenLifetimeSeconds });
  });

  app.post('/send-email', async (c) => {
    if (state.holdNext && state.holdNext.count > 0) {
      state.holdNext.count -= 1;
      stats.held += 1;
      await sleep(state.holdNext.ms);
    }
    const header = c.req.header('authorization');
    const match = header ? /^Bearer (.+)$/.exec(header) : null;
    if (!match) return answer(c, 401, { detail: 'Not authenticated' });
    try {
      const { payload } = await jwtVerify(match[1]!, secret);
      if (!payload.jti || revoked.has(payload.jti)) throw new Error('revoked');
    } catch {
      return answer(c, 401, { detail: 'Could not validate credentials' });
    }
    const body = await c.req.json<unknown>().catch(() => undefined);
    if (body === undefined) return answer(c, 400, { detail: 'Invalid JSON payload' });
    const shape = notAnObject(body);
    if (shape || !isRecord(body)) return answer(c, 422, shape ?? fastApiMissing('to'));
    for (const field of ['to', 'subject', 'body']) if (typeof body[field] !== 'string') return answer(c, 422, fastApiMissing(field));
    const { to, subject, body: text } = body as { to: string; subject: string; body: string };
    if (!emailPattern.test(to)) return answer(c, 422, { detail: [{ type: 'value_error', loc: ['body', 'to'], msg: 'value is not a valid email address' }] });
    if (subject.length === 0 || subject.length > 255) return answer(c, 400, { detail: 'Subject must be between 1 and 255 characters' });
    if (text.length === 0 || text.length > 10_000) return answer(c, 400, { detail: 'Body must be between 1 and 10000 characters' });

    const now = Date.now();
    const windowMs = state.perSeconds * 1000;
    while (slots.length && now - slots[0]! >= windowMs) slots.shift();
    if (slots.length >= state.requests) {
      const retryAfter = Math.max(1, Math.ceil((slots[0]! + windowMs - now) / 1000));
      return answer(
        c,
        429,
        { detail: `Rate limit exceeded. Maximum ${state.requests} request per ${state.perSeconds} seconds.` },
        { 'Retry-After': String(retryAfter) },
      );
    }
    slots.push(now);
    if (state.failNext && state.failNext.count > 0) {
      state.failNext.count -= 1;
      return answer(c, state.failNext.status, { detail: 'Simulated failure' });
    }
    // Like a pydantic model validator, the refusal echoes the input it judged: the whole message.
    if (state.refuse.includes(to.toLowerCase()))
      return answer(c, 422, { detail: [{ type: 'value_error', loc: ['body'], msg: 'recipient refused', input: { to, subject, body: text } }] });
    if (state.transientFailureRate > 0 && Math.random() < state.transientFailureRate) {
      return answer(c, [500, 502, 503][Math.floor(Math.random() * 3)]!, { detail: 'Service temporarily unavailable' });
    }
    // Stamped with the instant it was counted at.
    const send: Seed004Send = { message_id: `msg_${randomBytes(4).toString('hex')}`, to, subject, body: text, acceptedAt: new Date(now).toISOString() };
    ledger.push(send);
    if (state.latencyMs) await sleep(state.latencyMs);
    return answer(c, 202, { message_id: send.message_id, status: 'queued' });
  });

  app.get('/_control/ledger', (c) => {
    const seen = new Map<string, number>();
    for (const s of ledger) seen.set(s.to.toLowerCase(), (seen.get(s.to.toLowerCase()) ?? 0) + 1);
    return c.json({ sends: ledger, duplicates: [...seen].filter(([, n]) => n > 1).map(([to, n]) => ({ to, count: n })) });
  });
  app.get('/_control/stats', (c) => c.json(stats));
  app.get('/_control/config', (c) => c.json(state));
  app.put('/_control/config', async (c) => {
    const parsed = configSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }, 400);
    const { revokeTokens, refuse, ...rest } = parsed.data;
    Object.assign(state, rest);
    if (refuse) state.refuse = refuse.map((r) => r.toLowerCase());
    if (revokeTokens) for (const jti of issued) revoked.add(jti);
    return c.json(state);
  });
  app.post('/_control/reset', (c) => {
    ledger.length = 0;
    slots.length = 0;
    stats.byStatus = {};
    stats.tokensIssued = 0;
    stats.held = 0;
    Object.assign(state, { failNext: null, refuse: [], latencyMs: 0, holdNext: null });
    return c.body(null, 204);
  });

  const running = await listen(app, options.port, options.host);
  return { ...running, ledger: () => [...ledger] };
}
