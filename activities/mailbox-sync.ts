// Mailbox-sync activities: every piece of I/O of the mailboxSync workflow, grouped in mailbox-sync/ by
// what they do (pages read from the provider, bookkeeping, push). Their names are in recorded histories:
// an activity keeps its name for good.
import type { ActivityDeps } from './deps.js';
import { createBookkeepingActivities } from './mailbox-sync/bookkeeping.js';
import { createPageActivities } from './mailbox-sync/pages.js';
import { providerAccess } from './mailbox-sync/provider-errors.js';
import { createPushActivities } from './mailbox-sync/push.js';
import type { MailboxSyncDeps } from './mailbox-sync/types.js';

export type * from './mailbox-sync/types.js';

export function createMailboxSyncActivities(deps: ActivityDeps, sync: MailboxSyncDeps) {
  const access = providerAccess(deps, sync.providers);
  return {
    ...createPageActivities(deps, sync, access),
    ...createBookkeepingActivities(deps, sync),
    ...createPushActivities(deps, access),
  };
}

export type MailboxSyncActivities = ReturnType<typeof createMailboxSyncActivities>;
