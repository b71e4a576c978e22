// Column builders the tables share. Each call makes a new builder, the same one the chain it names would:
// the SQL (and so the migrations) is what spelling the chain out would give.
import { text, timestamp, type AnyPgColumn } from 'drizzle-orm/pg-core';

/** A point in time: `timestamp with time zone`. */
export const timestamptz = () => timestamp({ withTimezone: true });

/** When the row was made (or last changed): not null, now by default. */
export const timestamptzNow = () => timestamptz().notNull().defaultNow();

/** The row's parent: not null, and the row is deleted with it. */
export const parentRef = (parent: () => AnyPgColumn) => text().notNull().references(parent, { onDelete: 'cascade' });

/** The row's parent as its key (one row per parent), deleted with it. */
export const parentKey = (parent: () => AnyPgColumn) => text().primaryKey().references(parent, { onDelete: 'cascade' });
