// The control API of change notifications: subscriptions with their state and delivery counters, the
// notification log, and lifecycle events fired on demand (as Graph would on its own schedule).
import type { Hono } from 'hono';
import { z } from 'zod';
import type { SimContext } from './context.js';
import { body } from './control.js';
import { subscriptionView } from './subscriptions.js';

const lifecycleSchema = z
  .object({
    event: z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']),
    /** Default: every live subscription of the mailbox. */
    subscriptionId: z.string().min(1).optional(),
  })
  .strict();

export function subscriptionControlRoutes(app: Hono, ctx: SimContext): void {
  app.get('/_control/subscriptions', (c) => {
    const mailbox = c.req.query('mailbox')?.toLowerCase();
    const now = Date.now();
    return c.json(
      ctx.subscriptions
        .all()
        .filter((s) => !mailbox || s.address === mailbox)
        .map((s) => subscriptionView(s, now)),
    );
  });

  app.get('/_control/notifications', (c) => {
    const limit = Number(c.req.query('limit') ?? 5_000);
    return c.json(
      ctx.subscriptions.notifications({
        mailbox: c.req.query('mailbox')?.toLowerCase(),
        subscriptionId: c.req.query('subscriptionId')?.toLowerCase(),
        limit: Number.isFinite(limit) && limit > 0 ? limit : 5_000,
      }),
    );
  });

  app.post('/_control/mailboxes/:address/lifecycle', async (c) => {
    const mb = ctx.mailboxes.get(c.req.param('address').toLowerCase());
    if (!mb) return c.json({ error: 'no such mailbox' }, 404);
    const parsed = await body(c, lifecycleSchema);
    if ('error' in parsed) return parsed.error;
    const { event, subscriptionId } = parsed.data;
    const live = ctx.subscriptions.liveFor(mb.id);
    const targets = subscriptionId ? live.filter((s) => s.id === subscriptionId.toLowerCase()) : live;
    if (subscriptionId && targets.length === 0) return c.json({ error: 'no such live subscription of this mailbox' }, 404);
    const without = new Set(ctx.notifier.lifecycle(targets, event));
    if (event === 'subscriptionRemoved') for (const s of targets) ctx.subscriptions.remove(s, 'subscriptionRemoved');
    return c.json({
      event,
      subscriptions: targets.map((s) => s.id),
      posted: targets.filter((s) => !without.has(s)).map((s) => s.id),
      // Graph sends lifecycle notifications only to a lifecycleNotificationUrl given at creation.
      withoutLifecycleUrl: [...without].map((s) => s.id),
    });
  });
}
