// A mailing's recipients by status, read from its counters row (mailing_counts). Triggers on
// mailing_recipients (migration 0016) change it in the same statement as every status change, whoever writes
// it (ingest, sends, cancel), so a listing or a progress poll costs the same for ten rows as for a million.
import { and, count, eq, gt, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client.js';
import { mailingCounts, mailingRecipients } from '../../db/schema/index.js';

type CountedMailing = Omit<typeof mailingCounts.$inferSelect, 'mailingId'>;

const NONE: CountedMailing = {
  countQueued: 0,
  countSending: 0,
  countSent: 0,
  countFailed: 0,
  countInvalid: 0,
  countDuplicate: 0,
  countCancelled: 0,
  countUnknown: 0,
};

/** The mailing's counts; a mailing with no rows yet has no counters row: all zero. */
export async function countsOf(db: Database, mailingId: string): Promise<RecipientCounts> {
  const [row] = await db.select().from(mailingCounts).where(eq(mailingCounts.mailingId, mailingId));
  return recipientCounts(row ?? NONE);
}

export interface RecipientCounts {
  total: number;
  valid: number;
  invalid: number;
  duplicate: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  cancelled: number;
  unknown: number;
}

export function recipientCounts(m: CountedMailing): RecipientCounts {
  const sendable = m.countQueued + m.countSending + m.countSent + m.countFailed + m.countCancelled + m.countUnknown;
  return {
    total: sendable + m.countInvalid + m.countDuplicate,
    valid: sendable,
    invalid: m.countInvalid,
    duplicate: m.countDuplicate,
    queued: m.countQueued,
    sending: m.countSending,
    sent: m.countSent,
    failed: m.countFailed,
    cancelled: m.countCancelled,
    unknown: m.countUnknown,
  };
}

/**
 * Sends in the last `minutes`: read from the sent_at index, so it costs the window's sends, not the list's
 * rows. `mailingId` may be a column, to use it as a subquery per mailing of a list.
 */
export const recentSendsQuery = (db: Database, mailingId: string | AnyPgColumn, minutes = 5) =>
  db
    .select({ n: count() })
    .from(mailingRecipients)
    .where(and(eq(mailingRecipients.mailingId, mailingId), gt(mailingRecipients.sentAt, sql`now() - make_interval(mins => ${minutes})`)));

export async function recentSends(db: Database, mailingId: string, minutes = 5): Promise<number> {
  const [row] = await recentSendsQuery(db, mailingId, minutes);
  return row?.n ?? 0;
}
