// The email suppression list: an address that complained, or bounced permanently, is not mailed again by
// the same tenant until the entry is removed. Webhooks add entries; the send activity checks them before
// any provider is called.
import { and, desc, eq, getTableColumns, inArray, like, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { emailSuppressions } from '../../db/schema/index.js';
import { exactTime } from './list.js';

export type SuppressionRow = typeof emailSuppressions.$inferSelect;
export type SuppressionReason = SuppressionRow['reason'];

/** Addresses compare case-insensitively (the local part is case-sensitive in theory, never in practice). */
export const normaliseAddress = (address: string) => address.trim().toLowerCase();

export async function suppressAddress(
  db: Database,
  entry: { owner: string; address: string; reason: SuppressionReason; detail: string | null; notificationId: string | null },
): Promise<void> {
  await db
    .insert(emailSuppressions)
    .values({ ...entry, address: normaliseAddress(entry.address) })
    // The latest report wins: a complaint after a bounce says more about why.
    .onConflictDoUpdate({
      target: [emailSuppressions.owner, emailSuppressions.address],
      set: { reason: entry.reason, detail: entry.detail, notificationId: entry.notificationId, createdAt: sql`now()` },
    });
}

export async function findSuppression(db: Database, owner: string, addresses: string[]): Promise<SuppressionRow | undefined> {
  if (addresses.length === 0) return undefined;
  const [row] = await db
    .select()
    .from(emailSuppressions)
    .where(and(eq(emailSuppressions.owner, owner), inArray(emailSuppressions.address, addresses.map(normaliseAddress))))
    .limit(1);
  return row;
}

/** `createdAt` exactly, microseconds included (exactTime): a Date's milliseconds would skip rows. */
export interface SuppressionCursor {
  createdAt: string;
  address: string;
}
export interface SuppressionPage {
  rows: SuppressionRow[];
  next: SuppressionCursor | null;
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

/**
 * A page of the owner's entries, newest first. `search` keeps only addresses containing it (any case: addresses
 * are stored lower-cased); the cursor is the same keyset with or without it, so paging a search works as listing.
 */
export async function listSuppressions(db: Database, owner: string, limit: number, after?: SuppressionCursor, search?: string): Promise<SuppressionPage> {
  const needle = search === undefined ? '' : normaliseAddress(search);
  const found = await db
    .select({ row: getTableColumns(emailSuppressions), at: exactTime(emailSuppressions.createdAt) })
    .from(emailSuppressions)
    .where(
      and(
        eq(emailSuppressions.owner, owner),
        needle ? like(emailSuppressions.address, containing(needle)) : undefined,
        // A row comparison, so the (owner, created_at, address) index starts the scan at the cursor.
        after ? sql`(${emailSuppressions.createdAt}, ${emailSuppressions.address}) < (${after.createdAt}::timestamptz, ${after.address})` : undefined,
      ),
    )
    .orderBy(desc(emailSuppressions.createdAt), desc(emailSuppressions.address))
    .limit(limit + 1);
  const page = found.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page.map((r) => r.row), next: found.length > limit && last ? { createdAt: last.at, address: last.row.address } : null };
}

/** True when there was an entry to remove. */
export async function removeSuppression(db: Database, owner: string, address: string): Promise<boolean> {
  const removed = await db
    .delete(emailSuppressions)
    .where(and(eq(emailSuppressions.owner, owner), eq(emailSuppressions.address, normaliseAddress(address))))
    .returning({ address: emailSuppressions.address });
  return removed.length > 0;
}
