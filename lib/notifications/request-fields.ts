// The fields of a notification request, shared by POST /v1/notifications and a schedule's notification so
// both accept the same values.
import { z } from '@hono/zod-openapi';
import { checkRecipientOverride, MAX_PUSH_TOKENS, type ContactChannel } from './recipients.js';

export const userIdField = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'letters, digits and _ . : @ - (at most 128)')
  .openapi({ example: 'user-42' });

export const templateIdField = z.string().min(1).max(64).openapi({ example: 'ORDER_SHIPPED_CONFIRMATION' });

export const templateParamsField = z.record(z.string(), z.union([z.string().max(10_000), z.number(), z.boolean()])).default({});

export const correlationIdField = z.string().min(1).max(128);

/** The `to` override: one recipient, or up to MAX_PUSH_TOKENS device tokens; `refineRecipientOverride` checks it for the channel. */
export const recipientOverrideField = z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(4096)).min(1).max(MAX_PUSH_TOKENS)]);

/** The cross-field check of a request's `to` against its `type`: use in `.superRefine`. */
export function refineRecipientOverride(body: { type: ContactChannel; to?: string | string[] | undefined }, ctx: z.RefinementCtx): void {
  if (body.to === undefined) return;
  for (const issue of checkRecipientOverride(body.type, body.to)) ctx.addIssue({ code: 'custom', path: ['to', ...issue.path], message: issue.message });
}
