// Graph's JSON for messages and folders, `$select`, and Graph's error bodies.
import type { Context } from 'hono';
import { randomUUID } from 'node:crypto';
import type { EmailAddress } from './fixtures.js';
import { defaultId, type Folder, type Message, type MessageVersion } from './store.js';

/** Graph writes message times in whole seconds: "2026-11-20T10:00:05Z". */
export const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const recipient = (a: EmailAddress) => ({ emailAddress: { name: a.name, address: a.address } });

export const MESSAGE_PROPERTIES = new Set([
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'inferenceClassification',
  'body',
  'from',
  'sender',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
]);

/** `$select` as a list of known properties, or the first unknown one (Graph answers 400 for it). */
export function parseSelect(value: string | undefined): { select?: string[]; unknown?: string } {
  if (!value) return {};
  const select = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const lower = new Map([...MESSAGE_PROPERTIES].map((p) => [p.toLowerCase(), p]));
  const resolved: string[] = [];
  for (const name of select) {
    const property = lower.get(name.toLowerCase());
    if (!property) return { unknown: name };
    resolved.push(property);
  }
  return { select: resolved };
}

export function messageId(m: Message, immutable: boolean): string {
  return immutable ? m.id : defaultId(m.id, m.folderId);
}

/** A message as Graph shows it; `version` renders an older version of it (staleNext). */
export function renderMessage(m: Message, immutable: boolean, select?: string[], version: MessageVersion = m): Record<string, unknown> {
  const full: Record<string, unknown> = {
    '@odata.etag': `W/"${version.changeKey}"`,
    id: messageId(m, immutable),
    createdDateTime: iso(m.createdDateTime),
    lastModifiedDateTime: iso(version.lastModified),
    changeKey: version.changeKey,
    categories: [],
    receivedDateTime: iso(m.receivedDateTime),
    sentDateTime: iso(m.receivedDateTime - 2),
    hasAttachments: m.hasAttachments,
    internetMessageId: m.internetMessageId,
    subject: m.subject,
    bodyPreview: m.bodyPreview,
    importance: m.importance,
    parentFolderId: version.folderId,
    conversationId: m.conversationId,
    isDeliveryReceiptRequested: false,
    isReadReceiptRequested: false,
    isRead: version.isRead,
    isDraft: m.isDraft,
    inferenceClassification: 'focused',
    body: { contentType: 'html', content: `<html><body><p>${m.bodyPreview}</p></body></html>` },
    from: recipient(m.from),
    sender: recipient(m.from),
    toRecipients: m.to.map(recipient),
    ccRecipients: m.cc.map(recipient),
    bccRecipients: [],
    replyTo: [],
    flag: { flagStatus: version.flagStatus },
  };
  if (!select) return full;
  const picked: Record<string, unknown> = { '@odata.etag': full['@odata.etag'], id: full.id };
  for (const property of select) picked[property] = full[property];
  return picked;
}

export function renderFolder(f: Folder): Record<string, unknown> {
  return {
    id: f.id,
    displayName: f.displayName,
    parentFolderId: f.parentId,
    childFolderCount: f.children.size,
    unreadItemCount: f.unread,
    totalItemCount: f.total,
    isHidden: false,
  };
}

/** Graph's error body, with the innerError Graph adds (and request ids in headers). */
export function graphError(c: Context, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  const requestId = randomUUID();
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  c.header('request-id', requestId);
  return c.json(
    {
      error: {
        code,
        message,
        innerError: { date: iso(Math.floor(Date.now() / 1000)), 'request-id': requestId, 'client-request-id': c.req.header('client-request-id') ?? requestId },
      },
    },
    status as 400,
  );
}
