// Bearer API keys: `mf_` + 32 random bytes, each a credential of one tenant. Stored as SHA-256 only (a fast
// hash is right for high-entropy random keys), looked up by hash, compared in constant time against the
// admin key. A credential is named by a string that outlives the request (stream cookies and pending
// sign-ins carry it): a key's id, or `admin:<fingerprint>` of the admin key, so a rotated admin key's
// cookies and sign-ins die with it.
import { randomBytes } from 'node:crypto';
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { ADMIN_TENANT_ID, apiKeys, tenants } from '../../db/schema/index.js';
import { constantTimeEqual, sha256Hex } from '../../lib/crypto.js';
import { newId } from '../../lib/ids.js';
import { TenantNotFoundError } from '../../lib/tenants/tenants.js';
import type { Principal } from './principal.js';
import { defaultScopes, parseScopes, scopes as allScopes, type Scope } from './scopes.js';

export function generateApiKey(): string {
  return `mf_${randomBytes(32).toString('base64url')}`;
}

/** The admin key's credential name: a fingerprint, never the key. */
export const adminCredential = (adminKey: string) => `admin:${sha256Hex(adminKey).slice(0, 16)}`;

const adminPrincipal = (adminKey: string): Principal => ({
  kind: 'admin',
  tenantId: ADMIN_TENANT_ID,
  credential: adminCredential(adminKey),
  scopes: allScopes,
});

type KeyRow = typeof apiKeys.$inferSelect;
const keyPrincipal = (row: KeyRow): Principal => ({
  kind: 'api_key',
  keyId: row.id,
  name: row.name,
  tenantId: row.tenantId,
  credential: row.id,
  scopes: parseScopes(row.scopes),
});

/**
 * A new key of `tenantId`, or, without one, of a new tenant of its own named after it (what every key was
 * before tenants: what it creates is reachable by no other key until the admin adds one to its tenant).
 */
export async function createApiKey(db: Database, input: { name: string; scopes?: readonly Scope[]; tenantId?: string | undefined }) {
  const key = generateApiKey();
  const record = await db.transaction(async (tx) => {
    let tenantId = input.tenantId;
    if (tenantId === undefined) {
      [{ id: tenantId }] = (await tx
        .insert(tenants)
        .values({ id: newId('ten'), name: input.name })
        .returning({ id: tenants.id })) as [{ id: string }];
    } else if ((await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId))).length === 0) {
      throw new TenantNotFoundError(tenantId);
    }
    const [row] = await tx
      .insert(apiKeys)
      .values({
        id: newId('key'),
        tenantId,
        name: input.name,
        keyHash: sha256Hex(key),
        prefix: key.slice(0, 10),
        scopes: [...new Set(input.scopes ?? defaultScopes)],
      })
      .returning();
    return row!;
  });
  return { key, record };
}

export async function listApiKeys(db: Database, tenantId?: string) {
  return db
    .select({
      id: apiKeys.id,
      tenantId: apiKeys.tenantId,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(tenantId ? eq(apiKeys.tenantId, tenantId) : undefined)
    .orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(db: Database, id: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** Who a presented key speaks for; `disabled` when it is valid but its tenant is disabled. */
export async function authenticate(db: Database, adminKey: string | undefined, presented: string): Promise<Principal | { disabled: string } | undefined> {
  if (adminKey && constantTimeEqual(sha256Hex(presented), sha256Hex(adminKey))) return adminPrincipal(adminKey);
  const [found] = await db
    .select({ key: apiKeys, disabledAt: tenants.disabledAt })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.keyHash, sha256Hex(presented)), isNull(apiKeys.revokedAt)));
  if (!found) return undefined;
  if (found.disabledAt) return { disabled: found.key.tenantId };
  // Best effort bookkeeping; never fails the request.
  void db
    .update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(eq(apiKeys.id, found.key.id))
    .catch(() => {});
  return keyPrincipal(found.key);
}

/** The principal a credential name speaks for while it is still valid: not revoked, its tenant enabled, the admin key unchanged. */
export async function principalOfCredential(db: Database, adminKey: string | undefined, credential: string): Promise<Principal | undefined> {
  if (credential.startsWith('admin:')) return adminKey && constantTimeEqual(credential, adminCredential(adminKey)) ? adminPrincipal(adminKey) : undefined;
  const [found] = await db
    .select({ key: apiKeys })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.id, credential), isNull(apiKeys.revokedAt), isNull(tenants.disabledAt)));
  return found ? keyPrincipal(found.key) : undefined;
}

/** Of the given key ids, those no longer valid: revoked, gone, or of a disabled tenant. */
export async function invalidKeys(db: Database, keyIds: readonly string[]): Promise<Set<string>> {
  if (keyIds.length === 0) return new Set();
  const valid = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(inArray(apiKeys.id, [...keyIds]), isNull(apiKeys.revokedAt), isNull(tenants.disabledAt)));
  const ok = new Set(valid.map((r) => r.id));
  return new Set(keyIds.filter((id) => !ok.has(id)));
}
