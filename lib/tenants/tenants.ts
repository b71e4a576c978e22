// Tenants: who owns resources. Keys are a tenant's credentials (api/auth/api-keys.ts); disabling a tenant
// refuses its keys at once and holds its schedules and mailbox syncs (lib/tenants/apply-state.ts).
import { desc, eq, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { ADMIN_TENANT_ID, tenants } from '../../db/schema/index.js';
import { newId } from '../ids.js';

export type TenantRow = typeof tenants.$inferSelect;
export { ADMIN_TENANT_ID };

export class TenantNotFoundError extends Error {
  constructor(readonly tenantId: string) {
    super(`no tenant ${tenantId}`);
    this.name = 'TenantNotFoundError';
  }
}

/** The admin key's own tenant cannot be disabled: it is how an operator reaches the API at all. */
export class AdminTenantError extends Error {
  constructor() {
    super('the admin tenant cannot be disabled');
    this.name = 'AdminTenantError';
  }
}

export async function createTenant(db: Database, input: { name: string }): Promise<TenantRow> {
  const [row] = await db
    .insert(tenants)
    .values({ id: newId('ten'), name: input.name })
    .returning();
  return row!;
}

export async function findTenant(db: Database, id: string): Promise<TenantRow | undefined> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row;
}

/** By id (new tenants' ids sort by creation time), with the last id as the cursor. */
export async function listTenants(
  db: Database,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ data: TenantRow[]; nextCursor: string | null }> {
  const rows = await db
    .select()
    .from(tenants)
    .where(page.cursor ? lt(tenants.id, page.cursor) : undefined)
    .orderBy(desc(tenants.id))
    .limit(page.limit + 1);
  const data = rows.slice(0, page.limit);
  return { data, nextCursor: rows.length > page.limit ? data[data.length - 1]!.id : null };
}

/** Disables or enables the tenant; answers the row as it now is. */
export async function setTenantDisabled(db: Database, id: string, disabled: boolean, reason?: string): Promise<TenantRow> {
  if (disabled && id === ADMIN_TENANT_ID) throw new AdminTenantError();
  const [row] = await db
    .update(tenants)
    .set(
      disabled
        ? { disabledAt: new Date(), disabledReason: reason ?? null, updatedAt: new Date() }
        : { disabledAt: null, disabledReason: null, updatedAt: new Date() },
    )
    .where(eq(tenants.id, id))
    .returning();
  if (!row) throw new TenantNotFoundError(id);
  return row;
}

/** Whether the tenant is disabled (a firing of a disabled tenant's schedule sends nothing). */
export async function isTenantDisabled(db: Database, id: string): Promise<boolean> {
  const [row] = await db.select({ disabledAt: tenants.disabledAt }).from(tenants).where(eq(tenants.id, id));
  return row?.disabledAt != null;
}
