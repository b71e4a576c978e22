import { sql } from 'drizzle-orm';
import { pgTable, text, index } from 'drizzle-orm/pg-core';
import { timestamptz, timestamptzNow } from './columns.js';
import { tenants } from './tenants.js';

/**
 * Bearer API keys: credentials of one tenant. Only a SHA-256 of the key is stored; the key itself is shown
 * once, at creation. Revoking a key ends its access and nothing else: what its tenant owns stays.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text().primaryKey(),
    tenantId: text()
      .notNull()
      .references(() => tenants.id),
    name: text().notNull(),
    // Lookup by hash on every authenticated request.
    keyHash: text().notNull().unique(),
    // The first characters, so an operator can tell keys apart without the secret.
    prefix: text().notNull(),
    // What the key may do: 'admin' (keys, templates, users), 'send', 'read'. Keys made before scopes send and read.
    scopes: text()
      .array()
      .notNull()
      .default(sql`'{read,send}'::text[]`),
    createdAt: timestamptzNow(),
    lastUsedAt: timestamptz(),
    revokedAt: timestamptz(),
  },
  (t) => [index('api_keys_created_at_idx').on(t.createdAt), index('api_keys_tenant_idx').on(t.tenantId, t.createdAt)],
);
