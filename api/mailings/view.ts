// How a mailing reads over the API: its progress, counts, rate and ETA (lib/mailings/service.ts's view).
import { z } from '@hono/zod-openapi';
import { counts } from '../openapi.js';

const countsSchema = counts('total', 'valid', 'invalid', 'duplicate', 'queued', 'sending', 'sent', 'failed', 'cancelled').extend({
  unknown: z.number().int().openapi({ description: 'Cancelled after a request whose answer never came: may or may not have been delivered' }),
});
export const mailingSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    status: z.enum(['PENDING', 'PARSING', 'SENDING', 'PAUSED', 'COMPLETED', 'FAILED', 'CANCELLED']),
    workflowId: z.string(),
    failureReason: z.string().nullable(),
    counts: countsSchema,
    sendRatePerMinute: z.number().openapi({ description: 'Sends per minute over the last 5 minutes (or since sending started)' }),
    etaSeconds: z.number().nullable().openapi({ description: 'Remaining sends at the recent rate' }),
    recentFailures: z.array(z.object({ row: z.number().int(), email: z.string(), reason: z.string().nullable() })),
    createdAt: z.string().datetime(),
    sendingStartedAt: z.string().datetime().nullable(),
    finishedAt: z.string().datetime().nullable(),
  })
  .openapi('Mailing');
