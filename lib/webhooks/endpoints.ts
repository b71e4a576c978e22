// A tenant's webhook endpoints. The signing secret is sealed at rest (bound to the endpoint's id) and shown
// once, when made; a rotation keeps the previous secret signing for an overlap, so receivers can switch
// without missing a verified event.
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webhookEndpoints } from '../../db/schema/index.js';
import type { Encryptor } from '../crypto.js';
import { newId } from '../ids.js';
import { findOwned, ownedRow } from '../tenants/owned.js';
import { newSigningSecret } from './signing.js';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

export interface EndpointFields {
  url: string;
  description?: string | null | undefined;
  eventTypes: string[];
  mailboxId?: string | null | undefined;
  accountId?: string | null | undefined;
  enabled?: boolean | undefined;
}

export async function createEndpoint(
  deps: { db: Database; encryptor: Encryptor },
  owner: string,
  fields: EndpointFields,
): Promise<{ endpoint: EndpointRow; secret: string }> {
  const id = newId('whe');
  const secret = newSigningSecret();
  const [endpoint] = await deps.db
    .insert(webhookEndpoints)
    .values({
      id,
      owner,
      url: fields.url,
      description: fields.description ?? null,
      eventTypes: fields.eventTypes,
      mailboxId: fields.mailboxId ?? null,
      accountId: fields.accountId ?? null,
      enabled: fields.enabled ?? true,
      secretSealed: deps.encryptor.encrypt(secret, id),
    })
    .returning();
  return { endpoint: endpoint!, secret };
}

export const findEndpoint = (db: Database, owner: string, id: string) => findOwned(db, webhookEndpoints, owner, id);

export async function listEndpoints(db: Database, owner: string, limit: number, beforeId?: string): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.owner, owner), beforeId ? lt(webhookEndpoints.id, beforeId) : undefined))
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit);
}

/** Changes what is given; enabling clears why it was disabled and its run of failures. */
export async function updateEndpoint(db: Database, owner: string, id: string, fields: Partial<EndpointFields>): Promise<EndpointRow | undefined> {
  const enabling = fields.enabled === true;
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      ...(fields.url !== undefined ? { url: fields.url } : {}),
      ...(fields.description !== undefined ? { description: fields.description } : {}),
      ...(fields.eventTypes !== undefined ? { eventTypes: fields.eventTypes } : {}),
      ...(fields.mailboxId !== undefined ? { mailboxId: fields.mailboxId } : {}),
      ...(fields.accountId !== undefined ? { accountId: fields.accountId } : {}),
      ...(fields.enabled !== undefined ? { enabled: fields.enabled } : {}),
      ...(enabling ? { disabledAt: null, disabledReason: null, failingSince: null } : {}),
      ...(fields.enabled === false ? { disabledAt: new Date(), disabledReason: 'disabled by the tenant' } : {}),
      updatedAt: new Date(),
    })
    .where(ownedRow(webhookEndpoints, owner, id))
    .returning();
  return row;
}

export async function deleteEndpoint(db: Database, owner: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhookEndpoints)
    .where(ownedRow(webhookEndpoints, owner, id))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** A new secret, shown once; the current one keeps signing beside it for `overlapSeconds`. */
export async function rotateSecret(
  deps: { db: Database; encryptor: Encryptor },
  owner: string,
  id: string,
  overlapSeconds: number,
): Promise<{ endpoint: EndpointRow; secret: string } | undefined> {
  const secret = newSigningSecret();
  const [endpoint] = await deps.db
    .update(webhookEndpoints)
    .set({
      previousSecretSealed: sql`case when ${overlapSeconds} > 0 then ${webhookEndpoints.secretSealed} end`,
      previousSecretExpiresAt: sql`case when ${overlapSeconds} > 0 then now() + make_interval(secs => ${overlapSeconds}) end`,
      secretSealed: deps.encryptor.encrypt(secret, id),
      updatedAt: new Date(),
    })
    .where(ownedRow(webhookEndpoints, owner, id))
    .returning();
  return endpoint ? { endpoint, secret } : undefined;
}

/** The secrets that sign now: the current one, and the previous one during its overlap. */
export function signingSecrets(encryptor: Encryptor, endpoint: EndpointRow, now = new Date()): string[] {
  const current = encryptor.decrypt(endpoint.secretSealed, endpoint.id);
  const previousLive = endpoint.previousSecretSealed && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now;
  return previousLive ? [current, encryptor.decrypt(endpoint.previousSecretSealed!, endpoint.id)] : [current];
}
