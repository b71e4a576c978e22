// A recipient's verification token: 144 random bits, made when the recipient is first sent to (not at
// ingest, where a million rows of crypto would be most of the cost), kept as a SHA-256 for /v1/verify and
// sealed (AES-256-GCM, bound to its mailing and row) to render the mail; never logged.
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { mailingRecipients } from '../../db/schema/index.js';
import type { Encryptor } from '../crypto.js';

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
const tokenAad = (mailingId: string, row: number) => `mailing-token:${mailingId}:${row}`;

/**
 * The recipient's token, stored before its request leaves. `sealed` is what the row already holds (the
 * token of an earlier attempt, or of a row ingested before tokens moved to first send): that one, always.
 * Otherwise a new one is stored with `coalesce`, so of two attempts racing (a retry beside an attempt
 * Temporal gave up on) the first to write wins and both send the stored one: a recipient never gets two
 * different tokens.
 */
export async function recipientToken(
  db: Database,
  encryptor: Encryptor,
  recipient: { mailingId: string; row: number; sealed: string | null },
): Promise<string> {
  const { mailingId, row } = recipient;
  if (recipient.sealed) return encryptor.decrypt(recipient.sealed, tokenAad(mailingId, row));
  const fresh = randomBytes(18).toString('base64url');
  const [stored] = await db
    .update(mailingRecipients)
    .set({
      tokenSealed: sql`coalesce(${mailingRecipients.tokenSealed}, ${encryptor.encrypt(fresh, tokenAad(mailingId, row))})`,
      tokenHash: sql`coalesce(${mailingRecipients.tokenHash}, ${tokenHash(fresh)})`,
    })
    .where(and(eq(mailingRecipients.mailingId, mailingId), eq(mailingRecipients.rowNumber, row)))
    .returning({ sealed: mailingRecipients.tokenSealed });
  if (!stored?.sealed) throw new Error(`no row ${row} in mailing ${mailingId}`);
  return encryptor.decrypt(stored.sealed, tokenAad(mailingId, row));
}
