// Cancelling a notification that has not been sent: the row says CANCELLED first (so a send that starts
// afterwards refuses it), then the run is cancelled, which aborts a provider request in flight. A cancel
// that loses the race to a provider's acceptance leaves the row SENT: it says what happened.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Database } from '../../db/client.js';
import type { Logger } from '../logger.js';
import { notifications } from '../../db/schema/index.js';
import { findOwned } from '../tenants/owned.js';
import { NotificationNotFoundError, NotificationStatusError } from './admission.js';
import type { NotificationRow } from './list.js';
import { transitionStatus } from './status.js';

export async function cancelNotification(deps: { db: Database; temporal: Client; logger: Logger }, tenant: string, id: string): Promise<NotificationRow> {
  const found = await findOwned(deps.db, notifications, tenant, id);
  if (!found) throw new NotificationNotFoundError(id);
  const change = await transitionStatus(deps.db, id, 'CANCELLED', { reason: 'cancelled by the owner' });
  if (!change.applied) throw new NotificationStatusError(id, change.status ?? found.status, 'cancelled');
  // Best effort: the row already decides. A run not started yet (the start outbox starts it later) or one
  // Temporal could not be told about refuses the CANCELLED row at its next attempt; only an attempt already
  // talking to the provider can still send, and then the row says SENT.
  await deps.temporal.workflow
    .getHandle(found.workflowId)
    .cancel()
    .catch((error: unknown) => {
      if (!(error instanceof WorkflowNotFoundError))
        deps.logger.warn({ err: error, notificationId: id }, 'could not cancel the run; its next attempt refuses it');
    });
  return (await findOwned(deps.db, notifications, tenant, id)) ?? found;
}
