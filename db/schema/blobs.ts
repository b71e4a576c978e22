import { pgTable, text, bigint, integer, customType, primaryKey } from 'drizzle-orm/pg-core';
import { parentRef, timestamptz, timestamptzNow } from './columns.js';

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
  createdAt: timestamptzNow(),
  // Null until the last chunk is written: an incomplete upload is never read.
  completedAt: timestamptz(),
});

export const blobChunks = pgTable(
  'blob_chunks',
  {
    blobId: parentRef(() => blobs.id),
    seq: integer().notNull(),
    data: bytea().notNull(),
  },
  (t) => [primaryKey({ columns: [t.blobId, t.seq] })],
);
