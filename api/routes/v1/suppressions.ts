// The caller's email suppression list: addresses that complained or bounced permanently, which later
// notifications to them do not reach (they end FAILED, never attempted). Listing and removing only; entries
// come from the providers' webhooks.
import { z } from '@hono/zod-openapi';
import { decodeTimeCursor, encodeTimeCursor } from '../../time-cursor.js';
import { listSuppressions, removeSuppression, type SuppressionRow } from '../../../lib/notifications/suppressions.js';
import { tenantOf } from '../../auth/tenant.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter, pageLimit, pageResponses, routesTagged } from '../../openapi.js';

const route = routesTagged('Notifications');

const suppressionSchema = z
  .object({
    address: z.string().openapi({ example: 'jane@example.com' }),
    reason: z.enum(['complained', 'bounced']),
    detail: z.string().nullable().openapi({ description: "The provider's reason, as reported" }),
    notificationId: z.string().nullable().openapi({ description: 'The notification whose delivery event added it' }),
    createdAt: z.string().datetime(),
  })
  .openapi('Suppression');

const toView = (s: SuppressionRow) => ({
  address: s.address,
  reason: s.reason,
  detail: s.detail,
  notificationId: s.notificationId,
  createdAt: s.createdAt.toISOString(),
});

export const suppressionRoutes = createRouter()
  .openapi(
    route.get('/v1/suppressions', 'listSuppressions', 'read', {
      summary: 'Email addresses that are not mailed again (complaints, permanent bounces), newest first; searchable by address',
      request: {
        query: z.object({
          limit: pageLimit(200, 50),
          cursor: z.string().max(600).optional().openapi({ description: "From the previous page's nextCursor (with the same q)" }),
          q: z
            .string()
            .max(320)
            .optional()
            .openapi({ description: 'Only addresses containing this text, in any case (a prefix such as "jane@" or a domain)', example: 'example.com' }),
        }),
      },
      responses: pageResponses('A page of suppressed addresses', suppressionSchema),
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listSuppressions(c.var.deps.db, tenantOf(c.var.principal), q.limit, q.cursor ? decodeTimeCursor(q.cursor, 'address') : undefined, q.q);
      return c.json({ data: page.rows.map(toView), nextCursor: page.next ? encodeTimeCursor(page.next.createdAt, page.next.address) : null }, 200);
    },
  )
  .openapi(
    route.delete('/v1/suppressions/{address}', 'deleteSuppression', 'send', {
      summary: 'Mail an address again: remove it from the suppression list',
      request: { params: z.object({ address: z.string().min(3).max(320).openapi({ example: 'jane@example.com' }) }) },
      responses: { 204: { description: 'Removed' }, 404: errorResponses[404] },
    }),
    async (c) => {
      const { address } = c.req.valid('param');
      if (!(await removeSuppression(c.var.deps.db, tenantOf(c.var.principal), address)))
        throw new AppError('not_found', `${address} is not on the suppression list`);
      c.var.logger.info({ owner: tenantOf(c.var.principal) }, 'suppression removed');
      return c.body(null, 204);
    },
  );
