// Admission of an uploaded mailing list: the one path by which a mailing enters the system. In one
// transaction it takes the Idempotency-Key's lock, answers a repeated key with the mailing it already made,
// stores the mailing and starts its workflow; if Temporal refuses the start, nothing is committed, so no
// mailing is ever left PARSING with no workflow to parse it. (The workflow may start a moment before the
// commit: parsing retries a row it cannot see yet.)
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailings, type MailingOptions } from '../../db/schema/index.js';
import type { StoredBlob } from '../blob-store.js';
import type { Config } from '../config.js';
import { newId } from '../ids.js';
import { mailingWorkflowId, startMailingWorkflow } from './start-workflow.js';

export type MailingRow = typeof mailings.$inferSelect;

export interface MailingAdmissionRequest {
  /** Who asked (an API key id, or "admin"): idempotency keys are scoped by it. */
  scope: string;
  idempotencyKey?: string;
  file: StoredBlob;
  name: string | null;
  options: MailingOptions;
}

/** Temporal refused to start the workflow: nothing was stored; the client may retry. */
export class MailingStartError extends Error {
  constructor(cause: unknown) {
    super("could not start the mailing's workflow; nothing was stored", { cause });
    this.name = 'MailingStartError';
  }
}

export class MailingIdempotencyConflictError extends Error {
  constructor(readonly mailingId: string) {
    super('this Idempotency-Key was already used with a different upload');
    this.name = 'MailingIdempotencyConflictError';
  }
}

/** The upload as it matters: the file's bytes (by hash) and how to read it. */
export function uploadHash(request: Pick<MailingAdmissionRequest, 'file' | 'name' | 'options'>): string {
  const { hasHeader, emailColumn, delimiter } = request.options;
  const canonical = JSON.stringify([request.file.sha256, request.file.size, request.name, hasHeader, emailColumn, delimiter]);
  return createHash('sha256').update(canonical).digest('hex');
}

const base32 = '0123456789abcdefghjkmnpqrstvwxyz';
/** The id of an idempotent upload: a function of (scope, key, generation), so duplicates collapse. */
export function mailingIdFromKey(scope: string, key: string, generation = ''): string {
  const digest = createHash('sha256').update(`mailing\0${scope}\0${key}\0${generation}`).digest();
  let out = '';
  for (let i = 0; i < 26; i++) out += base32[digest[i]! % 32];
  return `mlg_${out}`;
}

export async function admitMailing(
  db: Database,
  temporal: Client,
  config: Config,
  request: MailingAdmissionRequest,
): Promise<{ mailing: MailingRow; created: boolean }> {
  const scopedKey = request.idempotencyKey ? `${request.scope}:${request.idempotencyKey}` : null;
  const requestHash = scopedKey ? uploadHash(request) : null;
  return db.transaction(async (tx) => {
    let id = newId('mlg');
    if (scopedKey) {
      // Concurrent uploads with one key wait here for each other; the unique index is the backstop.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`mailing-idempotency:${scopedKey}`}, 0))`);
      const [existing] = await tx.select().from(mailings).where(eq(mailings.idempotencyKey, scopedKey));
      if (existing && Date.now() - existing.createdAt.getTime() < config.IDEMPOTENCY_TTL_HOURS * 3_600_000) {
        if (existing.requestHash !== requestHash) throw new MailingIdempotencyConflictError(existing.id);
        return { mailing: existing, created: false };
      }
      // An expired key is freed; the new id derives from the old one, so retries of this upload still collapse.
      if (existing) await tx.update(mailings).set({ idempotencyKey: null }).where(eq(mailings.id, existing.id));
      id = mailingIdFromKey(request.scope, request.idempotencyKey!, existing?.id ?? '');
    }
    const [row] = await tx
      .insert(mailings)
      .values({
        id,
        owner: request.scope,
        name: request.name ?? request.file.filename,
        blobId: request.file.id,
        workflowId: mailingWorkflowId(id),
        status: 'PARSING',
        options: request.options,
        idempotencyKey: scopedKey,
        requestHash,
      })
      .returning();
    // Idempotent itself (the workflow id is the mailing's, USE_EXISTING): a retried admission attaches to it.
    await startMailingWorkflow(temporal, config, id).catch((error: unknown) => {
      throw new MailingStartError(error);
    });
    return { mailing: row!, created: true };
  });
}
