// The message list's cursor, one format for both backends: the last item's sort values (receivedAt in epoch
// ms or null, then messageId) as base64url JSON. Opaque to callers; anything else decodes to InvalidCursorError.
import { isStorableDate } from './documents.js';
import { InvalidCursorError, type MessageDoc } from './types.js';

export interface CursorPosition {
  receivedAt: number | null;
  messageId: string;
}

const MAX_CURSOR_LENGTH = 2_048;

export function positionOf(doc: MessageDoc): CursorPosition {
  return { receivedAt: doc.receivedAt === null ? null : Date.parse(doc.receivedAt), messageId: doc.messageId };
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.receivedAt, position.messageId]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  // Node's base64 decoder skips characters it does not know: check the alphabet first.
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(value) || value.length !== 2) throw new InvalidCursorError();
  const [receivedAt, messageId] = value as unknown[];
  // Only dates a document can hold: anything else would reach the database as an out-of-range timestamp.
  const validDate = receivedAt === null || (typeof receivedAt === 'number' && isStorableDate(receivedAt));
  if (!validDate || typeof messageId !== 'string' || messageId.length === 0) throw new InvalidCursorError();
  return { receivedAt, messageId };
}
