// A list cursor for lists ordered newest first by a creation time and then a key: the last row's exact time
// and its key, as opaque base64url. The time comes first and holds no "|", so the key may.
import { parseCursorTime } from '../lib/notifications/list.js';
import { AppError } from './errors.js';

export function encodeTimeCursor(createdAt: string, key: string): string {
  return Buffer.from(`${createdAt}|${key}`).toString('base64url');
}

/** The cursor's time and key (named as the list names it), or a 400 naming `cursor` for anything this API did not issue. */
export function decodeTimeCursor<K extends string>(cursor: string, keyName: K): { createdAt: string } & Record<K, string> {
  const text = Buffer.from(cursor, 'base64url').toString();
  const split = text.indexOf('|');
  const createdAt = parseCursorTime(split > 0 ? text.slice(0, split) : '');
  const key = split > 0 ? text.slice(split + 1) : '';
  if (!key || !createdAt) throw new AppError('validation', 'invalid cursor', { errors: [{ path: 'cursor', message: 'not a cursor this API issued' }] });
  return { createdAt, [keyName]: key } as { createdAt: string } & Record<K, string>;
}
