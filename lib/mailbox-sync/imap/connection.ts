// Opening a connection to a user's IMAP server: to the address the SSRF guard checked (with the host's name
// for TLS), certificates verified (against a custom CA too, when one is configured), plaintext only where
// the operator allows it; and what its failures mean, for a link (a reason to show) and for the sync
// engine (the port's errors).
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { ImapFlow } from 'imapflow';
import type { ImapConnectionRecord } from '../../../db/schema/index.js';
import type { Config } from '../../config.js';
import { AddressRefusedError, resolveAllowedAddress } from '../../net/address-guard.js';
import { ProviderRequestError, ReauthRequiredError, ThrottledError } from '../provider.js';

export type ImapTarget = ImapConnectionRecord;
/** The password, or (for `xoauth2`) an OAuth access token. */
export interface ImapSecret {
  password?: string;
  accessToken?: string;
}

export interface ImapNetworkPolicy {
  allowHosts: string[];
  allowPlaintext: boolean;
  qresync: boolean;
  /** Trusted CAs: the system's plus the configured file's; undefined: the system's. */
  ca: string[] | undefined;
  /**
   * Those CAs parsed once, for every connection: given `ca` alone, each connection parses the 140-odd roots into
   * a TLS context of its own (about 1 MB, and CPU at each connect), 2.4 GB for a worker watching 1,000 mailboxes.
   */
  secureContext?: SecureContext;
  timeoutMs: number;
}

export function imapNetworkPolicy(config: Config): ImapNetworkPolicy {
  const ca = config.IMAP_CA_FILE ? [...rootCertificates, readFileSync(config.IMAP_CA_FILE, 'utf8')] : undefined;
  return {
    allowHosts: config.IMAP_ALLOW_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    allowPlaintext: config.IMAP_ALLOW_PLAINTEXT,
    qresync: config.IMAP_USE_QRESYNC,
    ca,
    secureContext: ca ? createSecureContext({ ca }) : undefined,
    timeoutMs: config.IMAP_TIMEOUT_MS,
  };
}

/** TLS `none` asked for where the operator does not allow it. */
export class PlaintextRefusedError extends Error {
  constructor() {
    super('this server does not connect to IMAP without TLS (use implicit TLS or STARTTLS)');
    this.name = 'PlaintextRefusedError';
  }
}

/** How soon a watching connection IDLEs again after a command (the folder check's LIST-STATUS). */
const WATCH_IDLE_DELAY_MS = 100;

/**
 * A connected, authenticated client. QRESYNC is enabled when the server has it (CONDSTORE always is).
 * `idleRestartMs`: a watching connection, which IDLEs whenever it is not busy and restarts IDLE this often.
 */
export async function openImap(target: ImapTarget, secret: ImapSecret, policy: ImapNetworkPolicy, options: { idleRestartMs?: number } = {}): Promise<ImapFlow> {
  if (target.tls === 'none' && !policy.allowPlaintext) throw new PlaintextRefusedError();
  const address = await resolveAllowedAddress(target.host, policy.allowHosts);
  const client = new ImapFlow({
    host: address,
    port: target.port,
    secure: target.tls === 'implicit',
    doSTARTTLS: target.tls === 'starttls' ? true : target.tls === 'none' ? false : undefined,
    ...(address !== target.host ? { servername: target.host } : {}),
    tls: { rejectUnauthorized: true, ...(policy.secureContext ? { secureContext: policy.secureContext } : policy.ca ? { ca: policy.ca } : {}) },
    auth: target.auth === 'xoauth2' ? { user: target.username, accessToken: secret.accessToken ?? '' } : { user: target.username, pass: secret.password ?? '' },
    qresync: policy.qresync,
    logger: false,
    // A watching connection goes back to IDLE as soon as a command ends: imapflow's default wait (15 s) is as
    // long as the folder check's interval, so the connection never IDLEd, and Dovecot's STATUS of the selected
    // INBOX answers what the session last saw (no change there was ever noticed).
    ...(options.idleRestartMs ? { maxIdleTime: options.idleRestartMs, autoIdleDelay: WATCH_IDLE_DELAY_MS } : { disableAutoIdle: true }),
    connectionTimeout: policy.timeoutMs,
    greetingTimeout: policy.timeoutMs,
    socketTimeout: Math.max(policy.timeoutMs * 3, 60_000),
    // A server's ID answer is not needed, and the client's own is not sent.
    clientInfo: { name: 'mailflow' },
  });
  // A dropped socket is reported by the command that was running; this keeps it from being an unhandled event.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

interface ImapFailure {
  code?: string;
  authenticationFailed?: boolean;
  serverResponseCode?: string;
  responseText?: string;
  message?: string;
}

const TLS_CODES = /^(CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH)/;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
const TIMEOUT_CODES = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'ETIMEDOUT']);
const DROPPED_CODES = new Set(['NoConnection', 'EConnectionClosed', 'ClosedAfterConnectTLS']);

/** Why a connection or login failed, as a link reports it. */
export type ImapFailureKind = 'authentication' | 'busy' | 'refused-address' | 'plaintext' | 'tls' | 'unreachable' | 'timeout' | 'not-imap' | 'server';

/** Response codes that ask the client to come back later (RFC 5530); a login refused with one is not a wrong password. */
const BACK_OFF_CODES = new Set(['LIMIT', 'UNAVAILABLE', 'INUSE', 'OVERQUOTA', 'SERVERBUG']);
const BACK_OFF_MS = 10_000;

export function imapFailureKind(error: unknown): ImapFailureKind {
  if (error instanceof AddressRefusedError) return 'refused-address';
  if (error instanceof PlaintextRefusedError) return 'plaintext';
  const e = (error ?? {}) as ImapFailure;
  const code = e.code ?? '';
  // Dovecot refuses a login over its connection limit with NO [LIMIT]: busy, not a wrong password.
  if (BACK_OFF_CODES.has(e.serverResponseCode ?? '')) return 'busy';
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED' || e.serverResponseCode === 'AUTHORIZATIONFAILED') return 'authentication';
  if (TLS_CODES.test(code) || /certificate|self[- ]signed|SSL routines|wrong version number/i.test(e.message ?? '')) return 'tls';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  // Something answered, but not with an IMAP greeting (or it closed at once): not an IMAP server.
  if (code === 'ClosedAfterConnectText' || code.startsWith('Parser') || code === 'InvalidResponse' || code === 'UnexpectedTag') return 'not-imap';
  return 'server';
}

/** A failure as the sync engine sees it: the port's errors, or as is (retried by Temporal). */
export function classifyImapError(error: unknown): unknown {
  const kind = imapFailureKind(error);
  const e = (error ?? {}) as ImapFailure;
  if (kind === 'authentication')
    return new ReauthRequiredError(`the IMAP server refused the login (${e.responseText ?? e.serverResponseCode ?? 'authentication failed'})`);
  if (kind === 'refused-address' || kind === 'plaintext') return new ProviderRequestError(0, (error as Error).message);
  if (kind === 'busy') return new ThrottledError(BACK_OFF_MS, `the IMAP server asked to wait ([${e.serverResponseCode}])`);
  if (kind === 'unreachable' || kind === 'timeout' || DROPPED_CODES.has(e.code ?? '') || e.code === 'ETHROTTLE')
    return new ThrottledError(BACK_OFF_MS, `the IMAP server is unavailable (${e.code})`);
  return error;
}
