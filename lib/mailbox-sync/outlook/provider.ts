// Outlook behind the MailProvider port: the folder delta and each folder's message delta from
// Microsoft Graph. Immutable ids keep a message's id across moves, so a move is one document changing
// folder; one page per call, so the engine can index and checkpoint each before following the link.
import { GraphError, type Client } from '@microsoft/microsoft-graph-client';
import type { Address, FlagStatus } from '../message.js';
import {
  CursorExpiredError,
  FolderGoneError,
  ProviderRequestError,
  ReauthRequiredError,
  SubscriptionGoneError,
  ThrottledError,
  type ChangePage,
  type MailProvider,
  type ProviderFolder,
  type ProviderMessage,
  type PushChannel,
  type PushSubscription,
} from '../provider.js';
import { createGraphClient, GRAPH_ORIGIN, withToken } from './graph-client.js';

const MESSAGE_FIELDS =
  'subject,from,sender,toRecipients,ccRecipients,receivedDateTime,isRead,flag,bodyPreview,conversationId,internetMessageId,hasAttachments,changeKey,lastModifiedDateTime,parentFolderId';
const FOLDER_FIELDS = 'displayName,parentFolderId,totalItemCount,unreadItemCount';
const EXPIRED_CODES = new Set(['syncstatenotfound', 'resyncrequired', 'syncstateinvalid']);
const GONE_CODES = new Set(['errorsyncfoldernotfound', 'erroritemnotfound']);
const DEFAULT_RETRY_AFTER_MS = 5_000;

interface GraphRecipient {
  emailAddress?: { name?: string; address?: string };
}
interface GraphMessage {
  id: string;
  '@removed'?: { reason?: string };
  subject?: string | null;
  from?: GraphRecipient | null;
  sender?: GraphRecipient | null;
  toRecipients?: GraphRecipient[];
  ccRecipients?: GraphRecipient[];
  receivedDateTime?: string | null;
  isRead?: boolean;
  flag?: { flagStatus?: FlagStatus };
  bodyPreview?: string | null;
  conversationId?: string | null;
  internetMessageId?: string | null;
  hasAttachments?: boolean;
  changeKey?: string | null;
  lastModifiedDateTime?: string | null;
  createdDateTime?: string | null;
}
interface GraphFolder {
  id: string;
  '@removed'?: unknown;
  displayName?: string;
  parentFolderId?: string | null;
  totalItemCount?: number;
  unreadItemCount?: number;
}
interface DeltaResponse<T> {
  value?: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

const address = (r: GraphRecipient | null | undefined): Address | null =>
  r?.emailAddress ? { name: r.emailAddress.name ?? '', address: r.emailAddress.address ?? '' } : null;

export function toProviderMessage(m: GraphMessage, folderId: string): ProviderMessage {
  return {
    id: m.id,
    folderId,
    subject: m.subject ?? '',
    from: address(m.from ?? m.sender),
    to: (m.toRecipients ?? []).map(address).filter((a): a is Address => a !== null),
    cc: (m.ccRecipients ?? []).map(address).filter((a): a is Address => a !== null),
    receivedAt: m.receivedDateTime ?? null,
    isRead: m.isRead === true,
    flagStatus: m.flag?.flagStatus ?? 'notFlagged',
    bodyPreview: m.bodyPreview ?? '',
    conversationId: m.conversationId ?? null,
    internetMessageId: m.internetMessageId ?? null,
    hasAttachments: m.hasAttachments === true,
    changeKey: m.changeKey ?? null,
    lastModifiedAt: m.lastModifiedDateTime ?? m.createdDateTime ?? new Date(0).toISOString(),
  };
}

const subscription = (s: GraphSubscription): PushSubscription => ({ id: s.id, expiresAt: s.expirationDateTime });

/** Maps a Graph failure to the port's errors; anything else (5xx, network, timeout) stays retryable as is. */
export function classifyGraphError(error: unknown): unknown {
  if (!(error instanceof GraphError)) return error;
  const code = (error.code ?? '').toLowerCase();
  const status = error.statusCode;
  if (status === 429 || status === 503 || status === 504) {
    const seconds = Number(error.headers?.get('retry-after'));
    return new ThrottledError(
      Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_RETRY_AFTER_MS,
      `Graph answered ${status}${code ? ` (${error.code})` : ''}`,
    );
  }
  if (status === 410 || EXPIRED_CODES.has(code)) return new CursorExpiredError(`the delta token expired (${error.code ?? status})`);
  if (status === 404 && GONE_CODES.has(code)) return new FolderGoneError(`the folder is gone (${error.code})`);
  if (status === 401) return new ReauthRequiredError(`Graph refused the access token (${error.code ?? 401})`);
  if (status >= 400 && status < 500) return new ProviderRequestError(status, `Graph refused the request: ${status} ${error.code ?? ''}`.trim());
  return new Error(`Graph answered ${status}${code ? ` (${error.code})` : ''}`);
}

interface GraphSubscription {
  id: string;
  expirationDateTime: string;
}

export class OutlookMailProvider implements MailProvider {
  readonly name = 'outlook';
  private readonly client: Client;
  /** Graph change notifications on every message of the mailbox; the lifecycle events go to the same URL. */
  readonly push: PushChannel = {
    subscribe: async ({ notificationUrl, clientState, expiresAt }, signal) =>
      subscription(
        await this.send<GraphSubscription>(
          'POST',
          `${GRAPH_ORIGIN}/v1.0/subscriptions`,
          signal,
          {
            changeType: 'created,updated,deleted',
            resource: 'me/messages',
            notificationUrl,
            lifecycleNotificationUrl: notificationUrl,
            expirationDateTime: expiresAt.toISOString(),
            clientState,
          },
          ['IdType="ImmutableId"'],
        ),
      ),
    renew: async (id, expiresAt, signal) => {
      try {
        return subscription(
          await this.send<GraphSubscription>('PATCH', `${GRAPH_ORIGIN}/v1.0/subscriptions/${encodeURIComponent(id)}`, signal, {
            expirationDateTime: expiresAt.toISOString(),
          }),
        );
      } catch (error) {
        if (error instanceof ProviderRequestError && error.status === 404) throw new SubscriptionGoneError(`subscription ${id} is gone`);
        throw error;
      }
    },
    unsubscribe: async (id, signal) => {
      try {
        await this.send('DELETE', `${GRAPH_ORIGIN}/v1.0/subscriptions/${encodeURIComponent(id)}`, signal);
      } catch (error) {
        if (!(error instanceof ProviderRequestError && error.status === 404)) throw error;
      }
    },
  };

  constructor(private readonly options: { graphUrl: string; timeoutMs: number; accessToken: (forceRefresh: boolean) => Promise<string> }) {
    this.client = createGraphClient({ graphUrl: options.graphUrl, timeoutMs: options.timeoutMs });
  }

  async refreshCredentials(): Promise<void> {
    await this.options.accessToken(true);
  }

  async folderChanges(cursor: string | null, signal: AbortSignal): Promise<ChangePage<ProviderFolder>> {
    const page = await this.get<GraphFolder>(cursor ?? `${GRAPH_ORIGIN}/v1.0/me/mailFolders/delta?$select=${FOLDER_FIELDS}`, ['odata.maxpagesize=100'], signal);
    const changed: ProviderFolder[] = [];
    const removed: string[] = [];
    for (const f of page.value ?? []) {
      if (f['@removed']) removed.push(f.id);
      else
        changed.push({ id: f.id, name: f.displayName ?? '', parentId: f.parentFolderId ?? null, total: f.totalItemCount ?? 0, unread: f.unreadItemCount ?? 0 });
    }
    return this.pageOf(page, changed, removed);
  }

  async messageChanges(folderId: string, cursor: string | null, options: { pageSize: number }, signal: AbortSignal): Promise<ChangePage<ProviderMessage>> {
    const first = `${GRAPH_ORIGIN}/v1.0/me/mailFolders/${encodeURIComponent(folderId)}/messages/delta?$select=${MESSAGE_FIELDS}`;
    const page = await this.get<GraphMessage>(cursor ?? first, [`odata.maxpagesize=${options.pageSize}`, 'IdType="ImmutableId"'], signal);
    const changed: ProviderMessage[] = [];
    const removed: string[] = [];
    for (const m of page.value ?? []) {
      if (m['@removed']) removed.push(m.id);
      else changed.push(toProviderMessage(m, folderId));
    }
    return this.pageOf(page, changed, removed);
  }

  private pageOf<T>(page: DeltaResponse<unknown>, changed: T[], removed: string[]): ChangePage<T> {
    const next = page['@odata.nextLink'];
    const delta = page['@odata.deltaLink'];
    if (!next && !delta) throw new ProviderRequestError(200, 'Graph returned a delta page with neither a nextLink nor a deltaLink');
    return { changed, removed, cursor: (next ?? delta)!, caughtUp: !next };
  }

  private get<T>(url: string, prefer: string[], signal: AbortSignal): Promise<DeltaResponse<T>> {
    return this.send<DeltaResponse<T>>('GET', url, signal, undefined, prefer);
  }

  /** One request; a refused access token is renewed once before the grant is declared dead. */
  private async send<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, signal: AbortSignal, body?: unknown, prefer: string[] = []): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // A dead refresh token throws ReauthRequiredError here, before any request.
      const token = await this.options.accessToken(attempt > 0);
      try {
        const request = withToken(this.client.api(url), token).option('signal', signal);
        if (prefer.length > 0) request.header('Prefer', prefer.join(', '));
        switch (method) {
          case 'GET':
            return (await request.get()) as T;
          case 'POST':
            return (await request.post(body)) as T;
          case 'PATCH':
            return (await request.patch(body)) as T;
          case 'DELETE':
            return (await request.delete()) as T;
        }
      } catch (error) {
        const mapped = classifyGraphError(error);
        if (mapped instanceof ReauthRequiredError && attempt === 0) continue;
        throw mapped;
      }
    }
  }
}
