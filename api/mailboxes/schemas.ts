// The mailbox-sync API's shapes, shared by the account and mailbox routes (and the OpenAPI document).
import { z } from '@hono/zod-openapi';

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
    'LINKED: just linked; SYNCING: initial sync (or a full resync); LIVE: following changes; PAUSED; REAUTH_REQUIRED: Microsoft refused the grant, link again; UNLINKING',
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
    provider: z.enum(['outlook', 'imap']),
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
