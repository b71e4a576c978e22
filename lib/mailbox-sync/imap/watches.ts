// IDLE watches in PostgreSQL. A mailbox's sync workflow keeps its row alive (the push "subscription");
// sync workers lease rows (`holder`, `held_until`), hold one IDLE connection per leased mailbox, and
// renew their leases as they go; a lease that runs out (a dead worker) is taken by another.
import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { imapWatches, mailboxes } from '../../../db/schema/index.js';

export const watchIdOf = (mailboxId: string) => `imap-idle:${mailboxId}`;

export async function saveWatch(db: Database, mailboxId: string, workflowId: string, expiresAt: Date): Promise<void> {
  await db
    .insert(imapWatches)
    .values({ mailboxId, workflowId, expiresAt })
    .onConflictDoUpdate({ target: imapWatches.mailboxId, set: { workflowId, expiresAt } });
}

/** Extends a watch; false when it is gone. */
export async function extendWatch(db: Database, mailboxId: string, expiresAt: Date): Promise<boolean> {
  const rows = await db.update(imapWatches).set({ expiresAt }).where(eq(imapWatches.mailboxId, mailboxId)).returning({ mailboxId: imapWatches.mailboxId });
  return rows.length > 0;
}

export async function dropWatch(db: Database, mailboxId: string): Promise<void> {
  await db.delete(imapWatches).where(eq(imapWatches.mailboxId, mailboxId));
}

export interface LeasedWatch {
  mailboxId: string;
  workflowId: string;
}

/**
 * Takes up to `limit` live watches nobody holds (or whose holder's lease ran out) for `holder`, skipping rows
 * another worker is taking at this moment, and mailboxes that are not syncing (paused, waiting for sign-in).
 */
export async function leaseWatches(db: Database, holder: string, limit: number, leaseMs: number): Promise<LeasedWatch[]> {
  if (limit <= 0) return [];
  return db.transaction(async (tx) => {
    const free = await tx
      .select({ mailboxId: imapWatches.mailboxId })
      .from(imapWatches)
      .innerJoin(mailboxes, eq(mailboxes.id, imapWatches.mailboxId))
      .where(
        and(
          sql`${imapWatches.expiresAt} > now()`,
          or(isNull(imapWatches.heldUntil), lt(imapWatches.heldUntil, sql`now()`)),
          inArray(mailboxes.status, ['LINKED', 'SYNCING', 'LIVE']),
        ),
      )
      .limit(limit)
      .for('update', { of: imapWatches, skipLocked: true });
    if (free.length === 0) return [];
    return tx
      .update(imapWatches)
      .set({ holder, heldUntil: sql`now() + ${`${leaseMs} milliseconds`}::interval`, watchingSince: null })
      .where(
        inArray(
          imapWatches.mailboxId,
          free.map((f) => f.mailboxId),
        ),
      )
      .returning({ mailboxId: imapWatches.mailboxId, workflowId: imapWatches.workflowId });
  });
}

/**
 * Renews `holder`'s leases on the watches it still wants; answers the ones it may keep (still its own, not
 * expired, the mailbox still syncing). The rest it lets go.
 */
export async function renewLeases(db: Database, holder: string, mailboxIds: string[], leaseMs: number): Promise<Set<string>> {
  if (mailboxIds.length === 0) return new Set();
  const kept = await db
    .update(imapWatches)
    .set({ heldUntil: sql`now() + ${`${leaseMs} milliseconds`}::interval` })
    .where(
      and(
        eq(imapWatches.holder, holder),
        inArray(imapWatches.mailboxId, mailboxIds),
        sql`${imapWatches.expiresAt} > now()`,
        sql`exists (select 1 from ${mailboxes} where ${mailboxes.id} = ${imapWatches.mailboxId} and ${mailboxes.status} in ('LINKED', 'SYNCING', 'LIVE'))`,
      ),
    )
    .returning({ mailboxId: imapWatches.mailboxId });
  return new Set(kept.map((k) => k.mailboxId));
}

/** Gives leases back (a worker shutting down), so another worker takes them at once. */
export async function releaseLeases(db: Database, holder: string, mailboxIds: string[]): Promise<void> {
  if (mailboxIds.length === 0) return;
  await db
    .update(imapWatches)
    .set({ holder: null, heldUntil: null, watchingSince: null })
    .where(and(eq(imapWatches.holder, holder), inArray(imapWatches.mailboxId, mailboxIds)));
}

/** Records whether the holder's connection is up (operators and tests see which watches are live). */
export async function markWatching(db: Database, holder: string, mailboxId: string, watching: boolean): Promise<void> {
  await db
    .update(imapWatches)
    .set({ watchingSince: watching ? sql`now()` : null })
    .where(and(eq(imapWatches.mailboxId, mailboxId), eq(imapWatches.holder, holder)));
}
