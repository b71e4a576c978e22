// The token side of IMAP XOAUTH2/OAUTHBEARER for the local Dovecot: mints opaque access tokens for a username,
// revokes them, and answers Dovecot's oauth2 passdb at the RFC 7662 introspection endpoint it calls on
// every bearer login (`introspection_mode = post`, or `auth`: a GET with the token as a Bearer header).
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { LedgerEntry } from '../lib/ledger.js';
import { createSimulatorFrame, listen, type RunningSimulator } from '../lib/server.js';

export interface ImapOAuthOptions {
  port?: number;
  host?: string;
  /** Lifetime of a minted token unless the request says otherwise. */
  defaultLifetimeSeconds?: number;
}

/** One introspection Dovecot made: whose token, and what it was told. */
export interface IntrospectionEntry extends LedgerEntry {
  username: string | null;
  active: boolean;
}

interface Token {
  username: string;
  expiresAt: number;
  revoked: boolean;
}

const mintSchema = z.object({
  username: z.string().min(1).max(320),
  expiresInSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400 * 30)
    .optional(),
  scope: z.string().max(200).optional(),
});
const revokeSchema = z.union([z.object({ token: z.string().min(1) }), z.object({ username: z.string().min(1) })]);

async function formOrJson(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? '';
  if (type.includes('application/json')) return (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(await c.req.text()));
}

export async function startImapOAuthSimulator(options: ImapOAuthOptions = {}): Promise<RunningSimulator> {
  const frame = createSimulatorFrame<IntrospectionEntry>();
  const { app, ledger } = frame;
  const tokens = new Map<string, Token & { scope: string }>();
  frame.onReset(() => tokens.clear());
  let seq = 0;

  app.get('/health', (c) => c.json({ ok: true }));

  // Mint: what an identity provider's token endpoint hands the client after consent.
  app.post('/tokens', async (c) => {
    const parsed = mintSchema.safeParse(await formOrJson(c));
    if (!parsed.success) return c.json({ error: 'invalid_request', detail: parsed.error.issues.map((i) => i.message).join('; ') }, 400);
    const lifetime = parsed.data.expiresInSeconds ?? options.defaultLifetimeSeconds ?? 3600;
    const token = `imapat_${randomBytes(24).toString('base64url')}`;
    tokens.set(token, {
      username: parsed.data.username.toLowerCase(),
      expiresAt: Date.now() + lifetime * 1000,
      revoked: false,
      scope: parsed.data.scope ?? 'imap',
    });
    return c.json({ access_token: token, token_type: 'Bearer', expires_in: lifetime, scope: parsed.data.scope ?? 'imap' }, 201);
  });

  // Revoke one token, or every token of a username (the user withdrew the grant).
  app.post('/revoke', async (c) => {
    const parsed = revokeSchema.safeParse(await formOrJson(c));
    if (!parsed.success) return c.json({ error: 'invalid_request' }, 400);
    let revoked = 0;
    for (const [token, t] of tokens) {
      const hit = 'token' in parsed.data ? token === parsed.data.token : t.username === parsed.data.username.toLowerCase();
      if (hit && !t.revoked) {
        t.revoked = true;
        revoked++;
      }
    }
    return c.json({ revoked });
  });

  const introspect = (c: Context, token: string | undefined) => {
    const t = token ? tokens.get(token) : undefined;
    const active = !!t && !t.revoked && t.expiresAt > Date.now();
    ledger.add({ id: `introspection-${++seq}`, idempotencyKey: null, acceptedAt: new Date().toISOString(), username: t?.username ?? null, active });
    if (!active) return c.json({ active: false });
    return c.json({
      active: true,
      username: t.username,
      scope: t.scope,
      token_type: 'Bearer',
      exp: Math.floor(t.expiresAt / 1000),
      client_id: 'mailflow-local',
    });
  };
  // RFC 7662: POST token=… (Dovecot's introspection_mode = post).
  app.post('/introspect', async (c) => {
    const body = await formOrJson(c);
    return introspect(c, typeof body.token === 'string' ? body.token : undefined);
  });
  // introspection_mode = auth: GET with Authorization: Bearer <token>.
  app.get('/introspect', (c) => introspect(c, /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]));

  return listen(app, options.port ?? 0, options.host ?? '127.0.0.1');
}
