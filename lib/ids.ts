// Prefixed, time-sortable ids for everything a user sees (`ntf_…`, `mlg_…`): readable in logs and in the
// Temporal Web UI, and ordered by creation so cursor paging by id is stable.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

export function newId(prefix: string, now = Date.now()): string {
  const random = randomBytes(16);
  let tail = '';
  for (const byte of random) tail += ALPHABET[byte % 32];
  return `${prefix}_${encodeTime(now)}${tail.slice(0, 16)}`;
}
