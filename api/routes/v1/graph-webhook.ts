// Microsoft Graph change notifications (public: each one is verified by its subscription's clientState).
// A subscription is validated by echoing `validationToken` as text/plain. A notification wakes the
// mailbox's workflow (syncNow): the delta rounds read what changed, so the notification's own content is
// never trusted. Lifecycle events (reauthorizationRequired, subscriptionRemoved, missed) go to the
// workflow, which renews or re-creates the subscription and reads every folder. Graph wants an answer
// within 3 s: the signals are sent with a deadline, and polling covers one that does not land.
import { z } from '@hono/zod-openapi';
import { mailboxSyncWorkflowId } from '../../../lib/mailbox-sync/start-workflow.js';
import { ForgedNotificationError, verifyNotifications, type VerifiedNotification } from '../../../lib/mailbox-sync/subscriptions.js';
import { subscriptionLifecycleSignal, syncNowSignal } from '../../../workflows/mailbox-sync.js';
import type { AppDeps } from '../../context.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter, json, routesTagged } from '../../openapi.js';

const route = routesTagged('Webhooks');

const SIGNAL_DEADLINE_MS = 2_000;
const lifecycleEvents = ['reauthorizationRequired', 'subscriptionRemoved', 'missed'] as const;

const notification = z
  .object({
    subscriptionId: z.string().min(1).max(200),
    clientState: z.string().max(256).optional(),
    changeType: z.string().max(64).optional(),
    lifecycleEvent: z.string().max(64).optional(),
    resource: z.string().max(2_000).optional(),
  })
  .passthrough();
const body = z.object({ value: z.array(notification).min(1).max(1_000) }).openapi('GraphNotifications');

async function wake(deps: AppDeps, verified: VerifiedNotification[]): Promise<void> {
  const signals: Promise<unknown>[] = [];
  const syncNow = new Set<string>();
  for (const n of verified) {
    const handle = deps.temporal.workflow.getHandle(mailboxSyncWorkflowId(n.mailboxId));
    const event = lifecycleEvents.find((e) => e === n.lifecycleEvent);
    if (event) signals.push(handle.signal(subscriptionLifecycleSignal, { event }));
    else if (!syncNow.has(n.mailboxId)) {
      syncNow.add(n.mailboxId);
      signals.push(handle.signal(syncNowSignal));
    }
  }
  const settled = Promise.allSettled(signals).then((results) => {
    for (const r of results) if (r.status === 'rejected') deps.logger.warn({ err: r.reason as Error }, 'could not signal a mailbox for a Graph notification');
  });
  await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, SIGNAL_DEADLINE_MS).unref())]);
}

export const graphWebhookRoutes = createRouter().openapi(
  route.post('/v1/webhooks/graph', 'graphWebhook', 'public', {
    summary: 'Microsoft Graph change and lifecycle notifications (public; verified by clientState), and the subscription validation handshake',
    request: {
      query: z.object({ validationToken: z.string().max(1_024).optional() }),
      // Notifications are JSON; the validation handshake is an empty text/plain POST.
      body: { required: false, content: { 'application/json': { schema: body }, 'text/plain': { schema: z.string().max(0) } } },
    },
    responses: {
      200: { description: 'The validation handshake: the token, as text/plain', content: { 'text/plain': { schema: z.string() } } },
      202: { description: 'Accepted: the mailboxes are syncing', content: json(z.object({ accepted: z.number().int() })) },
      403: errorResponses[403],
    },
  }),
  async (c) => {
    const { validationToken } = c.req.valid('query');
    if (validationToken !== undefined) return c.text(validationToken, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
    const raw: unknown = await c.req.json().catch(() => undefined);
    const parsed = body.safeParse(raw);
    if (!parsed.success)
      throw new AppError('validation', 'not a Graph notification batch', {
        errors: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
      });
    const { deps } = c.var;
    let verified: VerifiedNotification[];
    try {
      verified = await verifyNotifications(deps.db, parsed.data.value);
    } catch (error) {
      if (!(error instanceof ForgedNotificationError)) throw error;
      c.var.logger.warn({ count: parsed.data.value.length }, 'Graph notification refused: unknown subscription or wrong clientState');
      throw new AppError('forbidden', 'notification refused: unknown subscription or wrong clientState');
    }
    await wake(deps, verified);
    c.var.logger.info({ notifications: verified.length, mailboxes: [...new Set(verified.map((v) => v.mailboxId))] }, 'Graph notifications accepted');
    return c.json({ accepted: verified.length }, 202);
  },
);
