// Delta tokens and the Prefer header. A token is base64url(JSON cursor) plus a MAC: opaque to clients,
// tamper-evident, bound to one mailbox, reusable until expired. A nextLink's cursor holds the round
// (from, head) and the position reached; a deltaLink's holds only where the next round starts, because
// that round's head is taken when the link is followed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChangeType } from './change-log.js';

export interface Cursor {
  /** m: a folder's messages; f: the folder tree. */
  k: 'm' | 'f';
  mb: string;
  f?: string;
  p: number;
  h?: number;
  pos?: number;
  sel?: string[];
  ct?: ChangeType;
  /** Page size from the first request's $top, when no Prefer header says otherwise. */
  t?: number;
  /** From `$filter=receivedDateTime ge|gt …`: the earliest receivedDateTime (epoch seconds) listed. */
  rs?: number;
}

export type TokenRead = { cursor: Cursor } | { error: 'invalid' | 'expired' };

export class DeltaTokens {
  private serial = 0;
  private expiredThrough = 0;

  constructor(private readonly secret: Buffer) {}

  issue(cursor: Cursor): string {
    const body = Buffer.from(JSON.stringify({ ...cursor, n: ++this.serial })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  read(token: string, mailboxId: string): TokenRead {
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) return { error: 'invalid' };
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { error: 'invalid' };
    const cursor = JSON.parse(Buffer.from(body, 'base64url').toString()) as Cursor & { n: number };
    if (cursor.mb !== mailboxId) return { error: 'invalid' };
    if (cursor.n <= this.expiredThrough) return { error: 'expired' };
    return { cursor };
  }

  /** Every token issued so far answers as expired from now on. */
  expireAll(): void {
    this.expiredThrough = this.serial;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }
}

export interface Prefer {
  maxPageSize?: number;
  immutableIds: boolean;
  values: string[];
}

/** `Prefer` may come as one header with several preferences or as several headers (fetch joins them with ", "). */
export function parsePrefer(header: string | undefined): Prefer {
  const values = (header ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  let maxPageSize: number | undefined;
  let immutableIds = false;
  for (const value of values) {
    const size = /^odata\.maxpagesize\s*=\s*(\d+)$/i.exec(value);
    if (size) maxPageSize = Math.min(1_000, Math.max(1, Number(size[1])));
    if (/^IdType\s*=\s*"?ImmutableId"?$/i.test(value)) immutableIds = true;
  }
  return { ...(maxPageSize !== undefined ? { maxPageSize } : {}), immutableIds, values };
}
