// Local accounts: created by an API key and visible only to it. Every read takes the owner, so a
// foreign id behaves exactly like an unknown one.
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { accounts } from '../../db/schema/index.js';
import { newId } from '../ids.js';
import { findOwned } from '../tenants/owned.js';

export type AccountRow = typeof accounts.$inferSelect;

export class AccountExistsError extends Error {
  constructor(readonly accountId: string) {
    super('an account with this email already exists');
    this.name = 'AccountExistsError';
  }
}

export async function createAccount(db: Database, owner: string, input: { email: string; displayName?: string | null }): Promise<AccountRow> {
  const [row] = await db
    .insert(accounts)
    .values({ id: newId('acc'), owner, email: input.email, displayName: input.displayName ?? null })
    .onConflictDoNothing()
    .returning();
  if (row) return row;
  const [existing] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.owner, owner), sql`lower(${accounts.email}) = lower(${input.email})`));
  throw new AccountExistsError(existing?.id ?? '');
}

export async function findAccount(db: Database, owner: string, id: string): Promise<AccountRow | undefined> {
  return findOwned(db, accounts, owner, id);
}

/** Newest first; the cursor is the last id of the previous page (ids sort by creation time). */
export async function listAccounts(
  db: Database,
  owner: string,
  page: { limit: number; cursor?: string },
): Promise<{ data: AccountRow[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(accounts)
    .where(and(eq(accounts.owner, owner), page.cursor ? lt(accounts.id, page.cursor) : undefined))
    .orderBy(desc(accounts.id))
    .limit(page.limit + 1);
  const data = rows.slice(0, page.limit);
  return { data, nextCursor: rows.length > page.limit ? data[data.length - 1]!.id : null };
}
