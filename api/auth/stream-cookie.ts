// A browser's EventSource cannot send an Authorization header, and an API key must never travel in a
// URL. So a page, holding the key, asks for a stream cookie: HttpOnly, SameSite=Strict, scoped to one
// stream's path (an account's events, or the tenant's notification changes), valid for an hour, and a MAC
// over (stream, credential, expiry) with a key derived from the encryption keys (all of them verify, so it
// survives key rotation).
import { createHmac, hkdfSync } from 'node:crypto';
import type { Config } from '../../lib/config.js';
import { constantTimeEqual } from '../../lib/crypto.js';

export const STREAM_COOKIE = 'mf_events';
export const STREAM_COOKIE_SECONDS = 3_600;

export const eventsPath = (accountId: string) => `/v1/accounts/${accountId}/events`;
const EVENTS_PATH = /^\/v1\/accounts\/(acc_[0-9a-z]{26})\/events$/;
/** The tenant's notification changes: the stream whose cookie names `notifications` instead of an account. */
export const NOTIFICATION_EVENTS_PATH = '/v1/notifications/events';
export const NOTIFICATION_STREAM = 'notifications';

const streamPath = (stream: string) => (stream === NOTIFICATION_STREAM ? NOTIFICATION_EVENTS_PATH : eventsPath(stream));
const streamOf = (path: string) => EVENTS_PATH.exec(path)?.[1] ?? (path === NOTIFICATION_EVENTS_PATH ? NOTIFICATION_STREAM : undefined);

function macKeys(config: Pick<Config, 'ENCRYPTION_KEYS'>): Buffer[] {
  return config.ENCRYPTION_KEYS.map(({ key }) => Buffer.from(hkdfSync('sha256', key, 'mailflow', 'event-stream-cookie', 32)));
}

const mac = (key: Buffer, stream: string, credential: string, expires: number) =>
  createHmac('sha256', key).update(`${stream}\n${credential}\n${expires}`).digest('base64url');

/** `stream`: an account id, or NOTIFICATION_STREAM. */
export function issueStreamCookie(config: Pick<Config, 'ENCRYPTION_KEYS' | 'PUBLIC_BASE_URL'>, stream: string, credential: string, now = Date.now()) {
  const expires = Math.floor(now / 1000) + STREAM_COOKIE_SECONDS;
  const value = `v1.${expires}.${Buffer.from(credential).toString('base64url')}.${mac(macKeys(config)[0]!, stream, credential, expires)}`;
  const secure = config.PUBLIC_BASE_URL.startsWith('https:') ? '; Secure' : '';
  return {
    header: `${STREAM_COOKIE}=${value}; Path=${streamPath(stream)}; Max-Age=${STREAM_COOKIE_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
    expiresAt: new Date(expires * 1000),
  };
}

/** The credential (api/auth/api-keys.ts) a valid cookie speaks for, if `path` is the path of the stream it was issued for. */
export function verifyStreamCookie(
  config: Pick<Config, 'ENCRYPTION_KEYS'>,
  path: string,
  cookieHeader: string | undefined,
  now = Date.now(),
): string | undefined {
  const stream = streamOf(path);
  if (!stream || !cookieHeader) return undefined;
  const value = cookieHeader
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${STREAM_COOKIE}=`))
    ?.slice(STREAM_COOKIE.length + 1);
  const [version, expiresText, credentialB64, presented] = value?.split('.') ?? [];
  if (version !== 'v1' || !expiresText || !credentialB64 || !presented) return undefined;
  const expires = Number(expiresText);
  if (!Number.isInteger(expires) || expires * 1000 < now) return undefined;
  const credential = Buffer.from(credentialB64, 'base64url').toString();
  return macKeys(config).some((key) => constantTimeEqual(mac(key, stream, credential, expires), presented)) ? credential : undefined;
}
