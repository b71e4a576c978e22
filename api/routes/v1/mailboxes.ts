// One linked mailbox: its sync status and folders, and the controls that signal its workflow (sync
// now, full resync, pause, resume, unlink). Scoped to the key that linked it.
import { z } from '@hono/zod-openapi';
import { findOwnedMailbox, mailboxDetail, markUnlinking } from '../../../lib/mailbox-sync/mailboxes.js';
import { queryMailboxSync, signalMailboxSync, type SyncSignal } from '../../../lib/mailbox-sync/start-workflow.js';
import type { MailboxRow } from '../../../lib/mailbox-sync/sync-state.js';
import { tenantOf } from '../../auth/tenant.js';
import type { AppDeps, Principal } from '../../context.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { mailboxDetailSchema, mailboxIdParam } from '../../mailboxes/schemas.js';
import { byId, createRouter, json, routesTagged } from '../../openapi.js';

const route = routesTagged('Mailboxes');

const accepted = json(z.object({ id: z.string(), signal: z.string() }));

async function ownedMailbox(deps: AppDeps, principal: Principal | undefined, id: string): Promise<MailboxRow> {
  const mailbox = await findOwnedMailbox(deps.db, tenantOf(principal), id);
  if (!mailbox) throw new AppError('not_found', `no mailbox ${id}`);
  return mailbox;
}

const control = (name: 'sync' | 'resync' | 'pause' | 'resume', signal: SyncSignal, summary: string) =>
  route.post(`/v1/mailboxes/{id}/${name}`, `${name}Mailbox`, 'send', {
    summary,
    description: `Signals the mailbox's workflow; the same as \`temporal workflow signal --workflow-id mailbox-sync-<id> --name ${signal}\`.`,
    request: { params: mailboxIdParam },
    responses: {
      202: { description: 'Signalled', content: accepted },
      404: errorResponses[404],
      409: errorResponse(409, 'The mailbox is being unlinked'),
    },
  });

async function signalOwned(deps: AppDeps, principal: Principal | undefined, id: string, signal: SyncSignal) {
  const mailbox = await ownedMailbox(deps, principal, id);
  if (mailbox.status === 'UNLINKING') throw new AppError('conflict', `mailbox ${id} is being unlinked`);
  await signalMailboxSync(deps.temporal, deps.config, { id: mailbox.id, accountId: mailbox.accountId }, signal);
  return { id: mailbox.id, signal };
}

export const mailboxRoutes = createRouter()
  .openapi(
    route.get('/v1/mailboxes/{id}', 'getMailbox', 'read', {
      summary: 'A linked mailbox: status, sync progress, folders with total and unread counts',
      ...byId(mailboxIdParam, 'The mailbox', mailboxDetailSchema),
    }),
    async (c) => {
      const { deps } = c.var;
      const mailbox = await ownedMailbox(deps, c.var.principal, c.req.valid('param').id);
      const [detail, progress] = await Promise.all([mailboxDetail(deps.db, deps.mailIndex, mailbox), queryMailboxSync(deps.temporal, mailbox.id)]);
      return c.json({ ...detail, sync: { ...detail.sync, progress: progress ?? null } }, 200);
    },
  )
  .openapi(control('sync', 'syncNow', 'Read every folder now instead of at the next poll'), async (c) =>
    c.json(await signalOwned(c.var.deps, c.var.principal, c.req.valid('param').id, 'syncNow'), 202),
  )
  .openapi(control('resync', 'resync', 'Full resync: every folder read afresh; leftovers removed as each folder finishes'), async (c) =>
    c.json(await signalOwned(c.var.deps, c.var.principal, c.req.valid('param').id, 'resync'), 202),
  )
  .openapi(control('pause', 'pause', 'Pause syncing (requests in flight finish)'), async (c) =>
    c.json(await signalOwned(c.var.deps, c.var.principal, c.req.valid('param').id, 'pause'), 202),
  )
  .openapi(control('resume', 'resume', 'Resume syncing; every folder is read at once'), async (c) =>
    c.json(await signalOwned(c.var.deps, c.var.principal, c.req.valid('param').id, 'resume'), 202),
  )
  .openapi(
    route.delete('/v1/mailboxes/{id}', 'unlinkMailbox', 'send', {
      summary: 'Unlink a mailbox: its sync stops, its documents and tokens are removed, then the mailbox itself',
      request: { params: mailboxIdParam },
      responses: { 202: { description: 'Unlinking', content: accepted }, 404: errorResponses[404] },
    }),
    async (c) => {
      const { deps } = c.var;
      const mailbox = await ownedMailbox(deps, c.var.principal, c.req.valid('param').id);
      await markUnlinking(deps.db, mailbox.id);
      await signalMailboxSync(deps.temporal, deps.config, { id: mailbox.id, accountId: mailbox.accountId }, 'unlink');
      c.var.logger.info({ mailboxId: mailbox.id }, 'mailbox unlink requested');
      return c.json({ id: mailbox.id, signal: 'unlink' }, 202);
    },
  );
