// Where an OAuth sign-in may send the browser back to: only URLs under a configured prefix, so the
// link endpoint can never be used as an open redirect.
import type { Config } from '../config.js';

export function callbackAllowlist(config: Pick<Config, 'OAUTH_CALLBACK_ALLOWLIST' | 'PUBLIC_BASE_URL'>): URL[] {
  const entries = config.OAUTH_CALLBACK_ALLOWLIST?.split(',')
    .map((e) => e.trim())
    .filter(Boolean) ?? [`${config.PUBLIC_BASE_URL.replace(/\/$/, '')}/`];
  return entries.flatMap((entry) => {
    try {
      return [new URL(entry)];
    } catch {
      return [];
    }
  });
}

/** True when `candidate` is an http(s) URL without credentials, on an allowed origin, under its path. */
export function isAllowedCallback(candidate: string, allowlist: URL[]): boolean {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  return allowlist.some((allowed) => allowed.origin === url.origin && url.pathname.startsWith(allowed.pathname));
}
