// The Outlook simulator (Microsoft identity platform + Graph mail) on a free port, the environment that
// points Mailflow's Outlook settings at it, and a typed client for its control API.
import { createHash, randomBytes } from 'node:crypto';
import { beforeEach } from 'vitest';
import {
  startOutlookSimulator,
  type ConfigPatch,
  type LifecycleEvent,
  type NotificationRecord,
  type OutlookAction,
  type OutlookSimulatorOptions,
  type RequestRecord,
  type RuntimeConfig,
  type StatsView,
  type SubscriptionView,
} from '../../simulators/outlook/server.js';
import { useRig } from './rig.js';

export type { LifecycleEvent, NotificationRecord, OutlookAction, SubscriptionView } from '../../simulators/outlook/server.js';
export type WellKnownFolder = 'inbox' | 'sentitems' | 'drafts' | 'deleteditems' | 'archive' | 'junkemail';

export interface OutlookEnv {
  OUTLOOK_LOGIN_URL: string;
  OUTLOOK_GRAPH_URL: string;
  OUTLOOK_TENANT: string;
  OUTLOOK_CLIENT_ID: string;
  OUTLOOK_CLIENT_SECRET: string;
}

export interface CreatedMailbox {
  id: string;
  address: string;
  displayName: string;
  folders: Record<WellKnownFolder, string>;
}
export interface SimFolder {
  id: string;
  displayName: string;
  parentFolderId: string;
  childFolderCount: number;
  unreadItemCount: number;
  totalItemCount: number;
  isHidden: boolean;
  wellKnownName: string | null;
}
export interface MailboxView {
  id: string;
  address: string;
  displayName: string;
  messageCount: number;
  wellKnownFolders: Record<WellKnownFolder, string>;
  folders: SimFolder[];
}
export interface SimMessage {
  id: string;
  folderId: string;
  subject: string;
  isRead: boolean;
  flagStatus: 'notFlagged' | 'flagged' | 'complete';
  lastModifiedDateTime: string;
  changeKey: string;
}
/** The simulator's counters, as its control API answers them. */
export type OutlookStats = StatsView;
export interface LifecycleResult {
  event: LifecycleEvent;
  subscriptions: string[];
  posted: string[];
  withoutLifecycleUrl: string[];
}
export type OutlookConfig = RuntimeConfig & { clientId: string | null; graphOrigin: string };

export interface OutlookSim {
  url: string;
  env: OutlookEnv;
  createMailbox(address: string, options?: { messages?: number; displayName?: string; seed?: number }): Promise<CreatedMailbox>;
  mailbox(address: string): Promise<MailboxView>;
  seed(address: string, count: number, folder?: string): Promise<{ seeded: number; messageCount: number }>;
  messages(address: string, folder?: string): Promise<SimMessage[]>;
  /** One user action; answers the affected message (SimMessage) or folder, each with its `id`. */
  act(address: string, action: OutlookAction): Promise<{ id: string } & Record<string, unknown>>;
  /** Revokes the mailbox's grants; its subscriptions get subscriptionRemoved and are removed. */
  revoke(address: string): Promise<{ revoked: number }>;
  /** Signs in as the mailbox (accepting the consent form, PKCE and all) and answers an access token. */
  accessToken(address: string, scopes?: string[]): Promise<string>;
  /** GET on Graph as the token's mailbox: a canonical https://graph.microsoft.com URL or a /v1.0 path. */
  graph(accessToken: string, url: string, prefer?: string | string[]): Promise<Response>;
  configure(patch: ConfigPatch): Promise<OutlookConfig>;
  config(): Promise<OutlookConfig>;
  stats(): Promise<OutlookStats>;
  requests(query?: { mailbox?: string; limit?: number }): Promise<RequestRecord[]>;
  /** Every subscription (removed and expired ones too, with their state), of one mailbox if given. */
  subscriptions(mailbox?: string): Promise<SubscriptionView[]>;
  /** The notification log, oldest first: one entry per notification and attempt, and per drop. */
  notifications(query?: { mailbox?: string; subscriptionId?: string; limit?: number }): Promise<NotificationRecord[]>;
  /** Fires a lifecycle event at one subscription, or at every live one of the mailbox. */
  lifecycle(address: string, event: LifecycleEvent, subscriptionId?: string): Promise<LifecycleResult>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a simulator that requires a client id and secret (test defaults unless given). */
/** The file's one simulator, started before its first test, reset before each, closed after its last. */
export function useOutlook(options: OutlookSimulatorOptions = {}): OutlookSim {
  const sim = useRig(() => startOutlook(options));
  beforeEach(async () => {
    await sim.reset();
  });
  return sim;
}

export async function startOutlook(options: OutlookSimulatorOptions = {}): Promise<OutlookSim> {
  const clientId = options.clientId ?? 'mailflow-test';
  const clientSecret = options.clientSecret ?? 'outlook-test-secret-0123456789';
  const server = await startOutlookSimulator({ ...options, clientId, clientSecret });
  const call = async <T>(path: string, init?: { method?: string; body?: unknown }): Promise<T> => {
    const response = await fetch(`${server.url}/_control/${path}`, {
      method: init?.method ?? 'GET',
      ...(init?.body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) } : {}),
    });
    if (!response.ok) throw new Error(`outlook control ${init?.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };
  const mailboxPath = (address: string, rest = '') => `mailboxes/${encodeURIComponent(address)}${rest}`;
  return {
    url: server.url,
    env: {
      OUTLOOK_LOGIN_URL: server.url,
      OUTLOOK_GRAPH_URL: server.url,
      OUTLOOK_TENANT: 'common',
      OUTLOOK_CLIENT_ID: clientId,
      OUTLOOK_CLIENT_SECRET: clientSecret,
    },
    createMailbox: (address, o = {}) => call('mailboxes', { method: 'POST', body: { address, ...o } }),
    mailbox: (address) => call(mailboxPath(address)),
    seed: (address, count, folder) => call(mailboxPath(address, '/seed'), { method: 'POST', body: { count, ...(folder ? { folder } : {}) } }),
    messages: (address, folder) => call(mailboxPath(address, `/messages${folder ? `?folder=${encodeURIComponent(folder)}` : ''}`)),
    act: (address, action) => call(mailboxPath(address, '/actions'), { method: 'POST', body: action }),
    revoke: (address) => call(mailboxPath(address, '/revoke'), { method: 'POST' }),
    async accessToken(address, scopes = ['Mail.Read', 'User.Read', 'openid', 'profile', 'offline_access']) {
      const verifier = randomBytes(32).toString('base64url');
      const redirectUri = 'http://127.0.0.1/callback';
      const authorize = await fetch(`${server.url}/common/oauth2/v2.0/authorize`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({
          client_id: clientId,
          response_type: 'code',
          redirect_uri: redirectUri,
          scope: scopes.join(' '),
          login_hint: address,
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
          account: address,
          action: 'accept',
        }),
      });
      const code = new URL(authorize.headers.get('location') ?? 'http://x/').searchParams.get('code');
      if (!code) throw new Error(`outlook sign-in as ${address}: ${authorize.status} ${authorize.headers.get('location') ?? (await authorize.text())}`);
      const token = await fetch(`${server.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          client_id: clientId,
          client_secret: clientSecret,
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
        }),
      });
      if (!token.ok) throw new Error(`outlook token for ${address}: ${token.status} ${await token.text()}`);
      return ((await token.json()) as { access_token: string }).access_token;
    },
    graph: (accessToken, url, prefer = []) =>
      fetch(url.startsWith('/') ? `${server.url}${url}` : url.replace(server.graphOrigin, server.url), {
        headers: [['authorization', `Bearer ${accessToken}`], ...(typeof prefer === 'string' ? [prefer] : prefer).map((p): [string, string] => ['prefer', p])],
      }),
    configure: (patch) => call('config', { method: 'PUT', body: patch }),
    config: () => call('config'),
    stats: () => call('stats'),
    requests: (query = {}) => {
      const q = new URLSearchParams({ ...(query.mailbox ? { mailbox: query.mailbox } : {}), ...(query.limit ? { limit: String(query.limit) } : {}) });
      return call(`requests${q.size ? `?${q}` : ''}`);
    },
    subscriptions: (mailbox) => call(`subscriptions${mailbox ? `?mailbox=${encodeURIComponent(mailbox)}` : ''}`),
    notifications: (query = {}) => {
      const q = new URLSearchParams(
        Object.entries(query)
          .filter((e) => e[1] !== undefined)
          .map(([k, v]) => [k, String(v)]),
      );
      return call(`notifications${q.size ? `?${q}` : ''}`);
    },
    lifecycle: (address, event, subscriptionId) =>
      call(mailboxPath(address, '/lifecycle'), { method: 'POST', body: { event, ...(subscriptionId ? { subscriptionId } : {}) } }),
    reset: () => call('reset', { method: 'POST' }),
    close: () => server.close(),
  };
}
