// SMS and push gateways share one shape: Bearer auth, a JSON body checked by a zod schema, an
// `Idempotency-Key`, 202 with the message id. Each passes its schema and how to build a ledger entry.
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { LedgerEntry } from './ledger.js';
import { createSimulatorFrame, listen, refuse, type RunningSimulator } from './server.js';

export interface GatewayOptions {
  port?: number;
  host?: string;
  apiKey: string;
}

export async function startBearerGateway<S extends z.ZodTypeAny, E extends LedgerEntry>(
  options: GatewayOptions,
  route: { path: string; idPrefix: string; schema: S; invalidError: string; toEntry: (body: z.infer<S>) => Omit<E, 'id' | 'idempotencyKey' | 'acceptedAt'> },
): Promise<RunningSimulator & { ledger: () => E[] }> {
  const frame = createSimulatorFrame<E>();
  frame.app.post(route.path, async (c) => {
    if (c.req.header('authorization') !== `Bearer ${options.apiKey}`) return c.json({ error: 'unauthorized', message: 'missing or wrong bearer token' }, 401);
    const refusal = frame.gate();
    if (refusal) return refuse(c, refusal, { error: refusal.status === 429 ? 'rate_limited' : 'unavailable', message: refusal.reason });
    const parsed = route.schema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success)
      return c.json({ error: route.invalidError, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }, 400);
    const idempotencyKey = c.req.header('idempotency-key') ?? null;
    const entry =
      frame.ledger.find(idempotencyKey) ??
      frame.ledger.add({
        ...route.toEntry(parsed.data),
        id: `${route.idPrefix}_${randomBytes(8).toString('hex')}`,
        idempotencyKey,
        acceptedAt: new Date().toISOString(),
      } as E);
    await frame.delay();
    return c.json({ id: entry.id, status: 'queued' }, 202);
  });
  const running = await listen(frame.app, options.port, options.host);
  return { ...running, ledger: () => frame.ledger.all() };
}
