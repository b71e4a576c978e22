import { pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptz, timestamptzNow } from './columns.js';

/**
 * A tenant owns everything its keys create (notifications, mailings, schedules, accounts and what hangs off
 * them); API keys are its credentials. The `owner` column of each resource holds the tenant's id. The admin
 * key (ADMIN_API_KEY) acts in the built-in tenant `admin`; a key made before tenants existed became a tenant
 * of its own with the key's id, so what it owned did not move.
 */
export const tenants = pgTable('tenants', {
  id: text().primaryKey(), // ten_…, or "admin", or a migrated key's id
  name: text().notNull(),
  /** Set while the tenant is disabled: its keys are refused, its schedules and mailbox syncs held. */
  disabledAt: timestamptz(),
  disabledReason: text(),
  createdAt: timestamptzNow(),
  updatedAt: timestamptzNow(),
});

/** The tenant the admin key acts in. */
export const ADMIN_TENANT_ID = 'admin';
