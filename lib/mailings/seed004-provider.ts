// The seed-004 email API adapter: POST /send-email with a bearer JWT from POST /auth/token. The token is
// shared by every worker through the encrypted secret store, renewed a minute before its `exp` (a quarter of the lifetime for short-lived tokens), and once
// more when the API answers 401 (revoked or clock skew). Credentials and tokens are never logged.
import { decodeJwt } from 'jose';
import type { SecretStore } from '../secret-store.js';
import { parseRetryAfter } from '../notifications/providers/http.js';
import {
  ProviderRateLimitedError,
  ProviderUnavailableError,
  RecipientRefusedError,
  type MailingMessage,
  type MailingProvider,
  type MailingSendResult,
  type Pace,
} from './provider.js';

export interface Seed004Options {
  apiUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  secrets: SecretStore;
  /** Whether /auth/token waits for a slot too (the API does not say whether it counts toward the limit). */
  paceTokenRequests?: boolean;
}

const TOKEN_SECRET = 'seed004:access-token';

/** Renew a minute before expiry, or a quarter of the lifetime for short-lived tokens. */
function renewMargin(token: string): number {
  const { iat, exp } = decodeJwt(token);
  return iat && exp ? Math.min(60_000, ((exp - iat) * 1000) / 4) : 60_000;
}

export class Seed004AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Seed004AuthError';
  }
}

export class Seed004Provider implements MailingProvider {
  readonly name = 'seed004';
  /** Tokens fetched by this process (for tests and logs: how often renewal happened). */
  tokensFetched = 0;

  constructor(private readonly options: Seed004Options) {}

  private url(path: string) {
    return `${this.options.apiUrl.replace(/\/$/, '')}${path}`;
  }

  private async fetchToken(signal?: AbortSignal, pace?: Pace): Promise<string> {
    const departure = pace && this.options.paceTokenRequests ? await pace() : undefined;
    let response: Response;
    try {
      response = await fetch(this.url('/auth/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: this.options.username, password: this.options.password }),
        signal: this.requestSignal(signal),
      });
    } catch (error) {
      throw new ProviderUnavailableError(`seed004 /auth/token: ${error instanceof Error ? error.message : String(error)}`, 'not-sent');
    } finally {
      void departure?.answered();
    }
    if (response.status === 429) throw new ProviderRateLimitedError(parseRetryAfter(response.headers.get('retry-after')) ?? 10_000);
    if (response.status >= 500) throw new ProviderUnavailableError(`seed004 /auth/token answered ${response.status}`, 'not-sent');
    if (!response.ok) throw new Seed004AuthError(`seed004 refused the credentials (${response.status}); check SEED004_USERNAME / SEED004_PASSWORD`);
    const { access_token: token } = (await response.json()) as { access_token: string };
    const exp = decodeJwt(token).exp;
    await this.options.secrets.put(TOKEN_SECRET, token, exp ? new Date(exp * 1000) : null);
    this.tokensFetched += 1;
    return token;
  }

  /** Each request ends at its own timeout, or earlier when the caller's attempt is over. */
  private requestSignal(signal?: AbortSignal): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), ...(signal ? [signal] : [])]);
  }

  /** The shared token, unless it expires within a minute. */
  async token(forceRenew = false, signal?: AbortSignal, pace?: Pace): Promise<string> {
    if (!forceRenew) {
      const stored = await this.options.secrets.get(TOKEN_SECRET);
      if (stored && (!stored.expiresAt || stored.expiresAt.getTime() - Date.now() > renewMargin(stored.value))) return stored.value;
    }
    return this.fetchToken(signal, pace);
  }

  async send(message: MailingMessage, signal?: AbortSignal, pace?: Pace): Promise<MailingSendResult> {
    // One send is up to four requests (token, send, renewed token, send); `signal` bounds them together,
    // and each counted one passes the pacer first (`pace`) and tells it when its answer came.
    let token = await this.token(false, signal, pace);
    for (let attempt = 1; ; attempt++) {
      const body = JSON.stringify(message);
      // Nothing between the pacer's gate and the request: it leaves as soon as it may.
      const departure = await pace?.();
      let response: Response;
      try {
        response = await fetch(this.url('/send-email'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body,
          signal: this.requestSignal(signal),
        });
      } catch (error) {
        // The request may have reached the API: the outcome is unknown.
        throw new ProviderUnavailableError(`seed004 /send-email: ${error instanceof Error ? error.message : String(error)}`, 'unknown');
      } finally {
        // The answer (its status line and headers) came, or the request failed: the provider counted it by
        // now. Recorded in the background (until it is, its lane is only held longer).
        void departure?.answered();
      }
      if ((response.status === 401 || response.status === 403) && attempt === 1) {
        token = await this.token(true, signal, pace);
        continue;
      }
      if (response.status === 200 || response.status === 202) {
        const body = (await response.json()) as { message_id?: string };
        return { messageId: body.message_id ?? '' };
      }
      // A validation error may echo the input, and the body carries the recipient's token: keep it out.
      const detail = (await response.text().catch(() => '')).replaceAll(message.body, '[body]').slice(0, 300);
      if (response.status === 429) throw new ProviderRateLimitedError(parseRetryAfter(response.headers.get('retry-after')) ?? 10_000);
      if (response.status === 400 || response.status === 422)
        throw new RecipientRefusedError(`seed004 refused the message (${response.status}): ${detail}`, response.status);
      if (response.status === 401 || response.status === 403) throw new Seed004AuthError(`seed004 refused a fresh token (${response.status})`);
      throw new ProviderUnavailableError(`seed004 answered ${response.status}: ${detail}`, response.status >= 500 ? 'not-sent' : 'unknown');
    }
  }
}
