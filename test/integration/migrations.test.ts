import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { authenticate } from '../../api/auth/api-keys.js';
import { findAccount } from '../../lib/accounts/accounts.js';
import { sha256Hex } from '../../lib/crypto.js';
import postgres from 'postgres';
import { runMigrations } from '../../db/migrate.js';
import { testConfig, unique } from '../helpers/config.js';

const admin = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
const name = unique('mig').replace(/-/g, '_');
const before = unique('mig_tenants').replace(/-/g, '_');
afterAll(async () => {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.unsafe(`drop database if exists "${before}" with (force)`);
  await admin.end();
});

const migrationsFolder = fileURLToPath(new URL('../../db/migrations', import.meta.url));

/** A copy of the migrations folder holding only the history up to (not including) `tag`. */
function historyBefore(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailflow-migrations-'));
  cpSync(migrationsFolder, dir, { recursive: true });
  const journalPath = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  expect(cut).toBeGreaterThan(0);
  writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, cut) }));
  return dir;
}

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

  it('makes each existing key a tenant of its own, so what it owned is still its own, and numbers the live feed on', async () => {
    await admin.unsafe(`create database "${before}"`);
    const url = new URL(testConfig().DATABASE_URL);
    url.pathname = `/${before}`;
    const old = historyBefore('0017_tenants_and_gap_free_live_feed');
    try {
      await runMigrations(url.toString(), old);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
    const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
    try {
      const key = 'mf_existing-key-from-before-tenants-0123456789';
      await db`insert into api_keys (id, name, key_hash, prefix) values ('key_old', 'billing', ${sha256Hex(key)}, 'mf_existin')`;
      await db`insert into accounts (id, owner, email) values ('acc_old', 'key_old', 'jane@example.com'), ('acc_admin', 'admin', 'ops@example.com')`;
      await db`insert into oauth_states (state_hash, provider, account_id, owner, code_verifier_sealed, callback_url, expires_at) values ('h', 'outlook', 'acc_old', 'key_old', 'v1.x', 'http://localhost/cb', now() + interval '1 hour')`;
      await db`insert into mailbox_events (account_id, mailbox_id, type, data) values ('acc_old', 'mbx_1', 'reload', '{}'), ('acc_admin', 'mbx_2', 'reload', '{}'), ('acc_old', 'mbx_1', 'reload', '{}')`;

      await runMigrations(url.toString());
      expect(await db`select id, name from tenants order by id`).toEqual([
        { id: 'admin', name: 'admin' },
        { id: 'key_old', name: 'billing' },
      ]);
      const principal = await authenticate(drizzle(db, { casing: 'snake_case' }) as never, undefined, key);
      expect(principal).toMatchObject({ kind: 'api_key', keyId: 'key_old', tenantId: 'key_old' });
      expect(await findAccount(drizzle(db, { casing: 'snake_case' }) as never, 'key_old', 'acc_old')).toMatchObject({ email: 'jane@example.com' });
      expect(await db`select credential from oauth_states`).toEqual([{ credential: 'key_old' }]);
      const events = await db<{ account_id: string; id: number; seq: number }[]>`select account_id, id::int, seq::int from mailbox_events order by id`;
      expect(events.every((e) => e.seq === e.id)).toBe(true);
      expect(await db`select account_id, last_seq::int from account_event_seqs order by account_id`).toEqual([
        { account_id: 'acc_admin', last_seq: events[1]!.id },
        { account_id: 'acc_old', last_seq: events[2]!.id },
      ]);
    } finally {
      await db.end();
    }
  });
});
