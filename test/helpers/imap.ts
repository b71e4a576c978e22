// Acting as an IMAP user against the suite's real Dovecot (scripts/services/dovecot.ts), over a connection of
// the test's own: fresh users, seeded mailboxes, and the changes a person makes in a mail client (flags,
// moves, deletes, folders), plus what only the server's operator can do (a new UIDVALIDITY) and the bearer
// tokens of the introspection simulator.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { inject } from 'vitest';
import type { ImapConnectionRecord } from '../../db/schema/index.js';
import { addDovecotUser, doveadm } from '../../scripts/services/dovecot.js';
import {
  appendMessages as appendSeedMessages,
  makeMessages,
  seedImapMailbox,
  type MessageOptions,
  type SeedMessage,
} from '../../scripts/services/imap-mail.js';
import { unique } from './config.js';

export { makeMessage, makeMessages, type SeedMessage } from '../../scripts/services/imap-mail.js';

export interface ImapUser {
  user: string;
  password: string;
}

/** Which door of the server: STARTTLS (offered, here taken), plain text, implicit TLS, or the instance without CONDSTORE/QRESYNC. */
export type ImapVia = 'starttls' | 'plain' | 'imaps' | 'legacy';

export function imapServer() {
  const s = inject('services');
  if (!s.IMAP_HOST) throw new Error(`the test IMAP server is not running: ${s.IMAP_UNAVAILABLE}`);
  return {
    host: s.IMAP_HOST,
    port: s.IMAP_PORT,
    imapsPort: s.IMAPS_PORT,
    legacyPort: s.IMAP_LEGACY_PORT,
    caFile: s.IMAP_CA_FILE,
    oauthUrl: s.IMAP_OAUTH_URL,
    passwdDir: s.IMAP_PASSWD_DIR,
    configFile: s.IMAP_CONFIG_FILE,
  };
}

let caPem: string | undefined;
/** The local CA's certificate (PEM), to trust the server's certificate (localhost and 127.0.0.1). */
export function imapCa(): string {
  return (caPem ??= readFileSync(imapServer().caFile, 'utf8'));
}

/** Settings for Mailflow's own config in a test: trust the local CA and allow the loopback server. */
export function imapTestEnv(): Record<string, string> {
  return { IMAP_CA_FILE: imapServer().caFile, IMAP_ALLOW_HOSTS: '127.0.0.1,localhost' };
}

/** A new user with a random password, able to log in at once. Names are unique per run and lowercase. */
export function createImapUser(prefix = 'imap'): ImapUser {
  const user = `${unique(prefix).toLowerCase()}@mailflow.test`;
  const password = randomBytes(12).toString('base64url');
  addDovecotUser(imapServer().passwdDir, user, password);
  return { user, password };
}

function portOf(via: ImapVia): number {
  const s = imapServer();
  return via === 'imaps' ? s.imapsPort : via === 'legacy' ? s.legacyPort : s.port;
}

/** Where a linked mailbox would connect for this user (the link API's connection record). */
export function imapConnection(user: ImapUser, via: ImapVia = 'starttls', auth: ImapConnectionRecord['auth'] = 'password'): ImapConnectionRecord {
  return {
    host: imapServer().host,
    port: portOf(via),
    tls: via === 'imaps' ? 'implicit' : via === 'plain' ? 'none' : 'starttls',
    username: user.user,
    auth,
  };
}

/**
 * A connected, logged-in ImapFlow for the user: the person's own mail client, beside whatever the test checks.
 * No auto-IDLE (every command goes straight out). Close it with `logout()`. `port`: another Dovecot on this
 * host with the same certificate (a test's private instance), reached the `via` way.
 */
export async function imapUserClient(
  user: ImapUser,
  options: { via?: ImapVia; port?: number; accessToken?: string; qresync?: boolean; trustCa?: boolean } = {},
): Promise<ImapFlow> {
  const via = options.via ?? 'starttls';
  const client = new ImapFlow({
    host: imapServer().host,
    port: options.port ?? portOf(via),
    secure: via === 'imaps',
    doSTARTTLS: via === 'plain' ? false : via === 'imaps' ? undefined : true,
    tls: { rejectUnauthorized: true, ...(options.trustCa === false ? {} : { ca: imapCa() }) },
    auth: options.accessToken ? { user: user.user, accessToken: options.accessToken } : { user: user.user, pass: user.password },
    qresync: options.qresync ?? false,
    disableAutoIdle: true,
    logger: false,
  });
  // An 'error' event with no listener would crash the test process (e.g. the server closing the connection).
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Runs `fn` with a fresh connection as the user, then logs out. */
export async function asImapUser<T>(user: ImapUser, fn: (client: ImapFlow) => Promise<T>, options: Parameters<typeof imapUserClient>[1] = {}): Promise<T> {
  const client = await imapUserClient(user, options);
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

// Indexes for generated messages: unique within the process, so Message-IDs never repeat across calls.
let nextIndex = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 1_000;

async function inFolder<T>(client: ImapFlow, folder: string, fn: () => Promise<T>): Promise<T> {
  const lock = await client.getMailboxLock(folder);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * APPENDs `count` generated messages (or the given ones) to the folder, oldest first; returns their UIDs and the
 * messages. Generated ones are new mail arriving: dated now and without flags, unless `options` say otherwise.
 */
export async function appendMessages(
  client: ImapFlow,
  folder: string,
  messages: number | SeedMessage[],
  options: Partial<Omit<MessageOptions, 'index' | 'folder'>> & { firstIndex?: number; flags?: string[] } = {},
): Promise<{ uids: number[]; messages: SeedMessage[] }> {
  const owner = options.owner ?? client.options.auth?.user ?? 'someone@mailflow.test';
  let list: SeedMessage[];
  if (typeof messages === 'number') {
    const firstIndex = options.firstIndex ?? nextIndex;
    nextIndex += messages;
    list = makeMessages(messages, { ...options, owner, folder, firstIndex, date: options.date ?? new Date() }).map((m) => ({
      ...m,
      flags: options.flags ?? [],
    }));
  } else {
    list = messages;
  }
  return { uids: await appendSeedMessages(client, folder, list), messages: list };
}

/**
 * Fills the user's folders (created if missing) with realistic mail, e.g. `{ folders: { INBOX: 300, Sent: 50,
 * 'Archive/2025': 100 } }`, over up to 4 connections: about 2,000 messages a second here.
 */
export async function seedMailbox(user: ImapUser, options: { folders: Record<string, number>; seed?: string }): Promise<Record<string, SeedMessage[]>> {
  return seedImapMailbox(() => imapUserClient(user), { owner: user.user, folders: options.folders, seed: options.seed });
}

/** UIDs in the folder, ascending. */
export async function folderUids(client: ImapFlow, folder: string): Promise<number[]> {
  return inFolder(client, folder, async () => ((await client.search({ all: true }, { uid: true })) || []).sort((a, b) => a - b));
}

/** STATUS of a folder, without selecting it (HIGHESTMODSEQ only where the server has CONDSTORE). */
export async function folderStatus(client: ImapFlow, folder: string) {
  const status = await client.status(folder, {
    messages: true,
    uidNext: true,
    uidValidity: true,
    unseen: true,
    ...(client.capabilities.has('CONDSTORE') ? { highestModseq: true } : {}),
  });
  if (!status) throw new Error(`STATUS ${folder} failed`);
  return status;
}

export async function addFlags(client: ImapFlow, folder: string, uids: number[] | string, flags: string[]): Promise<void> {
  await inFolder(client, folder, () => client.messageFlagsAdd(uidSet(uids), flags, { uid: true }));
}

export async function removeFlags(client: ImapFlow, folder: string, uids: number[] | string, flags: string[]): Promise<void> {
  await inFolder(client, folder, () => client.messageFlagsRemove(uidSet(uids), flags, { uid: true }));
}

export const markSeen = (client: ImapFlow, folder: string, uids: number[] | string) => addFlags(client, folder, uids, ['\\Seen']);
export const markUnseen = (client: ImapFlow, folder: string, uids: number[] | string) => removeFlags(client, folder, uids, ['\\Seen']);
export const flag = (client: ImapFlow, folder: string, uids: number[] | string) => addFlags(client, folder, uids, ['\\Flagged']);
export const unflag = (client: ImapFlow, folder: string, uids: number[] | string) => removeFlags(client, folder, uids, ['\\Flagged']);

/** MOVE; returns each moved message's new UID in the destination (source UID → destination UID). */
export async function moveMessages(client: ImapFlow, from: string, uids: number[] | string, to: string): Promise<Map<number, number>> {
  return inFolder(client, from, async () => {
    const result = await client.messageMove(uidSet(uids), to, { uid: true });
    if (!result) throw new Error(`MOVE ${from} → ${to} failed`);
    return result.uidMap ?? new Map<number, number>();
  });
}

/** \Deleted and UID EXPUNGE: gone for good. */
export async function expungeMessages(client: ImapFlow, folder: string, uids: number[] | string): Promise<void> {
  await inFolder(client, folder, async () => {
    if (!(await client.messageDelete(uidSet(uids), { uid: true }))) throw new Error(`expunge in ${folder} failed`);
  });
}

export async function createFolder(client: ImapFlow, path: string): Promise<void> {
  await client.mailboxCreate(path);
}

export async function renameFolder(client: ImapFlow, path: string, newPath: string): Promise<void> {
  await client.mailboxRename(path, newPath);
}

export async function deleteFolder(client: ImapFlow, path: string): Promise<void> {
  await client.mailboxDelete(path);
}

/**
 * Gives the folder a new UIDVALIDITY (as a server restored from a backup would: every UID a client holds is
 * void). `doveadm mailbox update --uid-validity`; returns the new value. A connection with the folder
 * selected is disconnected by the server.
 */
export function changeUidValidity(user: ImapUser, folder: string, value?: number): number {
  const { configFile } = imapServer();
  const current = Number(/uidvalidity=(\d+)/.exec(doveadm(configFile, ['mailbox', 'status', '-u', user.user, 'uidvalidity', folder]))?.[1]);
  const next = value ?? Math.max(current + 1, Math.floor(Date.now() / 1000));
  doveadm(configFile, ['mailbox', 'update', '-u', user.user, '--uid-validity', String(next), folder]);
  return next;
}

/** An XOAUTH2/OAUTHBEARER access token for the user from the introspection simulator. */
export async function mintImapToken(user: ImapUser | string, options: { expiresInSeconds?: number } = {}): Promise<string> {
  const username = typeof user === 'string' ? user : user.user;
  const response = await fetch(`${imapServer().oauthUrl}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, ...options }),
  });
  if (response.status !== 201) throw new Error(`minting a token failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Revokes one token, or (given a user) every token of that user; returns how many. */
export async function revokeImapToken(tokenOrUser: string | ImapUser): Promise<number> {
  const body = typeof tokenOrUser === 'string' ? { token: tokenOrUser } : { username: tokenOrUser.user };
  const response = await fetch(`${imapServer().oauthUrl}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`revoking failed: ${response.status}`);
  return ((await response.json()) as { revoked: number }).revoked;
}

function uidSet(uids: number[] | string): string {
  if (typeof uids === 'string') return uids;
  if (uids.length === 0) throw new Error('no UIDs given');
  return uids.join(',');
}
