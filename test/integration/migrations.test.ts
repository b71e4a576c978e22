import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { runMigrations } from '../../db/migrate.js';
import { testConfig, unique } from '../helpers/config.js';

const admin = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
const name = unique('mig').replace(/-/g, '_');
afterAll(async () => {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

describe('migrations', () => {
  it('apply to an empty database, and again (also concurrently) without error or change', async () => {
    await admin.unsafe(`create database "${name}"`);
    const url = new URL(testConfig().DATABASE_URL);
    url.pathname = `/${name}`;
    await runMigrations(url.toString());
    await Promise.all([runMigrations(url.toString()), runMigrations(url.toString())]);
    const db = postgres(url.toString(), { max: 1 });
    const applied = await db`select count(*)::int as n from drizzle.__drizzle_migrations`;
    const tables = await db`select table_name from information_schema.tables where table_schema = 'public'`;
    await db.end();
    const journal = JSON.parse(readFileSync(new URL('../../db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] };
    expect(applied[0]!.n).toBe(journal.entries.length);
    expect(tables.map((t) => String(t.table_name))).toEqual(expect.arrayContaining(['api_keys', 'secrets', 'blobs', 'blob_chunks']));
  });
});
