// Linking an IMAP mailbox to a local account: the server and login come in one request, so the link is
// checked by logging in (openImap: the host resolved and refused if it is loopback, private, link-local
// or metadata and not on IMAP_ALLOW_HOSTS; certificates verified; plaintext only if IMAP_ALLOW_PLAINTEXT),
// then logging out. A refused login, an unreachable or silent host, a TLS failure, a server that does not
// speak IMAP: each is a named failure and nothing is stored. A login that works stores the mailbox with
// its secret sealed, in one transaction, and only then starts (or re-links) its sync workflow, so the
// workflow always reads the credentials just stored. The same login linked again to the same account is a
// re-link: new connection settings and secret, and the workflow is told (this ends REAUTH_REQUIRED). Each
// tenant has a budget of login checks per login and server, counted before the check.
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import type { ImapFlow } from 'imapflow';
import type { Database } from '../../../db/client.js';
import { mailboxes, type ImapConnectionRecord } from '../../../db/schema/index.js';
import type { AccountRow } from '../../accounts/accounts.js';
import type { Encryptor } from '../../crypto.js';
import { newId } from '../../ids.js';
import { consumeRateLimits, lockKeys, type RateLimit } from '../../notifications/rate-limit.js';
import { SecretStore } from '../../secret-store.js';
import { mailboxSyncWorkflowId } from '../start-workflow.js';
import type { MailboxRow } from '../sync-state.js';
import { imapFailureKind, openImap, PlaintextRefusedError, type ImapFailureKind, type ImapNetworkPolicy, type ImapSecret } from './connection.js';
import { imapSecretName, saveImapSecret } from './credentials.js';

/** Why a link failed: the login check's failures, and the link's own. */
export type ImapLinkFailure = ImapFailureKind | 'revoked' | 'unlinking' | 'sync_unavailable';

export class ImapLinkError extends Error {
  constructor(
    readonly failure: ImapLinkFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ImapLinkError';
  }
}

export interface ImapLinkContext {
  db: Database;
  encryptor: Encryptor;
  policy: ImapNetworkPolicy;
  /**
   * Login checks a tenant may make for one login on one server per window (IMAP_LINK_ATTEMPTS): the link is
   * no way to guess a password from Mailflow's address. Unset: no limit.
   */
  attempts?: { limit: number; windowSeconds: number };
}

/** The attempts limit for one tenant, server and login. */
export function linkAttemptsLimit(attempts: { limit: number; windowSeconds: number }, owner: string, target: ImapConnectionRecord): RateLimit {
  const { limit, windowSeconds } = attempts;
  return {
    key: `imap-link:${owner}:${target.host}:${target.port}:${target.username}`,
    limit,
    windowSeconds,
    description: `${limit} IMAP link attempts per ${windowSeconds} s for one login on one server`,
  };
}

export interface ImapLinkInput {
  account: AccountRow;
  /** The tenant that owns the account. */
  owner: string;
  /** The key that asks (api/auth/api-keys.ts), checked again before anything is stored. */
  credential: string;
  host: string;
  port: number;
  tls: ImapConnectionRecord['tls'];
  username: string;
  /** Exactly one of these: a password (`auth: password`) or an OAuth access token (`auth: xoauth2`). */
  password?: string;
  accessToken?: string;
}

export interface ImapLinkHooks {
  /** Whether the key that asked is still valid (not revoked during the login check, its tenant enabled). */
  credentialValid: (credential: string) => Promise<boolean>;
  /** Starts the mailbox's sync, or wakes it with the new credentials (a re-link). */
  startSync: (mailbox: { id: string; accountId: string }) => Promise<unknown>;
}

export interface LinkedImapMailbox {
  mailbox: MailboxRow;
  /** False for a re-link of a mailbox the account already had. */
  created: boolean;
}

/** The host as stored and compared: lower case, no trailing dot, an IPv6 address without brackets. */
export function normalizeImapHost(host: string): string {
  const trimmed = host.trim().toLowerCase().replace(/\.$/, '');
  const unbracketed = /^\[(.*)\]$/.exec(trimmed)?.[1];
  return unbracketed !== undefined && isIP(unbracketed) === 6 ? unbracketed : trimmed;
}

const hostPart = (host: string) => (isIP(host) === 6 ? `[${host}]` : host);

/** Who the mailbox is at its server: the same login on the same server is the same mailbox. */
export const imapExternalId = (target: Pick<ImapConnectionRecord, 'host' | 'port' | 'username'>) =>
  `${target.username}@${hostPart(target.host)}:${target.port}`.toLowerCase();

/** The username when it is a mail address, otherwise username@host. */
export function imapAddress(target: Pick<ImapConnectionRecord, 'host' | 'username'>): string {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(target.username) ? target.username : `${target.username}@${hostPart(target.host)}`;
}

export async function linkImapMailbox(ctx: ImapLinkContext, input: ImapLinkInput, hooks: ImapLinkHooks): Promise<LinkedImapMailbox> {
  const target: ImapConnectionRecord = {
    host: normalizeImapHost(input.host),
    port: input.port,
    tls: input.tls,
    username: input.username,
    auth: input.accessToken !== undefined ? 'xoauth2' : 'password',
  };
  const secret: ImapSecret = target.auth === 'xoauth2' ? { accessToken: input.accessToken ?? '' } : { password: input.password ?? '' };
  if (target.tls === 'none' && !ctx.policy.allowPlaintext) throw failure(new PlaintextRefusedError(), target, secret, ctx.policy);

  if (ctx.attempts) {
    const limit = linkAttemptsLimit(ctx.attempts, input.owner, target);
    await ctx.db.transaction(async (tx) => {
      await lockKeys(tx, [limit.key]);
      await consumeRateLimits(tx, [limit]);
    });
  }
  await checkLogin(target, secret, ctx.policy);
  // The check can take seconds: a key revoked meanwhile links nothing.
  if (!(await hooks.credentialValid(input.credential)))
    throw new ImapLinkError('revoked', 'The API key that asked has been revoked (or its tenant disabled) since, so nothing was linked.');

  const externalId = imapExternalId(target);
  const address = imapAddress(target);
  const linked = await ctx.db.transaction(async (tx) => {
    const id = newId('mbx');
    const now = new Date();
    const [row] = await tx
      .insert(mailboxes)
      .values({
        id,
        accountId: input.account.id,
        owner: input.owner,
        provider: 'imap',
        externalId,
        address,
        connection: target,
        status: 'LINKED',
        workflowId: mailboxSyncWorkflowId(id),
      })
      .onConflictDoUpdate({
        target: [mailboxes.accountId, mailboxes.provider, mailboxes.externalId],
        set: {
          address,
          connection: target,
          linkedAt: now,
          updatedAt: now,
          lastError: null,
          lastErrorAt: null,
          // A re-link ends REAUTH_REQUIRED on the row too: a run that starts from the row (no carried state) goes on.
          status: sql`case when ${mailboxes.status} = 'REAUTH_REQUIRED' then 'LINKED'::mailbox_status else ${mailboxes.status} end`,
        },
      })
      .returning();
    if (row!.status === 'UNLINKING') throw new ImapLinkError('unlinking', 'This mailbox is being unlinked; link it again in a moment.');
    // The secret is written with the row: the mailbox never exists without its credentials.
    await saveImapSecret(new SecretStore(tx as unknown as Database, ctx.encryptor), row!.id, secret);
    // The id generated here was taken only if the row is new; a re-link keeps the mailbox's own.
    return { mailbox: row!, created: row!.id === id };
  });
  // After commit: the workflow, woken or started, reads the credentials just stored. If Temporal refuses, a
  // new link is taken back (its row and secret); a re-link keeps its new credentials and can simply be retried.
  try {
    await hooks.startSync({ id: linked.mailbox.id, accountId: linked.mailbox.accountId });
  } catch {
    if (linked.created) {
      await ctx.db.delete(mailboxes).where(eq(mailboxes.id, linked.mailbox.id));
      await new SecretStore(ctx.db, ctx.encryptor).delete(imapSecretName(linked.mailbox.id));
    }
    throw new ImapLinkError('sync_unavailable', 'The mailbox could not be linked right now (its sync could not be started); try again in a moment.');
  }
  return linked;
}

class LinkDeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'LinkDeadlineError';
  }
}

/**
 * Logs in and out. Connecting, TLS and the greeting each have IMAP_TIMEOUT_MS; the whole check has twice
 * that, so a server that goes silent after its greeting does not hold the request for the socket timeout.
 */
async function checkLogin(target: ImapConnectionRecord, secret: ImapSecret, policy: ImapNetworkPolicy): Promise<void> {
  const deadlineMs = policy.timeoutMs * 2;
  const opening = openImap(target, secret, policy);
  let timer: NodeJS.Timeout | undefined;
  let client: ImapFlow;
  try {
    client = await Promise.race([
      opening,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LinkDeadlineError(deadlineMs)), deadlineMs);
      }),
    ]);
  } catch (error) {
    // A login that completes after the deadline is closed at once.
    void opening.then(
      (late) => late.close(),
      () => undefined,
    );
    throw failure(error, target, secret, policy);
  } finally {
    clearTimeout(timer);
  }
  // A LOGOUT that is not answered is not waited for longer (the timer does not hold the process open).
  await Promise.race([client.logout(), sleep(policy.timeoutMs, undefined, { ref: false })]).catch(() => undefined);
  client.close();
}

interface ImapErrorFields {
  code?: string;
  message?: string;
  responseText?: string;
  serverResponseCode?: string;
  tlsFailed?: boolean;
}

/** Printable text from the server or the TLS layer, short, and never the secret itself. */
function quoted(text: string | undefined, secret: ImapSecret): string {
  let clean = (text ?? '').replace(/[^\x20-\x7e]+/g, ' ').trim();
  for (const value of [secret.password, secret.accessToken]) if (value) clean = clean.split(value).join('[redacted]');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** The failure, named, with a reason a user can act on. */
function failure(error: unknown, target: ImapConnectionRecord, secret: ImapSecret, policy: ImapNetworkPolicy): ImapLinkError {
  const where = `${hostPart(target.host)}:${target.port}`;
  const seconds = `${policy.timeoutMs / 1000} s`;
  const e = (error ?? {}) as ImapErrorFields;
  const said = quoted(e.responseText, secret);
  const server = said ? ` (the server said: ${said})` : '';
  if (error instanceof LinkDeadlineError)
    return new ImapLinkError('timeout', `The IMAP server at ${where} did not complete the login within ${(policy.timeoutMs * 2) / 1000} s.`);
  // No greeting on an open port: most often a port that is not IMAP (or expects implicit TLS).
  if (e.code === 'GREETING_TIMEOUT')
    return new ImapLinkError(
      'not-imap',
      `${where} accepted the connection but sent no IMAP greeting within ${seconds}: it does not look like an IMAP server. Check the port${target.tls === 'implicit' ? '' : ', and whether it expects implicit TLS'}.`,
    );
  if (e.message === 'Unsupported authentication mechanism')
    return new ImapLinkError(
      'authentication',
      target.auth === 'xoauth2'
        ? `The IMAP server at ${where} does not offer OAuth sign-in (XOAUTH2 or OAUTHBEARER); link it with a password.`
        : `The IMAP server at ${where} offers no password sign-in this client supports (LOGIN, PLAIN).`,
    );
  if (e.message?.includes('did not resolve')) return new ImapLinkError('unreachable', `${target.host} does not resolve to any address.`);
  const kind = imapFailureKind(error);
  // STARTTLS failures (not offered, or its handshake failed) carry `tlsFailed`; PRIVACYREQUIRED: no login without TLS.
  if (e.tlsFailed || e.serverResponseCode === 'PRIVACYREQUIRED') return tlsFailure(e, target, where, secret);
  switch (kind) {
    case 'authentication':
      return new ImapLinkError(
        'authentication',
        `The IMAP server at ${where} refused the login for ${target.username}${server}: check the username and ${target.auth === 'xoauth2' ? 'access token' : 'password'}.`,
      );
    case 'refused-address':
      // The address it resolved to is not repeated: a caller learns nothing about the private network.
      return new ImapLinkError(
        'refused-address',
        `${target.host} is, or resolves to, a loopback, private, link-local or metadata address; this server does not connect there (an operator can allow the host with IMAP_ALLOW_HOSTS).`,
      );
    case 'plaintext':
      return new ImapLinkError(
        'plaintext',
        'This server does not connect to IMAP without TLS (IMAP_ALLOW_PLAINTEXT is off): use tls "implicit" (usually port 993) or "starttls" (usually port 143).',
      );
    case 'unreachable':
      return new ImapLinkError(
        'unreachable',
        e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
          ? `${target.host} does not resolve (${e.code}): check the host name.`
          : `${where} could not be reached (${e.code ?? 'no connection'}): check the host and port.`,
      );
    case 'timeout':
      return new ImapLinkError('timeout', `${where} did not answer within ${seconds} (${e.code ?? 'timeout'}).`);
    case 'not-imap':
      return new ImapLinkError(
        'not-imap',
        `${where} answered, but not as an IMAP server (${quoted(e.code ?? e.message, secret)}): check the host, port and TLS mode.`,
      );
    case 'tls':
      return tlsFailure(e, target, where, secret);
    case 'busy':
      return new ImapLinkError('busy', `The IMAP server at ${where} asked to try again later${server}: too many connections, or it is unavailable for now.`);
    case 'server':
      return new ImapLinkError('server', `The IMAP server at ${where} failed the login: ${said || quoted(e.message, secret) || 'no reason given'}.`);
  }
}

const CERTIFICATE = /^(CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_TLS_CERT|HOSTNAME_MISMATCH)/;

function tlsFailure(e: ImapErrorFields, target: ImapConnectionRecord, where: string, secret: ImapSecret): ImapLinkError {
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e.message ?? ''))
    return new ImapLinkError(
      'tls',
      `${where} did not answer with TLS: for implicit TLS use the server's IMAPS port (usually 993), or choose "starttls" (usually port 143).`,
    );
  if (CERTIFICATE.test(e.code ?? '') || /certificate|self[- ]signed/i.test(e.message ?? ''))
    return new ImapLinkError(
      'tls',
      `The TLS certificate of ${where} could not be verified (${quoted(e.message || e.code, secret)}): it must be valid for ${target.host} and signed by a trusted authority.`,
    );
  if (e.serverResponseCode === 'PRIVACYREQUIRED')
    return new ImapLinkError('tls', `The IMAP server at ${where} requires TLS before login: use implicit TLS (usually port 993) or STARTTLS.`);
  if (e.code === 'STARTTLS_INJECTION')
    return new ImapLinkError(
      'tls',
      `${where} sent data between its STARTTLS answer and the TLS handshake (a plaintext injection), so the connection was dropped.`,
    );
  if (/support STARTTLS|STARTTLS is not possible|can not start TLS/.test(e.message ?? ''))
    return new ImapLinkError(
      'tls',
      `${where} does not offer STARTTLS (${quoted(e.message, secret)}): use implicit TLS (usually port 993), or its STARTTLS port.`,
    );
  return new ImapLinkError('tls', `TLS could not be set up with ${where} (${quoted(e.message || e.code, secret) || 'no reason given'}).`);
}
