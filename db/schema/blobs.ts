import { pgTable, text, timestamp, bigint, integer, customType, primaryKey } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * Uploaded files (CSV mailing lists, email attachments), kept outside workflow histories. Stored in
 * PostgreSQL so every API and worker process reads the same bytes without a shared volume; written
 * in chunks so an upload is streamed, never held whole in memory.
 */
export const blobs = pgTable('blobs', {
  id: text().primaryKey(),
  kind: text().notNull(),
  filename: text(),
  contentType: text().notNull(),
  size: bigint({ mode: 'number' }).notNull().default(0),
  sha256: text(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  // Null until the last chunk is written: an incomplete upload is never read.
  completedAt: timestamp({ withTimezone: true }),
});

export const blobChunks = pgTable(
  'blob_chunks',
  {
    blobId: text()
      .notNull()
      .references(() => blobs.id, { onDelete: 'cascade' }),
    seq: integer().notNull(),
    data: bytea().notNull(),
  },
  (t) => [primaryKey({ columns: [t.blobId, t.seq] })],
);
