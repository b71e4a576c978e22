// What the identity platform remembers: authorization codes, grants (one per consent), refresh tokens
// and access tokens. Access tokens are opaque strings looked up here, so revoking a grant takes effect
// on Graph at once.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** One tenant for every simulated user, so homeAccountId is always `<oid>.<TENANT_ID>`. */
export const TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
const GRAPH = 'https://graph.microsoft.com/';
export const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const CODE_LIFETIME_MS = 10 * 60_000;

export interface AuthCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scopes: string[];
  mailboxId: string;
  nonce?: string;
  expiresAt: number;
  used: boolean;
}
export interface Grant {
  id: string;
  clientId: string;
  mailboxId: string;
  scopes: string[];
  revoked: boolean;
}
export interface AccessToken {
  grantId: string;
  mailboxId: string;
  expiresAt: number;
}

/** Graph scopes compare without their resource prefix and case: `Mail.Read` = `https://graph.microsoft.com/mail.read`. */
export function scopeKey(scope: string): string {
  const lower = scope.toLowerCase();
  return lower.startsWith(GRAPH) ? lower.slice(GRAPH.length) : lower;
}

export function parseScopes(value: string | undefined): string[] {
  return [...new Set((value ?? '').split(/\s+/).filter(Boolean))];
}

export const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export class Grants {
  private codes = new Map<string, AuthCode>();
  private grants = new Map<string, Grant>();
  private refreshTokens = new Map<string, string>(); // token → grant id
  private accessTokens = new Map<string, AccessToken>();

  issueCode(code: Omit<AuthCode, 'expiresAt' | 'used'>): string {
    const value = `M.C5${randomBytes(32).toString('base64url')}`;
    this.codes.set(value, { ...code, expiresAt: Date.now() + CODE_LIFETIME_MS, used: false });
    if (this.codes.size > 10_000) this.sweep();
    return value;
  }

  code(value: string): AuthCode | undefined {
    return this.codes.get(value);
  }

  grant(id: string): Grant | undefined {
    return this.grants.get(id);
  }

  createGrant(clientId: string, mailboxId: string, scopes: string[]): Grant {
    const grant: Grant = { id: randomUUID(), clientId, mailboxId, scopes, revoked: false };
    this.grants.set(grant.id, grant);
    return grant;
  }

  /** The grant behind a refresh token. Rotation keeps older refresh tokens valid, as AAD does: an engine
   * that lost a refresh response to a network error can still use the token it has. */
  grantByRefreshToken(token: string): Grant | undefined {
    const id = this.refreshTokens.get(token);
    return id ? this.grants.get(id) : undefined;
  }

  issueTokens(grant: Grant, lifetimeSeconds: number): { accessToken: string; refreshToken: string } {
    const accessToken = `EwB${randomBytes(48).toString('base64url')}`;
    const refreshToken = `M.C5_RT${randomBytes(48).toString('base64url')}`;
    this.accessTokens.set(accessToken, { grantId: grant.id, mailboxId: grant.mailboxId, expiresAt: Date.now() + lifetimeSeconds * 1000 });
    this.refreshTokens.set(refreshToken, grant.id);
    if (this.accessTokens.size > 50_000) this.sweep();
    return { accessToken, refreshToken };
  }

  /** The mailbox a bearer token speaks for, if the token is known, unexpired and its grant unrevoked. */
  authenticate(accessToken: string): AccessToken | undefined {
    const token = this.accessTokens.get(accessToken);
    if (!token) return undefined;
    if (token.expiresAt <= Date.now() || this.grants.get(token.grantId)?.revoked !== false) return undefined;
    return token;
  }

  revokeMailbox(mailboxId: string): number {
    let revoked = 0;
    for (const grant of this.grants.values()) {
      if (grant.mailboxId === mailboxId && !grant.revoked) {
        grant.revoked = true;
        revoked += 1;
      }
    }
    return revoked;
  }

  reset(): void {
    this.codes.clear();
    this.grants.clear();
    this.refreshTokens.clear();
    this.accessTokens.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [value, code] of this.codes) if (code.used || code.expiresAt < now) this.codes.delete(value);
    for (const [value, token] of this.accessTokens) if (token.expiresAt < now) this.accessTokens.delete(value);
  }
}

/** An unsigned id_token (alg none): MSAL reads its claims without checking a signature. */
export function idToken(claims: { clientId: string; oid: string; name: string; address: string; nonce?: string; lifetimeSeconds: number }): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({
    aud: claims.clientId,
    iss: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
    iat: now,
    nbf: now,
    exp: now + claims.lifetimeSeconds,
    name: claims.name,
    oid: claims.oid,
    preferred_username: claims.address,
    sub: createHash('sha256').update(`${claims.oid}|${claims.clientId}`).digest('base64url').slice(0, 43),
    tid: TENANT_ID,
    ver: '2.0',
    ...(claims.nonce ? { nonce: claims.nonce } : {}),
  })}.`;
}

export const clientInfo = (oid: string) => Buffer.from(JSON.stringify({ uid: oid, utid: TENANT_ID })).toString('base64url');
