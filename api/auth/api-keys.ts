// Bearer API keys: `mf_` + 32 random bytes. Stored as SHA-256 only (a fast hash is right for
// high-entropy random keys), looked up by hash, compared in constant time against the admin key.
import { randomBytes } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema/index.js';
import { constantTimeEqual, sha256Hex } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import type { Principal } from '../context.js';
import { defaultScopes, parseScopes, scopes as allScopes, type Scope } from './scopes.js';

const adminPrincipal: Principal = { kind: 'admin', scopes: allScopes };

export function generateApiKey(): string {
  return `mf_${randomBytes(32).toString('base64url')}`;
}

export async function createApiKey(db: Database, name: string, scopes: readonly Scope[] = defaultScopes) {
  const key = generateApiKey();
  const [row] = await db.insert(apiKeys).values({ id: newId('key'), name, keyHash: sha256Hex(key), prefix: key.slice(0, 10), scopes: [...new Set(scopes)] }).returning();
  return { key, record: row! };
}

export async function listApiKeys(db: Database) {
  return db.select({ id: apiKeys.id, name: apiKeys.name, prefix: apiKeys.prefix, scopes: apiKeys.scopes, createdAt: apiKeys.createdAt, lastUsedAt: apiKeys.lastUsedAt, revokedAt: apiKeys.revokedAt })
    .from(apiKeys).orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(db: Database, id: string): Promise<boolean> {
  const rows = await db.update(apiKeys).set({ revokedAt: new Date() }).where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id });
  return rows.length > 0;
}

export async function authenticate(db: Database, adminKey: string | undefined, presented: string): Promise<Principal | undefined> {
  if (adminKey && constantTimeEqual(sha256Hex(presented), sha256Hex(adminKey))) return adminPrincipal;
  const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.keyHash, sha256Hex(presented)), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  // Best effort bookkeeping; never fails the request.
  void db.update(apiKeys).set({ lastUsedAt: new Date() }).where(eq(apiKeys.id, row.id)).catch(() => {});
  return { kind: 'api_key', keyId: row.id, name: row.name, scopes: parseScopes(row.scopes) };
}

/** The principal a stream cookie speaks for, while its key is still valid (a revoked key's cookies die with it). */
export async function principalOfOwner(db: Database, adminKey: string | undefined, owner: string): Promise<Principal | undefined> {
  if (owner === 'admin') return adminKey ? adminPrincipal : undefined;
  const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.id, owner), isNull(apiKeys.revokedAt)));
  return row ? { kind: 'api_key', keyId: row.id, name: row.name, scopes: parseScopes(row.scopes) } : undefined;
}
