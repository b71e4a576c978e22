// Message delta per folder and folder delta per mailbox, with paging by Prefer: odata.maxpagesize and
// the delta faults (empty pages, replayed rows, a stale version after the current one).
import type { Context } from 'hono';
import { readPage, type ChangeType, type LogState, type PageResult } from './change-log.js';
import type { SimContext } from './context.js';
import type { Cursor, Prefer } from './delta.js';
import { graphError, messageId, parseSelect, renderFolder, renderMessage } from './render.js';
import { defaultId, type Mailbox } from './store.js';

const EXPIRED_MESSAGES: Record<string, string> = {
  SyncStateNotFound: 'The sync state generation is not found.',
  ResyncRequired: "Resync required. Replace any local cache with the server's version.",
};

/** The cursor a request continues from (its $skiptoken or $deltatoken, or a fresh one), or the error answer. */
function readCursor(c: Context, ctx: SimContext, mb: Mailbox, kind: Cursor['k']): { cursor: Cursor } | { response: Response } {
  const url = new URL(c.req.url);
  const value = url.searchParams.get('$skiptoken') ?? url.searchParams.get('$deltatoken');
  if (value === null) return { cursor: { k: kind, mb: mb.id, p: 0 } };
  const read = ctx.tokens.read(value, mb.id);
  if ('cursor' in read && read.cursor.k === kind) return read;
  if ('error' in read && read.error === 'expired') {
    const { status, code } = ctx.config.expiredTokenStatus;
    return { response: graphError(c, status, code, EXPIRED_MESSAGES[code] ?? 'The sync state is invalid.') };
  }
  return { response: graphError(c, 400, 'ErrorInvalidUrlQuery', 'The sync token is malformed or was issued for another mailbox or resource.') };
}

function pageSize(prefer: Prefer, cursor: Cursor): number {
  return prefer.maxPageSize ?? cursor.t ?? 10;
}

function links(ctx: SimContext, path: string, cursor: Cursor, page: PageResult, head: number, from: number) {
  const next = { ...cursor, p: from, h: head, pos: page.pos };
  const base = `${ctx.graphOrigin}/v1.0/${path}`;
  if (!page.done) return { '@odata.nextLink': `${base}?$skiptoken=${ctx.tokens.issue(next)}` };
  const { h: _h, pos: _pos, ...rest } = next;
  return { '@odata.deltaLink': `${base}?$deltatoken=${ctx.tokens.issue({ ...rest, p: head })}` };
}

function applied(c: Context, prefer: Prefer): void {
  const values = [
    ...(prefer.maxPageSize !== undefined ? [`odata.maxpagesize=${prefer.maxPageSize}`] : []),
    ...(prefer.immutableIds ? ['IdType="ImmutableId"'] : []),
  ];
  if (values.length) c.header('Preference-Applied', values.join(', '));
}

/** `receivedDateTime ge|gt <ISO>` as the first second listed; undefined without a filter, null for any other filter. */
function receivedSince(filter: string | null): number | undefined | null {
  if (filter === null) return undefined;
  const match = /^\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*$/i.exec(filter);
  const at = match ? Date.parse(match[2]!) : NaN;
  if (!match || Number.isNaN(at)) return null;
  return match[1]!.toLowerCase() === 'ge' ? Math.ceil(at / 1000) : Math.floor(at / 1000) + 1;
}

export function messageDelta(c: Context, ctx: SimContext, mb: Mailbox, folderRef: string, prefer: Prefer): Response {
  const read = readCursor(c, ctx, mb, 'm');
  if ('response' in read) return read.response;
  let cursor = read.cursor;
  const target = mb.folder(folderRef);
  const gone = () => graphError(c, 404, 'ErrorSyncFolderNotFound', 'The sync folder was not found.');
  if (cursor.f && (mb.deletedFolders.has(cursor.f) || !mb.folders.has(cursor.f))) return gone();
  if (!target) return mb.deletedFolders.has(folderRef) ? gone() : graphError(c, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  if (cursor.f && cursor.f !== target.id) return graphError(c, 400, 'ErrorInvalidUrlQuery', 'The sync token was issued for another folder.');
  const folder = target;
  if (!cursor.f) {
    const url = new URL(c.req.url);
    const { select, unknown } = parseSelect(url.searchParams.get('$select') ?? undefined);
    if (unknown) return graphError(c, 400, 'RequestBroker--ParseUri', `Could not find a property named '${unknown}' on type 'microsoft.graph.message'.`);
    const changeType = url.searchParams.get('changeType') ?? undefined;
    if (changeType !== undefined && !['created', 'updated', 'deleted'].includes(changeType))
      return graphError(c, 400, 'ErrorInvalidUrlQuery', `The value '${changeType}' is not valid for changeType.`);
    const top = Number(url.searchParams.get('$top') ?? NaN);
    const since = receivedSince(url.searchParams.get('$filter'));
    if (since === null)
      return graphError(c, 400, 'ErrorInvalidUrlQuery', 'Change tracking over messages supports only $filter=receivedDateTime ge|gt {dateTime}.');
    cursor = {
      ...cursor,
      f: folder.id,
      ...(select ? { sel: select } : {}),
      ...(changeType ? { ct: changeType as ChangeType } : {}),
      ...(top >= 1 ? { t: Math.min(1_000, Math.floor(top)) } : {}),
      ...(since !== undefined ? { rs: since } : {}),
    };
  }
  const head = cursor.h ?? mb.seq;
  const from = cursor.p;
  const path = `me/mailFolders('${folder.id}')/messages/delta`;
  applied(c, prefer);
  const body = { '@odata.context': `${ctx.graphOrigin}/v1.0/$metadata#Collection(message)` };
  const config = ctx.config;
  if (config.emptyPagesNext > 0) {
    config.emptyPagesNext -= 1;
    const pos = cursor.pos ?? from;
    return c.json({
      ...body,
      value: [],
      '@odata.nextLink': `${ctx.graphOrigin}/v1.0/${path}?$skiptoken=${ctx.tokens.issue({ ...cursor, p: from, h: head, pos })}`,
    });
  }
  const since = cursor.rs;
  // A message that left is listed whatever its date: it is gone, and a client ignores ids it never had.
  const accept = since === undefined ? undefined : (id: string, state: LogState) => !state.present || (mb.messages.get(id)?.receivedDateTime ?? 0) >= since;
  const page = readPage(folder.log, { from, head, pos: cursor.pos ?? from }, pageSize(prefer, cursor), cursor.ct, accept);
  const value = page.items.map(({ id, state }) => {
    const message = state.present ? mb.messages.get(id) : undefined;
    if (message) return renderMessage(message, prefer.immutableIds, cursor.sel);
    return { '@odata.type': '#microsoft.graph.message', id: prefer.immutableIds ? id : defaultId(id, folder.id), '@removed': { reason: state.reason } };
  });
  if (value.length > 0 && config.replayNext > 0) {
    config.replayNext -= 1;
    value.push({ ...value[0]! });
  }
  const stale = config.staleNext ? mb.message(config.staleNext.messageId) : undefined;
  if (stale && stale.folderId === folder.id) {
    config.staleNext = null;
    const previous = stale.previous ?? { ...stale, lastModified: stale.lastModified - 60, changeKey: `${stale.changeKey}0` };
    const row = renderMessage(stale, prefer.immutableIds, cursor.sel, previous);
    const at = value.findIndex((v) => v.id === messageId(stale, prefer.immutableIds) && !('@removed' in v));
    value.splice(at < 0 ? value.length : at + 1, 0, row);
  }
  return c.json({ ...body, value, ...links(ctx, path, cursor, page, head, from) });
}

export function folderDelta(c: Context, ctx: SimContext, mb: Mailbox, prefer: Prefer): Response {
  const read = readCursor(c, ctx, mb, 'f');
  if ('response' in read) return read.response;
  const cursor = read.cursor;
  const head = cursor.h ?? mb.seq;
  const page = readPage(mb.folderLog, { from: cursor.p, head, pos: cursor.pos ?? cursor.p }, pageSize(prefer, cursor));
  applied(c, prefer);
  const value = page.items.map(({ id, state }) => {
    const folder = state.present ? mb.folders.get(id) : undefined;
    return folder ? renderFolder(folder) : { '@odata.type': '#microsoft.graph.mailFolder', id, '@removed': { reason: 'deleted' } };
  });
  return c.json({
    '@odata.context': `${ctx.graphOrigin}/v1.0/$metadata#Collection(mailFolder)`,
    value,
    ...links(ctx, 'me/mailFolders/delta', cursor, page, head, cursor.p),
  });
}
