// The notification list's filters as query parameters: one schema for the list, its counts and a batch
// retry's body, so a filter means the same everywhere.
import { z } from '@hono/zod-openapi';
import type { NotificationFilters } from '../../lib/notifications/list.js';
import { parsePriority } from '../../lib/notifications/policy.js';
import { notificationStatuses } from '../../lib/notifications/status.js';

export const channel = z.enum(['EMAIL', 'SMS', 'PUSH']);

export const priority = z
  .string()
  .transform((value, ctx) => {
    const parsed = parsePriority(value);
    if (!parsed) ctx.addIssue({ code: 'custom', message: 'expected HIGH | MEDIUM | LOW (or critical | medium | low)' });
    return parsed ?? 'medium';
  })
  .openapi({
    type: 'string',
    example: 'HIGH',
    description: 'HIGH | MEDIUM | LOW (seed 003) or critical | medium | low (seed 001); HIGH is critical. Default MEDIUM.',
  });

const flag = z
  .enum(['true', 'false'])
  .transform((v) => v === 'true')
  .openapi({ type: 'string', example: 'true' });

export const filterFields = {
  status: z.enum(notificationStatuses).optional(),
  late: flag.optional().openapi({ description: 'true: only those sent after their deadline' }),
  userId: z.string().max(128).optional().openapi({ example: 'user-42' }),
  correlationId: z.string().max(128).optional(),
  priority: priority.optional(),
  type: channel.optional(),
  templateId: z.string().max(64).optional().openapi({ example: 'PASSWORD_RESET' }),
  recipient: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .openapi({ description: 'The recipient exactly as listed: an address, an E.164 number, or the push tokens' }),
  since: z.string().datetime({ offset: true }).optional().openapi({ description: 'Created at or after', example: '2026-12-07T00:00:00Z' }),
  until: z.string().datetime({ offset: true }).optional().openapi({ description: 'Created before' }),
};

export const filterQuery = z.object(filterFields);
export type FilterQuery = z.infer<typeof filterQuery>;

export function toFilters(q: FilterQuery): NotificationFilters {
  const { type, since, until, ...same } = q;
  return { ...same, channel: type, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined };
}
