// Applies the committed drizzle-kit migrations. Safe to run from every process at boot: an advisory
// lock serialises concurrent runs and drizzle skips migrations already recorded.
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';

const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));
const LOCK_KEY = 7_233_100; // arbitrary, fixed: "mailflow migrations"

/** `folder`: another migrations folder (tests apply a prefix of the history to check a data migration). */
export async function runMigrations(url: string, folder = MIGRATIONS_FOLDER): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${LOCK_KEY})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder: folder });
    } finally {
      await sql`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
