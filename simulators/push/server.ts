// A push gateway: POST /v1/push {tokens[], title, body, data?}, Bearer key, Idempotency-Key → 202 {id, status}.
import { z } from 'zod';
import { startBearerGateway, type GatewayOptions } from '../lib/bearer-gateway.js';
import type { LedgerEntry } from '../lib/ledger.js';

export interface PushLedgerEntry extends LedgerEntry {
  tokens: string[];
  title: string;
  body: string;
  data: Record<string, string> | null;
}

const pushSchema = z.object({
  tokens: z
    .array(z.string().regex(/^[A-Za-z0-9:_.-]{8,4096}$/, 'not a device token'))
    .min(1)
    .max(500),
  title: z.string().min(1).max(200),
  body: z.string().min(1).max(4000),
  data: z.record(z.string(), z.string()).optional(),
});

export function startPushSimulator(options: GatewayOptions) {
  return startBearerGateway<typeof pushSchema, PushLedgerEntry>(options, {
    path: '/v1/push',
    idPrefix: 'push',
    schema: pushSchema,
    invalidError: 'invalid_token',
    toEntry: (b) => ({ tokens: b.tokens, title: b.title, body: b.body, data: b.data ?? null }),
  });
}
