import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

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
  disabledAt: timestamp({ withTimezone: true }),
  disabledReason: text(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** The tenant the admin key acts in. */
export const ADMIN_TENANT_ID = 'admin';
