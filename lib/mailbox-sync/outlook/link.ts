// Linking an Outlook mailbox to a local account: the authorization code flow with PKCE (S256).
// `begin` stores a one-time state bound to the account and the key that asked (only its hash, with the
// PKCE verifier sealed to it) and returns Microsoft's sign-in URL. `complete` runs on the callback: it
// consumes the state (once, before it expires), exchanges the code, reads /me, and in one transaction
// stores the mailbox with its sealed token cache and starts (or re-links) its sync workflow. Any
// failure leaves nothing linked.
import { randomBytes } from 'node:crypto';
import { CryptoProvider } from '@azure/msal-node';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { mailboxes, oauthStates } from '../../../db/schema/index.js';
import type { Config } from '../../config.js';
import { sha256Hex, type Encryptor } from '../../crypto.js';
import { newId } from '../../ids.js';
import { SecretStore } from '../../secret-store.js';
import type { AccountRow } from '../../accounts/accounts.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottledError } from '../provider.js';
import { createGraphClient, GRAPH_ORIGIN, withToken } from './graph-client.js';
import { classifyGraphError } from './provider.js';
import { createMsalApp, OUTLOOK_SCOPES, type OutlookAuthSettings } from './msal.js';
import { tokenCacheName } from './token-cache.js';
import { mailboxSyncWorkflowId } from '../start-workflow.js';

export type LinkFailure = 'invalid_state' | 'used_state' | 'expired_state' | 'denied' | 'provider_error' | 'unlinking';

export class LinkError extends Error {
  constructor(readonly failure: LinkFailure, message: string, readonly callbackUrl?: string) {
    super(message);
    this.name = 'LinkError';
  }
}

export interface LinkContext { db: Database; encryptor: Encryptor; config: Config; settings: OutlookAuthSettings }

const verifierAad = (stateHash: string) => `oauth-state:${stateHash}`;

export async function beginOutlookLink(ctx: LinkContext, input: { account: AccountRow; owner: string; callbackUrl: string; loginHint?: string }): Promise<{ authorizationUrl: string; expiresAt: Date }> {
  const state = randomBytes(32).toString('base64url');
  const stateHash = sha256Hex(state);
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const expiresAt = new Date(Date.now() + ctx.config.OAUTH_STATE_TTL_SECONDS * 1000);
  // Abandoned sign-ins are swept here, by age; the index on expires_at keeps it cheap.
  await ctx.db.delete(oauthStates).where(lt(oauthStates.expiresAt, sql`now() - interval '1 day'`));
  await ctx.db.insert(oauthStates).values({
    stateHash, provider: 'outlook', accountId: input.account.id, owner: input.owner,
    codeVerifierSealed: ctx.encryptor.encrypt(verifier, verifierAad(stateHash)), callbackUrl: input.callbackUrl, expiresAt,
  });
  const authorizationUrl = await createMsalApp(ctx.settings).getAuthCodeUrl({
    scopes: OUTLOOK_SCOPES, redirectUri: ctx.settings.redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state,
    ...(input.loginHint ? { loginHint: input.loginHint } : {}),
  });
  return { authorizationUrl, expiresAt };
}

export interface CallbackQuery { code?: string; state?: string; error?: string; error_description?: string }

/** Takes the state once; says precisely why when it cannot. */
async function consumeState(db: Database, state: string | undefined) {
  if (!state) throw new LinkError('invalid_state', 'The sign-in response carried no state, so it cannot be matched to a request.');
  const stateHash = sha256Hex(state);
  const [row] = await db.update(oauthStates).set({ usedAt: new Date() })
    .where(and(eq(oauthStates.stateHash, stateHash), isNull(oauthStates.usedAt))).returning();
  if (!row) {
    const [used] = await db.select({ usedAt: oauthStates.usedAt }).from(oauthStates).where(eq(oauthStates.stateHash, stateHash));
    if (used) throw new LinkError('used_state', 'This sign-in response was already used. Start the link again from the application.');
    throw new LinkError('invalid_state', 'This sign-in response does not match any sign-in this server started (it may have been altered).');
  }
  if (row.expiresAt.getTime() < Date.now()) throw new LinkError('expired_state', 'This sign-in took too long and expired. Start the link again from the application.', row.callbackUrl);
  return { row, stateHash };
}

interface GraphMe { id: string; mail?: string | null; userPrincipalName?: string; displayName?: string | null }

/** /me, waiting out a short throttle (the user is waiting on the callback page) but not a long one. */
async function readProfile(config: Config, accessToken: string): Promise<GraphMe> {
  const graph = createGraphClient({ graphUrl: config.OUTLOOK_GRAPH_URL, timeoutMs: config.GRAPH_TIMEOUT_MS });
  for (let attempt = 1; ; attempt++) {
    try {
      return await withToken(graph.api(`${GRAPH_ORIGIN}/v1.0/me`), accessToken).select(['id', 'mail', 'userPrincipalName', 'displayName']).get() as GraphMe;
    } catch (error) {
      const mapped = classifyGraphError(error);
      if (!(mapped instanceof ThrottledError) || mapped.retryAfterMs > 5_000 || attempt >= 3) throw mapped;
      await sleep(mapped.retryAfterMs);
    }
  }
}

export interface LinkedMailbox { mailboxId: string; accountId: string; created: boolean; callbackUrl: string }

export async function completeOutlookLink(
  ctx: LinkContext,
  query: CallbackQuery,
  startSync: (mailbox: { id: string; accountId: string }) => Promise<unknown>,
): Promise<LinkedMailbox> {
  const { row, stateHash } = await consumeState(ctx.db, query.state);
  if (query.error) {
    if (query.error === 'access_denied') throw new LinkError('denied', 'Access to the mailbox was declined on the Microsoft sign-in page, so nothing was linked.', row.callbackUrl);
    throw new LinkError('provider_error', `Microsoft could not complete the sign-in (${query.error.slice(0, 64)}).`, row.callbackUrl);
  }
  if (!query.code) throw new LinkError('provider_error', 'Microsoft returned no authorization code.', row.callbackUrl);
  const codeVerifier = ctx.encryptor.decrypt(row.codeVerifierSealed, verifierAad(stateHash));

  const msal = createMsalApp(ctx.settings);
  let accessToken: string;
  let homeAccountId: string | null;
  try {
    const result = await msal.acquireTokenByCode({ code: query.code, codeVerifier, redirectUri: ctx.settings.redirectUri, scopes: OUTLOOK_SCOPES });
    accessToken = result.accessToken;
    homeAccountId = result.account?.homeAccountId ?? null;
  } catch (error) {
    const code = (error as { errorCode?: string }).errorCode ?? 'unknown_error';
    throw new LinkError('provider_error', `Microsoft refused to exchange the sign-in code (${code.slice(0, 64)}).`, row.callbackUrl);
  }
  const me = await readProfile(ctx.config, accessToken).catch(() => {
    throw new LinkError('provider_error', 'Microsoft Graph did not return the signed-in mailbox.', row.callbackUrl);
  });
  const address = me.mail ?? me.userPrincipalName ?? '';
  const tokenCache = msal.getTokenCache().serialize();

  return ctx.db.transaction(async (tx) => {
    const id = newId('mbx');
    const [mailbox] = await tx.insert(mailboxes).values({
      id, accountId: row.accountId, owner: row.owner, provider: 'outlook', externalId: me.id, homeAccountId,
      address, displayName: me.displayName ?? null, status: 'LINKED', workflowId: mailboxSyncWorkflowId(id),
    }).onConflictDoUpdate({
      target: [mailboxes.accountId, mailboxes.provider, mailboxes.externalId],
      set: { homeAccountId, address, displayName: me.displayName ?? null, linkedAt: new Date(), updatedAt: new Date(), lastError: null, lastErrorAt: null },
    }).returning({ id: mailboxes.id, status: mailboxes.status, created: sql<boolean>`(xmax = 0)` });
    if (mailbox!.status === 'UNLINKING') throw new LinkError('unlinking', 'This mailbox is being unlinked; link it again in a moment.', row.callbackUrl);
    // The cache is written in the same transaction: the workflow never starts without its tokens, and
    // if Temporal refuses the start, nothing is linked.
    await new SecretStore(tx as unknown as Database, ctx.encryptor).put(tokenCacheName(mailbox!.id), tokenCache);
    await startSync({ id: mailbox!.id, accountId: row.accountId });
    return { mailboxId: mailbox!.id, accountId: row.accountId, created: mailbox!.created, callbackUrl: row.callbackUrl };
  });
}
