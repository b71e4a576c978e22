// The recipient directory: where each user is reached on each channel.
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { recipients } from '../../db/schema/index.js';

export type ContactChannel = 'EMAIL' | 'SMS' | 'PUSH';

export class ContactMissingError extends Error {
  constructor(
    readonly userId: string,
    readonly channel: ContactChannel,
  ) {
    super(`user ${userId} has no contact point for ${channel}`);
    this.name = 'ContactMissingError';
  }
}

export type UserRow = typeof recipients.$inferSelect;

export class UserNotFoundError extends Error {
  constructor(readonly userId: string) {
    super(`no user ${userId}`);
    this.name = 'UserNotFoundError';
  }
}

export interface ContactUpdate {
  email?: string | null | undefined;
  phone?: string | null | undefined;
  pushTokens?: string[] | undefined;
}

/** Creates the user or changes the contact points given: a field left out keeps its value, null clears it. */
export async function putUser(db: Database, userId: string, update: ContactUpdate): Promise<UserRow> {
  const values = { userId, email: update.email ?? null, phone: update.phone ?? null, pushTokens: update.pushTokens ?? [] };
  const set: Partial<typeof values> & { updatedAt: Date } = { updatedAt: new Date() };
  if (update.email !== undefined) set.email = update.email;
  if (update.phone !== undefined) set.phone = update.phone;
  if (update.pushTokens !== undefined) set.pushTokens = update.pushTokens;
  const [row] = await db.insert(recipients).values(values).onConflictDoUpdate({ target: recipients.userId, set }).returning();
  return row!;
}

export async function getUser(db: Database, userId: string): Promise<UserRow> {
  const [row] = await db.select().from(recipients).where(eq(recipients.userId, userId));
  if (!row) throw new UserNotFoundError(userId);
  return row;
}

export async function resolveContact(db: Database, userId: string, channel: ContactChannel): Promise<string[]> {
  const [user] = await db.select().from(recipients).where(eq(recipients.userId, userId));
  const contacts = !user ? [] : channel === 'EMAIL' ? [user.email] : channel === 'SMS' ? [user.phone] : user.pushTokens;
  const present = contacts.filter((c): c is string => Boolean(c));
  if (present.length === 0) throw new ContactMissingError(userId, channel);
  return present;
}

/** How many push device tokens one notification may name (a user's devices), as the directory allows. */
export const MAX_PUSH_TOKENS = 20;

/** One recipient's format per channel (the same rules as the user directory). */
export const recipientFormats: Record<ContactChannel, z.ZodType<string>> = {
  EMAIL: z.email('expected one email address').max(320),
  SMS: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number such as +15551234567'),
  PUSH: z.string().regex(/^[A-Za-z0-9:_.-]{8,4096}$/, 'expected a device token (8 to 4096 of A-Z a-z 0-9 : _ . -)'),
};

export interface RecipientIssue {
  path: (string | number)[];
  message: string;
}

/**
 * The `to` override, checked for its channel: one email address, one E.164 number, or 1 to MAX_PUSH_TOKENS
 * device tokens. Each element is one recipient (never split), so one notification cannot fan out.
 */
export function checkRecipientOverride(channel: ContactChannel, to: string | string[]): RecipientIssue[] {
  const list = [to].flat();
  const max = channel === 'PUSH' ? MAX_PUSH_TOKENS : 1;
  if (list.length > max) {
    return [
      {
        path: [],
        message:
          channel === 'PUSH' ? `at most ${MAX_PUSH_TOKENS} device tokens` : `one ${channel === 'EMAIL' ? 'email address' : 'phone number'} per notification`,
      },
    ];
  }
  const issues: RecipientIssue[] = [];
  list.forEach((value, i) => {
    const parsed = recipientFormats[channel].safeParse(value);
    if (!parsed.success) issues.push({ path: Array.isArray(to) ? [i] : [], message: parsed.error.issues[0]?.message ?? 'invalid recipient' });
  });
  if (new Set(list).size !== list.length) issues.push({ path: [], message: 'the same recipient twice' });
  return issues;
}
