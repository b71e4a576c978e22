// Linking an Outlook mailbox to a local account: the authorization code flow with PKCE (S256).
// `begin` stores a one-time state bound to the account, the key that asked and the address the sign-in
// must end in (only the state's hash, with the PKCE verifier sealed to it) and returns Microsoft's
// sign-in URL. `complete` runs on the callback: it consumes the state (once, before it expires), refuses
// it if the key that asked has been revoked since, exchanges the code, reads /me, refuses another mailbox
// than the one asked for, stores the mailbox with its sealed token cache in one transaction, and only
// then starts (or re-links) its sync workflow, so the workflow always reads the tokens just stored. Any
// failure leaves nothing newly linked.
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

export type LinkFailure =
  'invalid_state' | 'used_state' | 'expired_state' | 'revoked' | 'denied' | 'wrong_mailbox' | 'provider_error' | 'unlinking' | 'sync_unavailable';

export class LinkError extends Error {
  constructor(
    readonly failure: LinkFailure,
    message: string,
    readonly callbackUrl?: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export interface LinkContext {
  db: Database;
  encryptor: Encryptor;
  config: Config;
  settings: OutlookAuthSettings;
}

const verifierAad = (stateHash: string) => `oauth-state:${stateHash}`;

/**
 * `credential` names the key that asks (api/auth/api-keys.ts); `expectedAddress` is the mailbox the sign-in
 * must end in (the login hint, or the account's email), or null when any address will do.
 */
export async function beginOutlookLink(
  ctx: LinkContext,
  input: {
    account: AccountRow;
    owner: string;
    credential: string;
    callbackUrl: string;
    loginHint?: string;
    expectedAddress: string | null;
  },
): Promise<{ authorizationUrl: string; expiresAt: Date }> {
  const state = randomBytes(32).toString('base64url');
  const stateHash = sha256Hex(state);
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const expiresAt = new Date(Date.now() + ctx.config.OAUTH_STATE_TTL_SECONDS * 1000);
  // Abandoned sign-ins are swept here, by age; the index on expires_at keeps it cheap.
  await ctx.db.delete(oauthStates).where(lt(oauthStates.expiresAt, sql`now() - interval '1 day'`));
  await ctx.db.insert(oauthStates).values({
    stateHash,
    provider: 'outlook',
    accountId: input.account.id,
    owner: input.owner,
    credential: input.credential,
    expectedAddress: input.expectedAddress,
    codeVerifierSealed: ctx.encryptor.encrypt(verifier, verifierAad(stateHash)),
    callbackUrl: input.callbackUrl,
    expiresAt,
  });
  const authorizationUrl = await createMsalApp(ctx.settings).getAuthCodeUrl({
    scopes: OUTLOOK_SCOPES,
    redirectUri: ctx.settings.redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    state,
    ...(input.loginHint ? { loginHint: input.loginHint } : {}),
  });
  return { authorizationUrl, expiresAt };
}

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
}

/** Takes the state once; says precisely why when it cannot. */
async function consumeState(db: Database, state: string | undefined) {
  if (!state) throw new LinkError('invalid_state', 'The sign-in response carried no state, so it cannot be matched to a request.');
  const stateHash = sha256Hex(state);
  const [row] = await db
    .update(oauthStates)
    .set({ usedAt: new Date() })
    .where(and(eq(oauthStates.stateHash, stateHash), isNull(oauthStates.usedAt)))
    .returning();
  if (!row) {
    const [used] = await db.select({ usedAt: oauthStates.usedAt }).from(oauthStates).where(eq(oauthStates.stateHash, stateHash));
    if (used) throw new LinkError('used_state', 'This sign-in response was already used. Start the link again from the application.');
    throw new LinkError('invalid_state', 'This sign-in response does not match any sign-in this server started (it may have been altered).');
  }
  if (row.expiresAt.getTime() < Date.now())
    throw new LinkError('expired_state', 'This sign-in took too long and expired. Start the link again from the application.', row.callbackUrl);
  return { row, stateHash };
}

interface GraphMe {
  id: string;
  mail?: string | null;
  userPrincipalName?: string;
  displayName?: string | null;
}

/** /me, waiting out a short throttle (the user is waiting on the callback page) but not a long one. */
async function readProfile(config: Config, accessToken: string): Promise<GraphMe> {
  const graph = createGraphClient({ graphUrl: config.OUTLOOK_GRAPH_URL, timeoutMs: config.GRAPH_TIMEOUT_MS });
  for (let attempt = 1; ; attempt++) {
    try {
      return (await withToken(graph.api(`${GRAPH_ORIGIN}/v1.0/me`), accessToken)
        .select(['id', 'mail', 'userPrincipalName', 'displayName'])
        .get()) as GraphMe;
    } catch (error) {
      const mapped = classifyGraphError(error);
      if (!(mapped instanceof ThrottledError) || mapped.retryAfterMs > 5_000 || attempt >= 3) throw mapped;
      await sleep(mapped.retryAfterMs);
    }
  }
}

export interface LinkedMailbox {
  mailboxId: string;
  accountId: string;
  created: boolean;
  callbackUrl: string;
}

export interface LinkHooks {
  /** Whether the credential that started the sign-in is still valid (not revoked, its tenant enabled). */
  credentialValid: (credential: string) => Promise<boolean>;
  /** Starts the mailbox's sync, or wakes it with the new tokens (a re-link). */
  startSync: (mailbox: { id: string; accountId: string }) => Promise<unknown>;
}

/** The signed-in mailbox is the one asked for: its mail address or its sign-in name, in any case. */
function isExpected(me: GraphMe, expected: string): boolean {
  const want = expected.trim().toLowerCase();
  return [me.mail, me.userPrincipalName].some((a) => a?.trim().toLowerCase() === want);
}

export async function completeOutlookLink(ctx: LinkContext, query: CallbackQuery, hooks: LinkHooks): Promise<LinkedMailbox> {
  const { row, stateHash } = await consumeState(ctx.db, query.state);
  if (!(await hooks.credentialValid(row.credential))) {
    throw new LinkError(
      'revoked',
      'The API key that started this sign-in has been revoked (or its tenant disabled) since, so nothing was linked.',
      row.callbackUrl,
    );
  }
  if (query.error) {
    if (query.error === 'access_denied')
      throw new LinkError('denied', 'Access to the mailbox was declined on the Microsoft sign-in page, so nothing was linked.', row.callbackUrl);
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
  if (row.expectedAddress !== null && !isExpected(me, row.expectedAddress)) {
    throw new LinkError(
      'wrong_mailbox',
      `You signed in as ${address || 'another mailbox'}, but this link was for ${row.expectedAddress}, so nothing was linked. Sign in as ${row.expectedAddress}, or start the link again allowing any address.`,
      row.callbackUrl,
    );
  }
  const tokenCache = msal.getTokenCache().serialize();

  const linked = await ctx.db.transaction(async (tx) => {
    const id = newId('mbx');
    const [mailbox] = await tx
      .insert(mailboxes)
      .values({
        id,
        accountId: row.accountId,
        owner: row.owner,
        provider: 'outlook',
        externalId: me.id,
        homeAccountId,
        address,
        displayName: me.displayName ?? null,
        status: 'LINKED',
        workflowId: mailboxSyncWorkflowId(id),
      })
      .onConflictDoUpdate({
        target: [mailboxes.accountId, mailboxes.provider, mailboxes.externalId],
        set: {
          homeAccountId,
          address,
          displayName: me.displayName ?? null,
          linkedAt: new Date(),
          updatedAt: new Date(),
          lastError: null,
          lastErrorAt: null,
          // A re-link ends REAUTH_REQUIRED on the row too: a run that starts from the row (no carried state) goes on.
          status: sql`case when ${mailboxes.status} = 'REAUTH_REQUIRED' then 'LINKED'::mailbox_status else ${mailboxes.status} end`,
        },
      })
      .returning({ id: mailboxes.id, status: mailboxes.status, created: sql<boolean>`(xmax = 0)` });
    if (mailbox!.status === 'UNLINKING') throw new LinkError('unlinking', 'This mailbox is being unlinked; link it again in a moment.', row.callbackUrl);
    // The cache is written with the row: the mailbox never exists without its tokens.
    await new SecretStore(tx as unknown as Database, ctx.encryptor).put(tokenCacheName(mailbox!.id), tokenCache);
    return { mailboxId: mailbox!.id, accountId: row.accountId, created: mailbox!.created, callbackUrl: row.callbackUrl };
  });
  // After commit: the workflow, woken or started, reads the tokens just stored. If Temporal refuses, a new
  // link is taken back (its row and tokens); a re-link keeps its new tokens and can simply be retried.
  try {
    await hooks.startSync({ id: linked.mailboxId, accountId: linked.accountId });
  } catch {
    if (linked.created) {
      await ctx.db.delete(mailboxes).where(eq(mailboxes.id, linked.mailboxId));
      await new SecretStore(ctx.db, ctx.encryptor).delete(tokenCacheName(linked.mailboxId));
    }
    throw new LinkError(
      'sync_unavailable',
      'The mailbox could not be linked right now (its sync could not be started); try again in a moment.',
      linked.callbackUrl,
    );
  }
  return linked;
}
