import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { connectDatabase } from '../../db/client.js';
import { Encryptor } from '../../lib/crypto.js';
import { SecretStore } from '../../lib/secret-store.js';
import { testConfig, unique } from '../helpers/config.js';

const config = testConfig();
const database = connectDatabase(config.DATABASE_URL, { max: 2 });
afterAll(() => database.close());

describe('secrets at rest', () => {
  it('a stored secret is not readable in the database, and reads back through the store', async () => {
    const store = new SecretStore(database.db, new Encryptor(config.ENCRYPTION_KEYS));
    const name = unique('provider-token');
    const plaintext = 'eyJhbGciOiJIUzI1NiJ9.super-secret-provider-token';
    await store.put(name, plaintext, new Date(Date.now() + 60_000));

    const raw = await database.db.execute<Record<string, unknown>>(sql`select * from secrets where name = ${name}`);
    const dump = JSON.stringify(raw);
    expect(dump).not.toContain('super-secret');
    expect(dump).not.toContain(Buffer.from(plaintext).toString('base64'));
    expect(raw[0]!.key_id).toBe(config.ENCRYPTION_KEYS[0]!.id);
    expect((await store.get(name))?.value).toBe(plaintext);
  });

  it('a sealed value copied to another row does not decrypt', async () => {
    const store = new SecretStore(database.db, new Encryptor(config.ENCRYPTION_KEYS));
    const [a, b] = [unique('a'), unique('b')];
    await store.put(a, 'value-a');
    await store.put(b, 'value-b');
    await database.db.execute(sql`update secrets set value = (select value from secrets where name = ${a}) where name = ${b}`);
    await expect(store.get(b)).rejects.toThrow();
  });
});
