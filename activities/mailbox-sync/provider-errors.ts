// What a provider's errors become in an activity. An expired cursor, a vanished folder and a dead grant are
// answers the workflow acts on, not failures; throttling becomes the activity's next retry delay
// (Retry-After); a request the provider refuses, or a mailbox row gone, is a failure no retry can fix
// (the workflow names these types in its retry policies).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from '../deps.js';
import {
  CursorExpiredError,
  FolderGoneError,
  ProviderRequestError,
  ReauthRequiredError,
  ThrottledError,
  type MailProvider,
} from '../../lib/mailbox-sync/provider.js';
import type { MailProviders } from '../../lib/mailbox-sync/providers.js';
import { findMailbox, type MailboxRow } from '../../lib/mailbox-sync/sync-state.js';
import { syncMetrics } from '../../lib/mailbox-sync/metrics.js';
import type { ProviderAnswer } from './types.js';

export const mailboxNotFound = (mailboxId: string) => ApplicationFailure.nonRetryable(`mailbox ${mailboxId} no longer exists`, 'MailboxNotFound');

export type ProviderRequest<T> = (provider: MailProvider, signal: AbortSignal) => Promise<T>;

export interface ProviderAccess {
  /** The mailbox's row, or a MailboxNotFound failure (it was unlinked). */
  mailboxOrGone: (mailboxId: string) => Promise<MailboxRow>;
  /** Runs one request of the mailbox's provider; maps its errors to answers and retry decisions. */
  fromProvider: <T>(mailbox: MailboxRow, request: ProviderRequest<T>, signal?: AbortSignal) => Promise<T | ProviderAnswer>;
}

export function providerAccess({ db, logger }: Pick<ActivityDeps, 'db' | 'logger'>, providers: MailProviders): ProviderAccess {
  return {
    async mailboxOrGone(mailboxId) {
      const mailbox = await findMailbox(db, mailboxId);
      if (!mailbox) throw mailboxNotFound(mailboxId);
      return mailbox;
    },

    async fromProvider(mailbox, request, signal = Context.current().cancellationSignal) {
      try {
        const provider = providers.forMailbox({
          id: mailbox.id,
          provider: mailbox.provider,
          homeAccountId: mailbox.homeAccountId,
          connection: mailbox.connection,
        });
        return await request(provider, signal);
      } catch (error) {
        if (error instanceof CursorExpiredError) return { outcome: 'expired' };
        if (error instanceof FolderGoneError) return { outcome: 'gone' };
        if (error instanceof ReauthRequiredError) {
          providers.forget(mailbox.id);
          return { outcome: 'reauth', reason: error.message };
        }
        if (error instanceof ThrottledError) {
          syncMetrics.throttled.inc({ provider: mailbox.provider });
          logger.info({ mailboxId: mailbox.id, retryAfterMs: error.retryAfterMs }, 'provider throttled; waiting for Retry-After');
          throw ApplicationFailure.create({ type: 'ProviderThrottled', message: error.message, nextRetryDelay: error.retryAfterMs });
        }
        if (error instanceof ProviderRequestError) throw ApplicationFailure.nonRetryable(error.message, 'ProviderRequestRefused');
        throw error;
      }
    },
  };
}
