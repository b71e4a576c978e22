// Named secrets shared by every process, encrypted at rest. The row's name is bound into the
// ciphertext (AAD), so a sealed value copied to another row does not decrypt.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { secrets } from '../db/schema/index.js';
import type { Encryptor } from './crypto.js';

export interface SecretValue {
  value: string;
  expiresAt: Date | null;
}

export class SecretStore {
  constructor(
    private readonly db: Database,
    private readonly encryptor: Encryptor,
  ) {}

  async put(name: string, value: string, expiresAt: Date | null = null): Promise<void> {
    const sealed = this.encryptor.encrypt(value, name);
    await this.db
      .insert(secrets)
      .values({ name, value: sealed, keyId: this.encryptor.activeKeyId, expiresAt })
      .onConflictDoUpdate({ target: secrets.name, set: { value: sealed, keyId: this.encryptor.activeKeyId, expiresAt, updatedAt: sql`now()` } });
  }

  async get(name: string): Promise<SecretValue | undefined> {
    const [row] = await this.db.select().from(secrets).where(eq(secrets.name, name));
    if (!row) return undefined;
    return { value: this.encryptor.decrypt(row.value, name), expiresAt: row.expiresAt };
  }

  async delete(name: string): Promise<void> {
    await this.db.delete(secrets).where(eq(secrets.name, name));
  }
}
