import { pgTable, text } from 'drizzle-orm/pg-core';
import { timestamptz, timestamptzNow } from './columns.js';

/**
 * Secrets shared by every process (provider API tokens, OAuth token caches), sealed with AES-256-GCM.
 * `value` is ciphertext only; see lib/secret-store.ts.
 */
export const secrets = pgTable('secrets', {
  name: text().primaryKey(),
  value: text().notNull(),
  keyId: text().notNull(),
  expiresAt: timestamptz(),
  updatedAt: timestamptzNow(),
});
