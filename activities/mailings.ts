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
import { mailingMetrics } from '../lib/mailings/metrics.js';
import { ProviderRateLimitedError, ProviderUnavailableError, RecipientRefusedError, type MailingProvider, type Pace } from '../lib/mailings/provider.js';
import { sleepUntil, type Departure, type GcraPacer, type Slot } from '../lib/pacing/gcra.js';
import { countsOf } from '../lib/mailings/counts.js';
import type { ActivityDeps } from './deps.js';

/** How long before its slot a send marks its row SENDING and reads the token, so the request leaves on time. */
const PREPARE_MS = 250;
/** How often a send held by a paused mailing looks whether it was resumed (the workflow withdraws it meanwhile). */
const HOLD_POLL_MS = 500;

/** A send withdrawn (a pause, a cancel, the attempt's end) while it waited for its slot: nothing was sent. */
class SendWithdrawnError extends Error {
  constructor(readonly why: unknown) {
    super(`withdrawn before its request left: ${why instanceof Error ? why.message : String(why)}`);
    this.name = 'SendWithdrawnError';
  }
}

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

/**
 * `pacer`: the fleet-wide pacer of the provider's limit; every request the provider counts waits for a slot
 * from it (without one, sends go out as fast as they come).
 */
export function createMailingActivities(deps: ActivityDeps, provider: () => MailingProvider, pacer?: GcraPacer) {
  const { db, logger } = deps;

  /** A slot from the pacer; the wait it imposes is recorded. */
  const acquireSlot = async (signal: AbortSignal): Promise<Slot> => {
    const asked = Date.now();
    const slot = await pacer!.acquire(signal);
    mailingMetrics.pacingWait.observe({ provider: provider().name }, Math.max(0, slot.at - asked) / 1000);
    return slot;
  };

  /**
   * Reserves the send's slot, then, just before it, marks the row SENDING, but only while its mailing is
   * sending: a send of a paused mailing gives its slot back and holds (the workflow withdraws it, or a
   * resume lets it go on with a new slot). The wait for a slot leaves the attempt time for its requests.
   */
  const reserveAndMarkSending = async (
    input: { mailingId: string; row: number },
    waiting: AbortSignal,
    startToCloseMs: number,
  ): Promise<{ status: 'READY'; slot?: Slot } | { status: 'SKIPPED' }> => {
    const acquiring = AbortSignal.any([waiting, AbortSignal.timeout(Math.max(1_000, startToCloseMs - 2_000 - 4 * deps.config.SEED004_TIMEOUT_MS))]);
    const row = and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row));
    for (;;) {
      const slot = pacer ? await acquireSlot(acquiring) : undefined;
      let marked = false;
      try {
        if (slot) await sleepUntil(slot.at - PREPARE_MS, waiting);
        marked =
          (
            await db
              .update(mailingRecipients)
              .set({ status: 'SENDING', sendingAt: new Date(), attempts: sql`${mailingRecipients.attempts} + 1` })
              .where(and(row, sql`exists (select 1 from ${mailings} where ${mailings.id} = ${input.mailingId} and ${mailings.status} = 'SENDING')`))
              .returning({ row: mailingRecipients.rowNumber })
          ).length > 0;
      } finally {
        if (slot && !marked) await pacer!.release(slot).catch(() => false);
      }
      if (marked) return { status: 'READY', ...(slot ? { slot } : {}) };
      for (;;) {
        await sleepUntil(Date.now() + HOLD_POLL_MS, waiting);
        const [m] = await db.select({ status: mailings.status }).from(mailings).where(eq(mailings.id, input.mailingId));
        if (!m || m.status === 'COMPLETED' || m.status === 'FAILED' || m.status === 'CANCELLED') return { status: 'SKIPPED' };
        if (m.status === 'SENDING') break;
      }
    }
  };

  /** What an attempt that stopped before its request left ends with: cancelled when the workflow withdrew it. */
  const withdrawal = (error: unknown): unknown => {
    const { cancellationSignal } = Context.current();
    if (cancellationSignal.aborted) return cancellationSignal.reason;
    if (error instanceof DOMException && error.name === 'TimeoutError') {
      return ApplicationFailure.create({ type: 'PacingWait', message: 'no slot within this attempt; trying again', nextRetryDelay: '1 second' });
    }
    return error;
  };

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
          mailingId: mailing.id,
          open: (start) => deps.blobs.read(mailing.blobId, start),
          parse: mailing.options,
          ...(resume ? { resume } : {}),
          onCheckpoint: (checkpoint) => heartbeat(checkpoint),
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
      const counts = await countsOf(db, mailing.id);
      const result = { totalRows: counts.total, validRows: counts.valid, invalidRows: counts.invalid, duplicateRows: counts.duplicate };
      if (result.totalRows === 0) {
        await db.update(mailings).set({ status: 'FAILED', failureReason: 'the file has no rows', finishedAt: new Date() }).where(eq(mailings.id, mailing.id));
        throw ApplicationFailure.nonRetryable('the file has no rows', 'MailingFileError');
      }
      await db
        .update(mailings)
        .set({ ...result, status: 'SENDING', sendingStartedAt: sql`coalesce(${mailings.sendingStartedAt}, now())` })
        .where(eq(mailings.id, mailing.id));
      log.info(result, 'mailing list parsed');
      return result;
    },

    /** The rows of one slice that still need a send (QUEUED, or SENDING from an interrupted attempt). */
    async sliceRecipients(input: { mailingId: string; fromRow: number; toRow: number }): Promise<number[]> {
      const rows = await db
        .select({ row: mailingRecipients.rowNumber })
        .from(mailingRecipients)
        .where(
          and(
            eq(mailingRecipients.mailingId, input.mailingId),
            gte(mailingRecipients.rowNumber, input.fromRow),
            lte(mailingRecipients.rowNumber, input.toRow),
            inArray(mailingRecipients.status, ['QUEUED', 'SENDING']),
          ),
        )
        .orderBy(mailingRecipients.rowNumber);
      return rows.map((r) => r.row);
    },

    async sendToRecipient(input: { mailingId: string; row: number }): Promise<{ status: 'SENT' | 'FAILED' | 'SKIPPED'; messageId?: string }> {
      const { info } = Context.current();
      const [r] = await db
        .select()
        .from(mailingRecipients)
        .where(and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row)));
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
      const attempt = attemptSignal();
      // Waiting for a slot ends at any cancellation too: a pause or cancel withdraws a send that has not left.
      const waiting = AbortSignal.any([attempt.signal, Context.current().cancellationSignal]);
      const held = await reserveAndMarkSending(input, waiting, info.startToCloseTimeoutMs).catch((error: unknown) => {
        attempt.stop();
        throw withdrawal(error);
      });
      if (held.status === 'SKIPPED') {
        attempt.stop();
        return { status: 'SKIPPED' };
      }
      let slot = held.slot;
      // Each request the provider counts takes a slot: the first was reserved above, any further one (a token
      // renewal, a resend after a 401) is reserved when it is needed. At its slot it passes the pacer's gate,
      // which holds it while no lane has cleared (a request a window before it not answered yet); the provider
      // tells the gate when its answer came. When the last request left against its slot (logged with the
      // outcome: how the pacer did).
      let leftAt: { slotAt: string; lateMs: number; heldMs: number } | undefined;
      const pace: Pace | undefined =
        pacer &&
        (async () => {
          const mine =
            slot ??
            (await acquireSlot(waiting).catch((error: unknown) => {
              throw new SendWithdrawnError(error);
            }));
          slot = undefined;
          let departure: Departure;
          try {
            departure = await pacer.depart(mine, waiting);
          } catch (error) {
            await pacer.release(mine).catch(() => false);
            throw new SendWithdrawnError(error);
          }
          if (departure.heldMs > 0) mailingMetrics.pacingHeld.inc({ provider: provider().name });
          leftAt = { slotAt: new Date(mine.at).toISOString(), lateMs: Math.round(Date.now() - mine.at), heldMs: Math.round(departure.heldMs) };
          return departure;
        });
      const token = await recipientToken(db, deps.encryptor, { mailingId: input.mailingId, row: input.row, sealed: r.tokenSealed });
      try {
        const { messageId } = await provider().send({ to: r.email, subject: MAILING_SUBJECT, body: mailingBody(token) }, attempt.signal, pace);
        await db
          .update(mailingRecipients)
          .set({ status: 'SENT', providerMessageId: messageId, sentAt: new Date(), lastError: null })
          .where(and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.rowNumber, input.row)));
        log.info({ messageId, ...leftAt }, 'recipient sent');
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
        if (error instanceof SendWithdrawnError) {
          if (r.status !== 'SENDING') await db.update(mailingRecipients).set({ status: 'QUEUED' }).where(where);
          throw withdrawal(error.why);
        }
        const notSent = error instanceof ProviderRateLimitedError || (error instanceof ProviderUnavailableError && error.outcome === 'not-sent');
        await db
          .update(mailingRecipients)
          .set({ lastError: message, ...(notSent && r.status !== 'SENDING' ? { status: 'QUEUED' as const } : {}) })
          .where(where);
        if (error instanceof ProviderRateLimitedError) {
          // The pacer let this one through, so the provider counts differently: the whole fleet waits it out.
          mailingMetrics.providerThrottled.inc({ provider: provider().name });
          await pacer?.backOff(error.retryAfterMs);
          log.info({ retryAfterMs: error.retryAfterMs, ...leftAt }, 'provider rate limit; waiting for Retry-After');
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
      await db
        .update(mailings)
        .set({ status: input.status, ...(input.reason ? { failureReason: input.reason } : {}), ...(done ? { finishedAt: new Date() } : {}) })
        .where(eq(mailings.id, input.mailingId));
      logger.info({ mailingId: input.mailingId, status: input.status }, 'mailing status');
    },

    /**
     * On cancel, once every slice has stopped: a recipient never sent becomes CANCELLED; one whose last
     * request left and was never answered (still SENDING) becomes UNKNOWN, since it may have been delivered.
     */
    async cancelUnsent(input: { mailingId: string }): Promise<{ cancelled: number; unknown: number }> {
      const of = (status: 'QUEUED' | 'SENDING') => and(eq(mailingRecipients.mailingId, input.mailingId), eq(mailingRecipients.status, status));
      // Counted, not returned: a million rows cancelled are not a million objects in this process.
      const { count: cancelled } = await db.update(mailingRecipients).set({ status: 'CANCELLED', reason: 'mailing cancelled' }).where(of('QUEUED'));
      const unknown = await db
        .update(mailingRecipients)
        .set({ status: 'UNKNOWN', reason: 'mailing cancelled after a request whose answer never came: it may or may not have been delivered' })
        .where(of('SENDING'))
        .returning({ row: mailingRecipients.rowNumber });
      if (unknown.length)
        logger.warn({ mailingId: input.mailingId, rows: unknown.map((r) => r.row) }, 'mailing cancelled with recipients whose outcome is unknown');
      if (cancelled) mailingMetrics.recipients.inc({ outcome: 'cancelled' }, cancelled);
      if (unknown.length) mailingMetrics.recipients.inc({ outcome: 'unknown' }, unknown.length);
      return { cancelled, unknown: unknown.length };
    },
  };
}

export type MailingActivities = ReturnType<typeof createMailingActivities>;
