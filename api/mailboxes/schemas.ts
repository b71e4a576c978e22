// The mailbox-sync API's shapes, shared by the account and mailbox routes (and the OpenAPI document).
import { isIP } from 'node:net';
import { z } from '@hono/zod-openapi';
import { problemSchema } from '../errors.js';

export const accountIdParam = z.object({
  id: z
    .string()
    .regex(/^acc_[0-9a-z]{26}$/, 'an account id (acc_…)')
    .openapi({ example: 'acc_01jd9z0000000000000000000a' }),
});
export const mailboxIdParam = z.object({
  id: z
    .string()
    .regex(/^mbx_[0-9a-z]{26}$/, 'a mailbox id (mbx_…)')
    .openapi({ example: 'mbx_01jd9z0000000000000000000a' }),
});

export const accountSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    displayName: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('Account');

const mailboxStatus = z.enum(['LINKED', 'SYNCING', 'LIVE', 'PAUSED', 'REAUTH_REQUIRED', 'UNLINKING']).openapi({
  description:
    'LINKED: just linked; SYNCING: initial sync (or a full resync); LIVE: following changes; PAUSED; REAUTH_REQUIRED: the provider refused the credentials (Microsoft the grant, the IMAP server the login), link again; UNLINKING',
});

const syncSchema = z.object({
  foldersTotal: z.number().int(),
  foldersSynced: z.number().int(),
  messagesIndexed: z.number().int().openapi({ description: 'Message documents written since linking (new and updated)' }),
  lastSyncAt: z.string().datetime().nullable().openapi({ description: 'When every folder last caught up' }),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().datetime().nullable(),
});

export const mailboxSummarySchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    provider: z.enum(['outlook', 'imap']).openapi({ description: 'outlook: linked by Microsoft sign-in; imap: by its server and login' }),
    address: z.string(),
    displayName: z.string().nullable(),
    status: mailboxStatus,
    workflowId: z.string(),
    linkedAt: z.string().datetime(),
    createdAt: z.string().datetime(),
    sync: syncSchema,
  })
  .openapi('MailboxSummary');

export const mailboxDetailSchema = mailboxSummarySchema
  .extend({
    sync: syncSchema.extend({
      messagesInIndex: z.number().int(),
      progress: z
        .object({
          mailboxId: z.string(),
          phase: z.enum(['INITIAL_SYNC', 'LIVE', 'PAUSED', 'REAUTH_REQUIRED', 'UNLINKING']),
          foldersTotal: z.number().int(),
          foldersDone: z.number().int(),
          messagesIndexed: z.number().int(),
          roundsCompleted: z.number().int(),
          lastRoundAt: z.string().datetime().nullable(),
          lastRoundMs: z.number().int().nullable(),
          lastError: z.string().nullable(),
          lastErrorAt: z.string().datetime().nullable(),
          requestsInFlight: z.number().int(),
        })
        .nullable()
        .openapi({ description: "The workflow's own progress query, when it answers within 2 s" }),
    }),
    folders: z.array(
      z.object({ id: z.string(), name: z.string(), parentId: z.string().nullable(), synced: z.boolean(), total: z.number().int(), unread: z.number().int() }),
    ),
  })
  .openapi('Mailbox');

const address = z.object({ name: z.string(), address: z.string() });
export const messageSchema = z
  .object({
    id: z.string().openapi({ description: "The provider's immutable message id" }),
    mailboxId: z.string(),
    folder: z.object({ id: z.string(), name: z.string() }),
    subject: z.string(),
    from: address.nullable(),
    to: z.array(address),
    cc: z.array(address),
    receivedAt: z.string().nullable(),
    isRead: z.boolean(),
    flagStatus: z.enum(['notFlagged', 'flagged', 'complete']),
    bodyPreview: z.string(),
    conversationId: z.string().nullable(),
    internetMessageId: z.string().nullable(),
    hasAttachments: z.boolean(),
    changeKey: z.string().nullable(),
    lastModifiedAt: z.string(),
  })
  .openapi('Message');

/** A DNS name (letters, digits, hyphens; an optional final dot), an IPv4 address, or an IPv6 address (brackets allowed). */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[?[0-9A-Fa-f:.]+\]?)$/;
const hasControl = (value: string) => [...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

/** Why the host is not one, or undefined: numbers and dots must be an IPv4 address, anything with a colon an IPv6 one. */
function hostProblem(host: string): string | undefined {
  if (host.includes(':')) return isIP(host.replace(/^\[(.*)\]$/, '$1')) === 6 ? undefined : 'not a valid IPv6 address';
  if (/^[\d.]+$/.test(host)) return isIP(host.replace(/\.$/, '')) === 4 ? undefined : 'not a valid IPv4 address';
  return undefined;
}

export const imapLinkRequestSchema = z
  .object({
    host: z
      .string()
      .trim()
      .min(1)
      .max(253)
      .regex(HOST, 'a host name (letters, digits, hyphens and dots) or an IP address')
      .openapi({ description: "The IMAP server's host name or IP address", example: 'imap.example.com' }),
    port: z.number().int().min(1).max(65535).optional().openapi({ description: 'Defaults to 993 with implicit TLS, 143 otherwise', example: 993 }),
    tls: z.enum(['implicit', 'starttls', 'none']).default('implicit').openapi({
      description:
        'implicit: TLS from the first byte (IMAPS, port 993); starttls: upgraded with STARTTLS (port 143), refused if the server does not offer it; none: no TLS, refused unless the server allows it (IMAP_ALLOW_PLAINTEXT)',
      example: 'implicit',
    }),
    username: z
      .string()
      .trim()
      .min(1)
      .max(320)
      .refine((v) => !hasControl(v), 'may not contain control characters')
      .openapi({ description: 'The IMAP login, often the mail address', example: 'jane@example.com' }),
    password: z
      .string()
      .min(1)
      .max(1_024)
      .refine((v) => !hasControl(v), 'may not contain control characters')
      .optional()
      .openapi({
        description: 'The login password (or an app password). Give this or `accessToken`. Stored sealed; never shown again.',
        format: 'password',
        example: 'app-password-1234',
      }),
    accessToken: z
      .string()
      .min(1)
      .max(8_192)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
      .optional()
      .openapi({
        description: 'An OAuth access token for XOAUTH2 / OAUTHBEARER sign-in, instead of `password`. Stored sealed; never shown again.',
        format: 'password',
        example: 'ya29.a0AfH6SMB…',
      }),
  })
  .strict()
  .superRefine((body, ctx) => {
    const problem = hostProblem(body.host);
    if (problem) ctx.addIssue({ code: 'custom', path: ['host'], message: problem });
    if (body.password !== undefined && body.accessToken !== undefined)
      ctx.addIssue({ code: 'custom', path: ['accessToken'], message: 'give a password or an access token, not both' });
    if (body.password === undefined && body.accessToken === undefined)
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'required (or accessToken, for OAuth sign-in)' });
  })
  .openapi('ImapLinkRequest');

/** Why a link failed, in `reason` (its `detail` says it in words). */
export const imapLinkReasons = [
  'authentication',
  'refused_address',
  'plaintext',
  'tls',
  'unreachable',
  'not_imap',
  'server',
  'timeout',
  'busy',
  'revoked',
  'unlinking',
  'sync_unavailable',
] as const;

export const imapLinkProblemSchema = problemSchema
  .extend({
    reason: z.enum(imapLinkReasons).openapi({
      description:
        'authentication: the server refused the login · refused_address: the host is (or resolves to) a loopback, private, link-local or metadata address · plaintext: tls none is not allowed here · tls: TLS failed (certificate, no TLS on the port, no STARTTLS) · unreachable: no such host, or the connection was refused · not_imap: something answered, but not IMAP · server: the server failed the login otherwise · timeout: no answer in time · busy: the server asked to come back later (too many connections, unavailable) · revoked: the key was revoked meanwhile · unlinking: the mailbox is being unlinked · sync_unavailable: its sync could not be started',
    }),
  })
  .openapi('ImapLinkProblem');
