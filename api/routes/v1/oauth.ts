// Where Microsoft sends the browser back after sign-in (public: the one-time state authenticates it).
// Success links the mailbox, starts its sync and redirects to the application's callback URL; any
// failure ends on a page that says what happened, with nothing linked.
import { z } from '@hono/zod-openapi';
import { outlookAuthSettings } from '../../../lib/mailbox-sync/outlook/msal.js';
import { completeOutlookLink, LinkError, type LinkFailure } from '../../../lib/mailbox-sync/outlook/link.js';
import { principalOfCredential } from '../../auth/api-keys.js';
import { signalMailboxSync } from '../../../lib/mailbox-sync/start-workflow.js';
import { linkErrorPage } from '../../mailboxes/oauth-page.js';
import { createRouter, routesTagged } from '../../openapi.js';

const route = routesTagged('Accounts');

const htmlPage = { 'text/html': { schema: z.string() } };
const statusOf: Record<LinkFailure, 400 | 403 | 409 | 502 | 503> = {
  invalid_state: 400,
  used_state: 400,
  expired_state: 400,
  denied: 400,
  wrong_mailbox: 400,
  revoked: 403,
  unlinking: 409,
  provider_error: 502,
  sync_unavailable: 503,
};
// What Microsoft sends back: URL-safe tokens (code, state, client_info) and printable ASCII text (error and
// its description); nothing else, and no NUL (PostgreSQL text cannot hold one).
const token = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\w.~*+/=:-]*$/, 'not a token')
    .optional();
const text = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\t\n\r -~]*$/, 'printable ASCII only')
    .optional();

export const oauthRoutes = createRouter().openapi(
  route.get('/v1/oauth/outlook/callback', 'outlookOAuthCallback', 'public', {
    summary: "Microsoft's redirect after sign-in (public; the one-time state authenticates it)",
    request: {
      query: z.object({
        code: token(4_000),
        state: token(200),
        error: text(200),
        error_description: text(2_000),
        session_state: token(200),
        client_info: token(2_000),
      }),
    },
    responses: {
      302: { description: 'Linked: redirect to the callback URL with mailboxId, accountId and status=linked' },
      400: {
        description: 'A tampered, replayed or expired state, declined consent, or another mailbox than the one asked for: an error page',
        content: htmlPage,
      },
      403: { description: 'The API key that started the sign-in was revoked since (or its tenant disabled): an error page', content: htmlPage },
      409: { description: 'The mailbox is being unlinked: an error page', content: htmlPage },
      502: { description: 'Microsoft failed the exchange: an error page', content: htmlPage },
      503: { description: 'Outlook is not configured, or the sync could not be started: an error page', content: htmlPage },
    },
  }),
  async (c) => {
    const { deps } = c.var;
    const settings = outlookAuthSettings(deps.config);
    if (!settings) return c.html(linkErrorPage('Outlook linking is not configured on this server.'), 503);
    const query = c.req.valid('query');
    try {
      const linked = await completeOutlookLink({ db: deps.db, encryptor: deps.encryptor, config: deps.config, settings }, query, {
        credentialValid: async (credential) => (await principalOfCredential(deps.db, deps.config.ADMIN_API_KEY, credential)) !== undefined,
        startSync: (mailbox) => signalMailboxSync(deps.temporal, deps.config, mailbox, 'relink'),
      });
      c.var.logger.info({ mailboxId: linked.mailboxId, accountId: linked.accountId, created: linked.created }, 'outlook mailbox linked');
      const target = new URL(linked.callbackUrl);
      target.searchParams.set('mailboxId', linked.mailboxId);
      target.searchParams.set('accountId', linked.accountId);
      target.searchParams.set('status', 'linked');
      return c.redirect(target.toString(), 302);
    } catch (error) {
      if (!(error instanceof LinkError)) throw error;
      c.var.logger.warn({ failure: error.failure }, 'outlook link failed');
      return c.html(linkErrorPage(error.message, error.callbackUrl), statusOf[error.failure]);
    }
  },
  (result, c) => {
    // A browser lands here: a malformed answer gets the error page too, not a JSON problem.
    if (!result.success) return c.html(linkErrorPage('The sign-in answer was malformed; nothing was linked.'), 400);
  },
);
