// Local accounts, linking their Outlook and IMAP mailboxes, and reading their synced mail. Every route is scoped
// to the tenant that owns the account: another tenant's account answers 404.
import { z } from '@hono/zod-openapi';
import { createAccount, findAccount, listAccounts, type AccountRow } from '../../../lib/accounts/accounts.js';
import { callbackAllowlist, isAllowedCallback } from '../../../lib/mailbox-sync/callback-allowlist.js';
import { listAccountMailboxes, mailboxSummary } from '../../../lib/mailbox-sync/mailboxes.js';
import { searchAccountMessages } from '../../../lib/mailbox-sync/messages.js';
import { imapNetworkPolicy, type ImapNetworkPolicy } from '../../../lib/mailbox-sync/imap/connection.js';
import { ImapLinkError, linkImapMailbox } from '../../../lib/mailbox-sync/imap/link.js';
import { outlookAuthSettings } from '../../../lib/mailbox-sync/outlook/msal.js';
import { signalMailboxSync } from '../../../lib/mailbox-sync/start-workflow.js';
import type { Config } from '../../../lib/config.js';
import { principalOfCredential } from '../../auth/api-keys.js';
import { beginOutlookLink } from '../../../lib/mailbox-sync/outlook/link.js';
import { tenantOf } from '../../auth/tenant.js';
import type { AppDeps, Principal } from '../../context.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { accountIdParam, accountSchema, imapLinkProblemSchema, imapLinkRequestSchema, mailboxSummarySchema, messageSchema } from '../../mailboxes/schemas.js';
import { byId, createRouter, foundOr404, json, jsonBody, pageLimit, pageOf, pageResponses, routesTagged } from '../../openapi.js';

const route = routesTagged('Accounts');

const accountView = (a: AccountRow) => ({ id: a.id, email: a.email, displayName: a.displayName, createdAt: a.createdAt.toISOString() });

async function ownedAccount(deps: AppDeps, principal: Principal | undefined, id: string): Promise<AccountRow> {
  const account = await findAccount(deps.db, tenantOf(principal), id);
  if (!account) throw new AppError('not_found', `no account ${id}`);
  return account;
}

/** The account (of the key's tenant) and its linked mailboxes, as the API shows them. */
async function accountWithMailboxes(deps: AppDeps, principal: Principal | undefined, id: string) {
  const account = await ownedAccount(deps, principal, id);
  return { account, mailboxes: (await listAccountMailboxes(deps.db, account.id)).map(mailboxSummary) };
}

/** The IMAP network policy of a config, built once (it reads IMAP_CA_FILE). */
const imapPolicies = new WeakMap<Config, ImapNetworkPolicy>();
function imapPolicy(config: Config): ImapNetworkPolicy {
  let policy = imapPolicies.get(config);
  if (!policy) imapPolicies.set(config, (policy = imapNetworkPolicy(config)));
  return policy;
}

const imapLinkFailure = (description: string) => ({ description, content: { 'application/problem+json': { schema: imapLinkProblemSchema } } });

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

export const accountRoutes = createRouter()
  .openapi(
    route.post('/v1/accounts', 'createAccount', 'send', {
      summary: 'Create a local account; its id goes on every mailbox and message synced for it',
      request: {
        body: jsonBody(
          z
            .object({
              email: z.string().trim().email().max(320).openapi({ example: 'jane@contoso.example' }),
              displayName: z.string().trim().min(1).max(200).optional().openapi({ example: 'Jane Doe' }),
            })
            .strict()
            .openapi('AccountRequest'),
        ),
      },
      responses: {
        201: { description: 'Created', content: json(accountSchema) },
        409: errorResponse(409, 'This tenant already has an account with this email'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const account = await createAccount(c.var.deps.db, tenantOf(c.var.principal), body);
      c.var.logger.info({ accountId: account.id }, 'account created');
      return c.json(accountView(account), 201);
    },
  )
  .openapi(
    route.get('/v1/accounts', 'listAccounts', 'read', {
      summary: "This tenant's accounts, newest first",
      request: {
        query: z.object({
          limit: pageLimit(100, 20),
          cursor: z
            .string()
            .regex(/^acc_[0-9a-z]{26}$/)
            .optional(),
        }),
      },
      responses: pageResponses('Accounts', accountSchema),
    }),
    async (c) => {
      const page = await listAccounts(c.var.deps.db, tenantOf(c.var.principal), c.req.valid('query'));
      return c.json({ data: page.data.map(accountView), nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    route.get('/v1/accounts/{id}', 'getAccount', 'read', {
      summary: 'An account and its linked mailboxes',
      ...byId(accountIdParam, 'The account', accountSchema.extend({ mailboxes: z.array(mailboxSummarySchema) })),
    }),
    async (c) => {
      const { account, mailboxes } = await accountWithMailboxes(c.var.deps, c.var.principal, c.req.valid('param').id);
      return c.json({ ...accountView(account), mailboxes }, 200);
    },
  )
  .openapi(
    route.post('/v1/accounts/{id}/mailboxes/outlook', 'linkOutlookMailbox', 'send', {
      summary: 'Start linking an Outlook mailbox: returns the Microsoft sign-in URL to send the user to',
      description:
        'Authorization code flow with PKCE. After sign-in Microsoft redirects to /v1/oauth/outlook/callback, which links the mailbox, starts its sync and redirects to `callbackUrl` with `mailboxId`, `accountId` and `status=linked`. `callbackUrl` must start with a prefix in OAUTH_CALLBACK_ALLOWLIST. The sign-in is valid for OAUTH_STATE_TTL_SECONDS and once only.',
      request: {
        params: accountIdParam,
        body: jsonBody(
          z
            .object({
              callbackUrl: z.string().max(2_000).openapi({ example: 'http://localhost:3000/web/accounts.html' }),
              loginHint: z
                .string()
                .trim()
                .email()
                .max(320)
                .optional()
                .openapi({ description: 'Prefills the Microsoft sign-in; defaults to the account email' }),
              allowAnyAddress: z.boolean().default(false).openapi({
                description:
                  'Link whichever mailbox the user signs in to. By default the sign-in must end in `loginHint` (or the account email), and another mailbox is refused on the error page.',
              }),
            })
            .strict()
            .openapi('OutlookLinkRequest'),
        ),
      },
      responses: {
        201: {
          description: 'Sign-in started',
          content: json(z.object({ authorizationUrl: z.string().url(), expiresAt: z.string().datetime() }).openapi('OutlookLinkStarted')),
        },
        404: errorResponses[404],
        503: errorResponse(503, 'Outlook is not configured on this server'),
      },
    }),
    async (c) => {
      const { deps } = c.var;
      const account = await ownedAccount(deps, c.var.principal, c.req.valid('param').id);
      const body = c.req.valid('json');
      if (!isAllowedCallback(body.callbackUrl, callbackAllowlist(deps.config))) {
        throw new AppError('validation', 'callbackUrl is not on the allow-list (OAUTH_CALLBACK_ALLOWLIST)', {
          errors: [{ path: 'callbackUrl', message: 'not an allowed callback URL' }],
        });
      }
      const settings = outlookAuthSettings(deps.config);
      if (!settings) throw new AppError('unavailable', 'Outlook linking is not configured (OUTLOOK_CLIENT_ID and OUTLOOK_CLIENT_SECRET)');
      const started = await beginOutlookLink(
        { db: deps.db, encryptor: deps.encryptor, config: deps.config, settings },
        {
          account,
          owner: tenantOf(c.var.principal),
          credential: c.var.principal!.credential,
          callbackUrl: body.callbackUrl,
          loginHint: body.loginHint ?? account.email,
          expectedAddress: body.allowAnyAddress ? null : (body.loginHint ?? account.email),
        },
      );
      c.var.logger.info({ accountId: account.id }, 'outlook link started');
      return c.json({ authorizationUrl: started.authorizationUrl, expiresAt: started.expiresAt.toISOString() }, 201);
    },
  )
  .openapi(
    route.post('/v1/accounts/{id}/mailboxes/imap', 'linkImapMailbox', 'send', {
      summary: 'Link an IMAP mailbox by its server and login: checked by logging in, then stored and synced',
      description:
        'Logs in to the server first (then out) and stores nothing unless that works; a failure answers with a `reason` and a `detail` naming the cause. The host must not be (or resolve to) a loopback, private, link-local or metadata address unless it is on IMAP_ALLOW_HOSTS; certificates are verified; `tls: none` only where IMAP_ALLOW_PLAINTEXT allows it. The password or token is stored sealed and never returned. The same login (username, host and port) linked again to the same account is a re-link: the new settings and secret replace the old ones and the sync goes on (this is how a mailbox in REAUTH_REQUIRED gets new credentials).',
      request: {
        params: accountIdParam,
        body: jsonBody(imapLinkRequestSchema),
      },
      responses: {
        200: { description: 'Re-linked: the mailbox the account already had, with the new settings', content: json(mailboxSummarySchema) },
        201: { description: 'Linked; its sync has started', content: json(mailboxSummarySchema) },
        401: errorResponse(401, 'Missing or invalid API key, or revoked while the login was checked (reason revoked)'),
        404: errorResponses[404],
        409: imapLinkFailure('The mailbox is being unlinked (reason unlinking); link it again in a moment'),
        422: imapLinkFailure(
          'The server refused the login, or could not be used: reason authentication, refused_address, plaintext, tls, unreachable, not_imap or server',
        ),
        429: errorResponse(429, 'Too many link attempts for this login on this server (IMAP_LINK_ATTEMPTS); Retry-After says when to try again'),
        503: imapLinkFailure(
          'The server asked to come back later (reason busy: too many connections, or unavailable), or its sync could not be started (reason sync_unavailable); nothing was linked, retry',
        ),
        504: imapLinkFailure('The server did not answer in time (reason timeout); nothing was linked'),
      },
    }),
    async (c) => {
      const { deps, principal } = c.var;
      const account = await ownedAccount(deps, principal, c.req.valid('param').id);
      const body = c.req.valid('json');
      const linked = await linkImapMailbox(
        {
          db: deps.db,
          encryptor: deps.encryptor,
          policy: imapPolicy(deps.config),
          attempts: { limit: deps.config.IMAP_LINK_ATTEMPTS, windowSeconds: deps.config.IMAP_LINK_ATTEMPTS_WINDOW_SECONDS },
        },
        {
          account,
          owner: tenantOf(principal),
          credential: principal!.credential,
          host: body.host,
          port: body.port ?? (body.tls === 'implicit' ? 993 : 143),
          tls: body.tls,
          username: body.username,
          ...(body.accessToken !== undefined ? { accessToken: body.accessToken } : { password: body.password! }),
        },
        {
          credentialValid: async (credential) => (await principalOfCredential(deps.db, deps.config.ADMIN_API_KEY, credential)) !== undefined,
          startSync: (mailbox) => signalMailboxSync(deps.temporal, deps.config, mailbox, 'relink'),
        },
      ).catch((error: unknown) => {
        if (error instanceof ImapLinkError) c.var.logger.warn({ accountId: account.id, failure: error.failure }, 'imap link failed');
        throw error;
      });
      c.var.logger.info({ accountId: account.id, mailboxId: linked.mailbox.id, created: linked.created }, 'imap mailbox linked');
      return c.json(mailboxSummary(linked.mailbox), linked.created ? 201 : 200);
    },
  )
  .openapi(
    route.get('/v1/accounts/{id}/mailboxes', 'listAccountMailboxes', 'read', {
      summary: "An account's linked mailboxes with their sync status",
      ...byId(accountIdParam, 'Mailboxes', z.object({ data: z.array(mailboxSummarySchema) })),
    }),
    async (c) => c.json({ data: (await accountWithMailboxes(c.var.deps, c.var.principal, c.req.valid('param').id)).mailboxes }, 200),
  )
  .openapi(
    route.get('/v1/accounts/{id}/messages', 'listAccountMessages', 'read', {
      summary: "An account's synced messages, newest first, with filters, a text query and cursor paging",
      request: {
        params: accountIdParam,
        query: z.object({
          mailboxId: z
            .string()
            .regex(/^mbx_[0-9a-z]{26}$/)
            .optional(),
          folderId: z.string().min(1).max(512).optional(),
          isRead: booleanQuery.optional().openapi({ type: 'string', enum: ['true', 'false'] }),
          flagged: booleanQuery.optional().openapi({ type: 'string', enum: ['true', 'false'] }),
          q: z.string().trim().min(1).max(200).optional().openapi({ description: 'Words matched in the subject, sender name and sender address' }),
          limit: pageLimit(200, 50),
          cursor: z.string().min(1).max(1_000).optional().openapi({ description: "From the previous page's nextCursor" }),
        }),
      },
      responses: foundOr404('Messages', pageOf(messageSchema)),
    }),
    async (c) => {
      const account = await ownedAccount(c.var.deps, c.var.principal, c.req.valid('param').id);
      const q = c.req.valid('query');
      const page = await searchAccountMessages(c.var.deps.db, c.var.deps.mailIndex, account.id, {
        limit: q.limit,
        ...(q.mailboxId ? { mailboxId: q.mailboxId } : {}),
        ...(q.folderId ? { folderId: q.folderId } : {}),
        ...(q.isRead !== undefined ? { isRead: q.isRead } : {}),
        ...(q.flagged !== undefined ? { flagged: q.flagged } : {}),
        ...(q.q ? { text: q.q } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return c.json(page, 200);
    },
  );
