// The recipient directory: where each user is reached on each channel.
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { recipients } from '../../db/schema/index.js';

export type ContactChannel = 'EMAIL' | 'SMS' | 'PUSH';

export class ContactMissingError extends Error {
  constructor(readonly userId: string, readonly channel: ContactChannel) {
    super(`user ${userId} has no contact point for ${channel}`);
    this.name = 'ContactMissingError';
  }
}

export async function resolveContact(db: Database, userId: string, channel: ContactChannel): Promise<string[]> {
  const [user] = await db.select().from(recipients).where(eq(recipients.userId, userId));
  const contacts = !user ? [] : channel === 'EMAIL' ? [user.email] : channel === 'SMS' ? [user.phone] : user.pushTokens;
  const present = contacts.filter((c): c is string => Boolean(c));
  if (present.length === 0) throw new ContactMissingError(userId, channel);
  return present;
}
