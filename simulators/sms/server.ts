// An SMS gateway: POST /v1/messages {to (E.164), body, from?}, Bearer key, Idempotency-Key → 202 {id, status}.
import { z } from 'zod';
import { startBearerGateway, type GatewayOptions } from '../lib/bearer-gateway.js';
import type { LedgerEntry } from '../lib/ledger.js';

export interface SmsLedgerEntry extends LedgerEntry {
  to: string;
  body: string;
  from: string | null;
}

const smsSchema = z.object({
  to: z.string().regex(/^\+[1-9]\d{6,14}$/, 'not an E.164 number'),
  body: z.string().min(1).max(1600),
  from: z.string().max(20).optional(),
});

export function startSmsSimulator(options: GatewayOptions) {
  return startBearerGateway<typeof smsSchema, SmsLedgerEntry>(options, {
    path: '/v1/messages',
    idPrefix: 'sms',
    schema: smsSchema,
    invalidError: 'invalid_number',
    toEntry: (b) => ({ to: b.to, body: b.body, from: b.from ?? null }),
  });
}
