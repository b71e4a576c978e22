// A simulated Outlook mailbox linked to the running stack (the Outlook simulator, OUTLOOK_SIM_URL), and
// changes made in it: shared by the mailbox-sync and webhook benches.
import { stackTarget } from './lib.js';

const { apiUrl, apiKey } = stackTarget();
export const outlookUrl = process.env.OUTLOOK_SIM_URL ?? 'http://127.0.0.1:4030';
export const auth = { authorization: `Bearer ${apiKey}` };

export async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** The OAuth dance for an existing simulated mailbox, with the simulator consenting by itself. */
export async function link(accountId: string, address: string): Promise<string> {
  const { authorizationUrl } = await call<{ authorizationUrl: string }>(`${apiUrl}/v1/accounts/${accountId}/mailboxes/outlook`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ callbackUrl: `${apiUrl}/web/`, loginHint: address }),
  });
  const consent = await fetch(authorizationUrl, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location')!);
  const callback = await fetch(`${apiUrl}/v1/oauth/outlook/callback${back.search}`, { redirect: 'manual' });
  const mailboxId = new URL(callback.headers.get('location') ?? 'http://x/').searchParams.get('mailboxId');
  if (callback.status !== 302 || !mailboxId) throw new Error(`link failed: ${callback.status} ${await callback.text()}`);
  return mailboxId;
}

export async function withAutoConsent<T>(work: () => Promise<T>): Promise<T> {
  const before = await call<{ consent: string }>(`${outlookUrl}/_control/config`);
  await call(`${outlookUrl}/_control/config`, { method: 'PUT', body: JSON.stringify({ consent: 'auto' }) });
  try {
    return await work();
  } finally {
    await call(`${outlookUrl}/_control/config`, { method: 'PUT', body: JSON.stringify({ consent: before.consent }) });
  }
}

/** A simulated mailbox with `messages` messages, linked to a new local account. */
export async function linkMailbox(messages: number): Promise<{ mailboxId: string; accountId: string; address: string }> {
  const address = `bench-${Date.now()}@contoso.example`;
  await call(`${outlookUrl}/_control/mailboxes`, { method: 'POST', body: JSON.stringify({ address, messages }) });
  const account = await call<{ id: string }>(`${apiUrl}/v1/accounts`, { method: 'POST', headers: auth, body: JSON.stringify({ email: address }) });
  const mailboxId = await withAutoConsent(() => link(account.id, address));
  return { mailboxId, accountId: account.id, address };
}

export interface Progress {
  sync: { progress: { phase: string; push: { healthy: boolean; pollIntervalMs: number } } | null };
}

/** Waits until the mailbox's sync is LIVE, then a little for its subscription to come up; answers its progress. */
export async function waitLive(mailboxId: string): Promise<NonNullable<Progress['sync']['progress']>> {
  const read = async () => (await call<Progress>(`${apiUrl}/v1/mailboxes/${mailboxId}`, { headers: auth })).sync.progress;
  while ((await read())?.phase !== 'LIVE') await new Promise((resolve) => setTimeout(resolve, 500));
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // let the subscription come up and the first rounds settle
  return (await read())!;
}

/** A change made in the simulated mailbox, as its owner would (new mail, read state, a move, …). */
export const act = (address: string, action: Record<string, unknown>) =>
  call<{ id: string; isRead: boolean }>(`${outlookUrl}/_control/mailboxes/${encodeURIComponent(address)}/actions`, {
    method: 'POST',
    body: JSON.stringify(action),
  });
