// A tenant's rows are read by id through their owner: another tenant's id is simply unknown (a 404).
import { and, eq } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client.js';

type OwnedTable = PgTable & { id: PgColumn; owner: PgColumn };

/** The condition for the row `id` of the tenant `owner`. */
export function ownedRow(table: OwnedTable, owner: string, id: string) {
  return and(eq(table.id, id), eq(table.owner, owner));
}

/** The row `id` of the tenant `owner`, or undefined (no such row, or another tenant's). */
export async function findOwned<T extends OwnedTable>(db: Database, table: T, owner: string, id: string): Promise<T['$inferSelect'] | undefined> {
  const source: OwnedTable = table; // drizzle's select cannot type a generic table
  const [row] = await db
    .select()
    .from(source)
    .where(ownedRow(table, owner, id));
  return row;
}
