// Mailing activities. Parsing heartbeats its byte offset and row so a retry resumes; inserts are
// idempotent on (mailing, row). A token is made at a recipient's first send and stored before its request
// leaves, so every retry sends the same one. Sending records SENDING before the request and SENT with the
// provider's message id after it, so a retry of a recipient already sent returns without sending.
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { and, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import { mailingRecipients, mailings } from '../db/schema/index.js';
import { MailingFileError } from '../lib/mailings/csv.js';
import { ingestMailingCsv, type IngestCheckpoint } from '../lib/mailings/ingest.js';
import { recipientToken } from '../lib/mailings/send-token.js';
import { ProviderRateLimitedError, ProviderUnavailableError, RecipientRefusedError, type MailingProvider } from '../lib/mailings/provider.js';
import { recipientCounts } from '../lib/mailings/counts.js';
import type { ActivityDeps } from './deps.js';

export const MAILING_SUBJECT = 'Complete your registration';
export const mailingBody = (token: string) => `Thank you for signing up. Please verify your token ${token} to continue.`;

export type MailingState = 'PARSING' | 'SENDING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export { tokenHash } from '../lib/mailings/send-token.js';

/**
 * What ends a send attempt's requests: its own deadline, a little inside its start-to-close (so an attempt
 * is over before Temporal starts the next one), or Temporal giving the attempt up (timed out, gone, worker
 * shutting down). A pause or cancel from the workflow does not: a request already sent is let finish, so its
 * outcome is known. It heartbeats meanwhile, so an attempt whose worker died is retried within the
 * heartbeat timeout, not after the whole start-to-close.
 */
function attemptSignal(): { signal: AbortSignal; stop: () => void } {
  const ctx = Context.current();
  const controller = new AbortController();
  const budgetMs = Math.max(1_000, ctx.info.startToCloseTimeoutMs - 2_000);
  const deadline = setTimeout(() => controller.abort(new Error(`attempt deadline of ${budgetMs} ms`)), budgetMs);
  ctx.heartbeat();
  const beat = setInterval(() => ctx.heartbeat(), 1_000);
  const onCancel = () => {
    const why = ctx.cancellationDetails;
    if (why && (why.timedOut || why.notFound || why.workerShutdown || why.reset)) controller.abort(ctx.cancellationSignal.reason);
  };
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  return {
    signal: controller.signal,
    stop: () => {
      clearTimeout(deadline);
      clearInterval(beat);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    },
  };
}

export function createMailingActivities(deps: ActivityDeps, provider: () => MailingProvider) {
  const { db, logger } = deps;

  return {
    async parseMailing(input: { mailingId: string }): Promise<{ totalRows: number; validRows: number; invalidRows: number; duplicateRows: number }> {
      const [mailing] = await db.select().from(mailings).where(eq(mailings.id, input.mailingId));
      if (!mailing) {
        // The upload starts the workflow inside its transaction: the row may not be committed yet. Past a few
        // tries it never will be (the upload was rolled back).
        if (Context.current().info.attempt < 5) throw ApplicationFailure.retryable(`mailing ${input.mailingId} not visible yet`, 'MailingNotVisibleYet');
        throw ApplicationFailure.nonRetryable(`no mailing ${input.mailingId}`, 'MailingNotFound');
      }
      const resume = Context.current().info.heartbeatDetails as IngestCheckpoint | undefined;
      const log = logger.child({ mailingId: mailing.id, workflowId: mailing.workflowId });
      log.info({ resumeFromRow: resume?.lastRow ?? 0 }, 'parsing mailing list');
      try {
        await ingestMailingCsv(db, {
          mailingId: mailing.id, open: (start) => deps.blobs.read(mailing.blobId, start), parse: mailing.options,
          ...(resume ? { resume } : {}), onCheckpoint: (checkpoint) => heartbeat(checkpoint),
        });
      } catch (error) {
        if (error instanceof MailingFileError) {
          await db.update(mailings).set({ status: 'FAILED', failureReason: error.message, finishedAt: new Date() }).where(eq(mailings.id, mailing.id));
          log.warn({ reason: error.message }, 'mailing list refused');
          throw ApplicationFailure.nonRetryable(error.message, 'MailingFileError');
        }
        throw error;
      }
      // The counters the triggers keep (no recount of a million rows).
      const [counted] = await db.select().from(mailings).where(eq(mailings.id, mailing.id));
      const counts = recipientCounts(counted!);
      const result = { totalRows: counts.total, validRows: counts.valid, invalidRows: counts.invalid, duplicateRows: counts.duplicate };
      if (result.totalRows === 0) {
        await db.update(mailings).set({ status: 'FAILED', failureReason: 'the file has no rows', finishedAt: new Date() }).where(eq(mailings.id, mailing.id));
        throw ApplicationFailure.nonRetryable('the file has no rows', 'MailingFileError');
      }
      await db.update(mailings).set({ ...result, status: 'SENDING', sendingStartedAt: sql`coalesce(${mailings.sendingStartedAt}, now())` }).where(eq(mailings.id, mailing.id));
      log.info(result, 'mailing list parsed');
      return result;
    },

    /** The rows of one slice that still need a send (QUEUED, or SENDING from an interrupted attempt). */
    async sliceRecipients(input: { mailingId: string; fromRow: number; toRow: number }): Promise<number[]> {
      const rows = await db.select({ row: mailingRecipients.rowNumber }).from(mailingRecipients).where(and(
        eq(mailingRecipients.mailingId, input.mailingId), gte(mailingRecipients.rowNumber, input.fromRow), lte(mailingRecipients.rowNumber, input.toRow),
        inArray(mailingRecipients.status, ['QUEUED', 'SENDING']),
      )).orderBy(mailingRecipients.rowNumber);
      return rows.map((r) => r.row);
    },

    async sendToRecipient(input: { mailingId: string; row: number }): Promise<{ status: 'SENT' | 'FAILED' | 'SKIPPED'; messageId?: string }> {
      const { info } = Context.current();
      const [r] = await db.select().from(mailingRecipients).where(and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row)));
      if (!r) throw ApplicationFailure.nonRetryable(`no row ${input.row} in mailing ${input.mailingId}`, 'RecipientNotFound');
      if (r.status === 'SENT') return { status: 'SENT', messageId: r.providerMessageId ?? '' };
      if (r.status !== 'QUEUED' && r.status !== 'SENDING') return { status: 'SKIPPED' };
      const log = logger.child({ mailingId: input.mailingId, row: input.row, workflowId: info.workflowExecution?.workflowId, attempt: info.attempt });
      if (r.status === 'SENDING') {
        // A previous attempt sent the request and never recorded the answer (a crash or a timeout).
        // The seed API has no idempotency key or lookup: resend, so that nobody is left without a mail;
        // the window is one request long and the choice is logged.
        log.warn('previous attempt ended with an unknown outcome; sending again');
      }
      await db.update(mailingRecipients).set({ status: 'SENDING', sendingAt: new Date(), attempts: sql`${mailingRecipients.attempts} + 1` })
        .where(and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row)));
      const token = await recipientToken(db, deps.encryptor, { mailingId: input.mailingId, row: input.row, sealed: r.tokenSealed });
      const attempt = attemptSignal();
      try {
        const { messageId } = await provider().send({ to: r.email, subject: MAILING_SUBJECT, body: mailingBody(token) }, attempt.signal);
        await db.update(mailingRecipients).set({ status: 'SENT', providerMessageId: messageId, sentAt: new Date(), lastError: null })
          .where(and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row)));
        log.info({ messageId }, 'recipient sent');
        return { status: 'SENT', messageId };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const where = and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row));
        if (error instanceof RecipientRefusedError) {
          await db.update(mailingRecipients).set({ status: 'FAILED', lastError: message, reason: message }).where(where);
          log.warn({ error: message }, 'recipient refused by the provider');
          return { status: 'FAILED' };
        }
        // Not sent this time for sure: back to QUEUED so the next attempt is a plain send, unless an earlier
        // attempt's outcome is still unknown (the row was SENDING before this one): that stays true.
        const notSent = error instanceof ProviderRateLimitedError || (error instanceof ProviderUnavailableError && error.outcome === 'not-sent');
        await db.update(mailingRecipients).set({ lastError: message, ...(notSent && r.status !== 'SENDING' ? { status: 'QUEUED' as const } : {}) }).where(where);
        if (error instanceof ProviderRateLimitedError) {
          log.info({ retryAfterMs: error.retryAfterMs }, 'provider rate limit; waiting for Retry-After');
          throw ApplicationFailure.create({ type: 'ProviderRateLimited', message, nextRetryDelay: error.retryAfterMs });
        }
        log.warn({ error: message }, 'send failed; will retry');
        throw error;
      } finally {
        attempt.stop();
      }
    },

    async setMailingStatus(input: { mailingId: string; status: MailingState; reason?: string }): Promise<void> {
      const done = ['COMPLETED', 'FAILED', 'CANCELLED'].includes(input.status);
      await db.update(mailings).set({ status: input.status, ...(input.reason ? { failureReason: input.reason } : {}), ...(done ? { finishedAt: new Date() } : {}) })
        .where(eq(mailings.id, input.mailingId));
      logger.info({ mailingId: input.mailingId, status: input.status }, 'mailing status');
    },

    /**
     * On cancel, once every slice has stopped: a recipient never sent becomes CANCELLED; one whose last
     * request left and was never answered (still SENDING) becomes UNKNOWN, since it may have been delivered.
     */
    async cancelUnsent(input: { mailingId: string }): Promise<{ cancelled: number; unknown: number }> {
      const of = (status: 'QUEUED' | 'SENDING') => and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.status, status));
      const cancelled = await db.update(mailingRecipients).set({ status: 'CANCELLED', reason: 'mailing cancelled' })
        .where(of('QUEUED')).returning({ row: mailingRecipients.rowNumber });
      const unknown = await db.update(mailingRecipients).set({ status: 'UNKNOWN', reason: 'mailing cancelled after a request whose answer never came: it may or may not have been delivered' })
        .where(of('SENDING')).returning({ row: mailingRecipients.rowNumber });
      if (unknown.length) logger.warn({ mailingId: input.mailingId, rows: unknown.map((r) => r.row) }, 'mailing cancelled with recipients whose outcome is unknown');
      return { cancelled: cancelled.length, unknown: unknown.length };
    },
  };
}

export type MailingActivities = ReturnType<typeof createMailingActivities>;
