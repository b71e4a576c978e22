// The mailing verbs behind the API, each scoped to the tenant that owns the mailing: read one or a page of
// them with their progress (counts, rate, ETA, recent failures), page through the recipients, steer the
// workflow (pause, resume, cancel), and take a recipient's verification token.
import type { Client } from '@temporalio/client';
import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailingCounts, mailingRecipients, mailings } from '../../db/schema/index.js';
import { cancelSignal, pauseSignal, resumeSignal } from '../../workflows/mailings.js';
import { recentSendsQuery, recipientCounts, type RecipientCounts } from './counts.js';
import { tokenHash } from './send-token.js';
import { mailingWorkflowId } from './start-workflow.js';
import { ownedRow } from '../tenants/owned.js';

export class MailingNotFoundError extends Error {
  constructor(readonly mailingId: string) {
    super(`no mailing ${mailingId}`);
    this.name = 'MailingNotFoundError';
  }
}

export class MailingFinishedError extends Error {
  constructor(
    readonly mailingId: string,
    readonly status: string,
  ) {
    super(`mailing ${mailingId} is ${status}`);
    this.name = 'MailingFinishedError';
  }
}

type MailingRow = typeof mailings.$inferSelect;
export type RecipientStatus = (typeof mailingRecipients.$inferSelect)['status'];

export interface MailingView {
  id: string;
  name: string | null;
  status: MailingRow['status'];
  workflowId: string;
  failureReason: string | null;
  counts: RecipientCounts;
  sendRatePerMinute: number;
  etaSeconds: number | null;
  recentFailures: { row: number; email: string; reason: string | null }[];
  createdAt: string;
  sendingStartedAt: string | null;
  finishedAt: string | null;
}

/** The window the send rate is measured over. */
const RATE_WINDOW_MINUTES = 5;
const RECENT_FAILURES = 5;

/**
 * Mailings with their progress in one statement: the counters row (kept by triggers), the sends of the
 * last minutes (the sent_at index) and the last failures (the status index), per mailing, so a page of
 * a hundred costs one round trip.
 */
function selectViews(db: Database) {
  const r = mailingRecipients;
  return db
    .select({
      mailing: mailings,
      counts: mailingCounts,
      recent: sql<number>`(${recentSendsQuery(db, mailings.id, RATE_WINDOW_MINUTES)})`.mapWith(Number),
      failures: sql<{ row: number; email: string; reason: string | null }[]>`coalesce((
      select json_agg(json_build_object('row', f.row_number, 'email', f.email, 'reason', f.last_error) order by f.row_number desc)
      from (select ${r.rowNumber} as row_number, ${r.email} as email, ${r.lastError} as last_error from ${r}
            where ${r.mailingId} = ${mailings.id} and ${r.status} = 'FAILED' order by ${r.rowNumber} desc limit ${RECENT_FAILURES}) f), '[]'::json)`,
    })
    .from(mailings)
    .leftJoin(mailingCounts, eq(mailingCounts.mailingId, mailings.id));
}

function toView(
  row: { mailing: MailingRow; counts: typeof mailingCounts.$inferSelect | null; recent: number; failures: MailingView['recentFailures'] },
  now = Date.now(),
): MailingView {
  const m = row.mailing;
  const counts = recipientCounts(
    row.counts ?? { countQueued: 0, countSending: 0, countSent: 0, countFailed: 0, countInvalid: 0, countDuplicate: 0, countCancelled: 0, countUnknown: 0 },
  );
  // Over the last minutes, or since sending started if that is more recent.
  const minutes = m.sendingStartedAt ? Math.min(RATE_WINDOW_MINUTES, Math.max(0.25, (now - m.sendingStartedAt.getTime()) / 60_000)) : RATE_WINDOW_MINUTES;
  const perMinute = Math.round((row.recent / minutes) * 10) / 10;
  const remaining = counts.queued + counts.sending;
  return {
    id: m.id,
    name: m.name,
    status: m.status,
    workflowId: m.workflowId,
    failureReason: m.failureReason,
    counts,
    sendRatePerMinute: perMinute,
    etaSeconds: remaining === 0 ? 0 : perMinute > 0 ? Math.round((remaining / perMinute) * 60) : null,
    recentFailures: row.failures,
    createdAt: m.createdAt.toISOString(),
    sendingStartedAt: m.sendingStartedAt?.toISOString() ?? null,
    finishedAt: m.finishedAt?.toISOString() ?? null,
  };
}

export async function getMailing(db: Database, tenant: string, id: string): Promise<MailingView> {
  const [row] = await selectViews(db).where(ownedRow(mailings, tenant, id));
  if (!row) throw new MailingNotFoundError(id);
  return toView(row);
}

/** The tenant's newest mailings with their progress. */
export async function listMailings(db: Database, tenant: string, limit: number): Promise<MailingView[]> {
  const rows = await selectViews(db).where(eq(mailings.owner, tenant)).orderBy(desc(mailings.createdAt)).limit(limit);
  return rows.map((row) => toView(row));
}

async function ownedStatus(db: Database, tenant: string, id: string): Promise<MailingRow['status']> {
  const [m] = await db
    .select({ status: mailings.status })
    .from(mailings)
    .where(ownedRow(mailings, tenant, id));
  if (!m) throw new MailingNotFoundError(id);
  return m.status;
}

export interface RecipientView {
  row: number;
  email: string;
  status: RecipientStatus;
  reason: string | null;
  attempts: number;
  providerMessageId: string | null;
  sentAt: string | null;
  verifiedAt: string | null;
}

/** A mailing's rows in row order, after `cursor` (a row number), optionally of one status. Tokens are never read. */
export async function listRecipients(
  db: Database,
  tenant: string,
  id: string,
  q: { status?: RecipientStatus | undefined; cursor?: number | undefined; limit: number },
): Promise<{ data: RecipientView[]; nextCursor: number | null }> {
  await ownedStatus(db, tenant, id);
  const r = mailingRecipients;
  const rows = await db
    .select({
      row: r.rowNumber,
      email: r.email,
      status: r.status,
      reason: r.reason,
      lastError: r.lastError,
      attempts: r.attempts,
      providerMessageId: r.providerMessageId,
      sentAt: r.sentAt,
      verifiedAt: r.verifiedAt,
    })
    .from(r)
    .where(and(eq(r.mailingId, id), gt(r.rowNumber, q.cursor ?? 0), q.status ? eq(r.status, q.status) : undefined))
    .orderBy(asc(r.rowNumber))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return {
    data: page.map((x) => ({
      row: x.row,
      email: x.email,
      status: x.status,
      reason: x.reason ?? x.lastError,
      attempts: x.attempts,
      providerMessageId: x.providerMessageId,
      sentAt: x.sentAt?.toISOString() ?? null,
      verifiedAt: x.verifiedAt?.toISOString() ?? null,
    })),
    nextCursor: rows.length > q.limit ? page[page.length - 1]!.row : null,
  };
}

export type MailingControl = 'pause' | 'resume' | 'cancel';
const controls = { pause: pauseSignal, resume: resumeSignal, cancel: cancelSignal } as const;

/** Signals the mailing's workflow (the same as `temporal workflow signal --name <control>`), while it has not finished. */
export async function controlMailing(db: Database, temporal: Client, tenant: string, id: string, control: MailingControl): Promise<void> {
  const status = await ownedStatus(db, tenant, id);
  if (status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED') throw new MailingFinishedError(id, status);
  await temporal.workflow.getHandle(mailingWorkflowId(id)).signal(controls[control]);
}

/** A recipient's token from their mail: the row it was sent to, verified once (the first time is kept). */
export async function verifyToken(db: Database, token: string): Promise<{ mailingId: string; email: string; verifiedAt: Date } | undefined> {
  const [r] = await db
    .update(mailingRecipients)
    .set({ verifiedAt: sql`coalesce(${mailingRecipients.verifiedAt}, now())` })
    .where(eq(mailingRecipients.tokenHash, tokenHash(token)))
    .returning({ mailingId: mailingRecipients.mailingId, email: mailingRecipients.email, verifiedAt: mailingRecipients.verifiedAt });
  return r ? { mailingId: r.mailingId, email: r.email, verifiedAt: r.verifiedAt! } : undefined;
}
