// Linking an IMAP mailbox against the suite's real Dovecot (STARTTLS, implicit TLS from a local CA,
// XOAUTH2 through its token introspection), over HTTP: the link logs in before it stores anything, stores
// the secret sealed, starts the sync after the commit, and a second link of the same login is a re-link.
// Every way it cannot log in — a wrong password, nothing listening, something that is not IMAP, TLS that
// does not verify, silence, an address the SSRF guard refuses, plaintext where it is not allowed — answers
// a problem naming the cause, and nothing is stored.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { and, eq, like, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxes, secrets } from '../../db/schema/index.js';
import { imapNetworkPolicy } from '../../lib/mailbox-sync/imap/connection.js';
import { imapSecretName } from '../../lib/mailbox-sync/imap/credentials.js';
import { linkImapMailbox } from '../../lib/mailbox-sync/imap/link.js';
import { findAccount } from '../../lib/accounts/accounts.js';
import { addDovecotUser } from '../../scripts/services/dovecot.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { failingSyncStart, observeSyncStarts } from '../helpers/link-hooks.js';
import {
  asImapUser,
  createImapUser,
  imapConnection,
  imapServer,
  imapTestEnv,
  mintImapToken,
  revokeImapToken,
  seedMailbox,
  type ImapUser,
  type ImapVia,
} from '../helpers/imap.js';
import { startSyncRig, until, type SyncRig } from '../helpers/mailbox-sync.js';

const TIMEOUT_MS = 3_000;

let rig: SyncRig;
/** No allow-list, no plaintext: the production defaults. */
let strict: TestApi;
/** Allows the local server, but trusts only the system's authorities and refuses plaintext. */
let untrusting: TestApi;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  rig = await startSyncRig({ workers: false, env: { ...imapTestEnv(), IMAP_ALLOW_PLAINTEXT: 'true', IMAP_TIMEOUT_MS: String(TIMEOUT_MS) } });
  strict = await startTestApi({ IMAP_ALLOW_HOSTS: '', IMAP_ALLOW_PLAINTEXT: 'false', IMAP_CA_FILE: imapServer().caFile, IMAP_TIMEOUT_MS: String(TIMEOUT_MS) });
  untrusting = await startTestApi({ ...imapTestEnv(), IMAP_CA_FILE: '', IMAP_ALLOW_PLAINTEXT: 'false', IMAP_TIMEOUT_MS: String(TIMEOUT_MS) });
}, 60_000);
afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await untrusting?.close();
  await strict?.close();
  await rig?.close();
});

const post = (body: unknown, auth?: string | null): RequestInit & { auth?: string | null } => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
  ...(auth !== undefined ? { auth } : {}),
});

async function newAccount(api: Pick<TestApi, 'request'> = rig.api, auth?: string): Promise<string> {
  const response = await api.request('/v1/accounts', post({ email: `${unique('imap-link')}@example.com` }, auth));
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** The link request's body for a test user at a door of the server. */
function loginOf(user: ImapUser, via: ImapVia = 'starttls', secret: { password?: string; accessToken?: string } = { password: user.password }) {
  const c = imapConnection(user, via);
  return { host: c.host, port: c.port, tls: c.tls, username: c.username, ...secret };
}

const link = (accountId: string, body: unknown, options: { api?: Pick<TestApi, 'request'>; auth?: string | null } = {}) =>
  (options.api ?? rig.api).request(`/v1/accounts/${accountId}/mailboxes/imap`, post(body, options.auth));

interface MailboxSummary {
  id: string;
  accountId: string;
  provider: string;
  address: string;
  status: string;
  workflowId: string;
  linkedAt: string;
  createdAt: string;
}
interface Problem {
  type: string;
  status: number;
  detail: string;
  reason?: string;
  errors?: { path: string; message: string }[];
}

async function problem(response: Response, status: number, reason?: string): Promise<Problem> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const body = JSON.parse(text) as Problem;
  if (reason) expect(body.reason, text).toBe(reason);
  return body;
}

const db = () => rig.api.deps.db;
const rowsOf = (accountId: string) => db().select().from(mailboxes).where(eq(mailboxes.accountId, accountId));
const sealedOf = async (mailboxId: string) =>
  (
    await db()
      .select()
      .from(secrets)
      .where(eq(secrets.name, imapSecretName(mailboxId)))
  )[0];

/** Nothing stored: the account has no mailbox, and no IMAP secret exists without its mailbox. */
async function expectNothingStored(accountId: string) {
  expect(await rowsOf(accountId)).toEqual([]);
  const orphans = await db()
    .select({ name: secrets.name })
    .from(secrets)
    .where(
      and(
        like(secrets.name, 'imap-credentials:%'),
        sql`not exists (select 1 from ${mailboxes} where 'imap-credentials:' || ${mailboxes.id} = ${secrets.name})`,
      ),
    );
  expect(orphans).toEqual([]);
}

/** How many times the workflow was sent `relink` (every link and re-link sends it, with the start or without). */
async function relinkSignals(workflowId: string): Promise<number> {
  const history = await rig.api.deps.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'relink').length;
}

/** A TCP server on a free loopback port, counting its connections. */
async function tcpServer(onConnection: (socket: Socket) => void = () => undefined): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, connections: () => connections };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('linking an IMAP mailbox', () => {
  it('logs in over STARTTLS, stores the mailbox with its password sealed, and starts its sync', async () => {
    const user = createImapUser('link');
    const accountId = await newAccount();
    const response = await link(accountId, loginOf(user));
    expect(response.status).toBe(201);
    const summary = (await response.json()) as MailboxSummary;
    expect(summary).toMatchObject({ accountId, provider: 'imap', address: user.user, status: 'LINKED', workflowId: `mailbox-sync-${summary.id}` });
    expect(summary.id).toMatch(/^mbx_[0-9a-z]{26}$/);

    const [row] = await rowsOf(accountId);
    const { host, port } = imapServer();
    expect(row).toMatchObject({
      id: summary.id,
      provider: 'imap',
      owner: 'admin',
      externalId: `${user.user}@${host}:${port}`,
      connection: { host, port, tls: 'starttls', username: user.user, auth: 'password' },
    });
    // The password is in no column of the row, and sealed in the secret store (bound to the mailbox's id).
    expect(JSON.stringify(row)).not.toContain(user.password);
    const sealed = await sealedOf(summary.id);
    expect(sealed!.value).toMatch(/^v1\./);
    expect(sealed!.value).not.toContain(user.password);
    expect(JSON.parse(rig.api.deps.encryptor.decrypt(sealed!.value, imapSecretName(summary.id)))).toEqual({ password: user.password });
    expect(() => rig.api.deps.encryptor.decrypt(sealed!.value, imapSecretName('mbx_another'))).toThrow();

    expect((await rig.api.deps.temporal.workflow.getHandle(summary.workflowId).describe()).status.name).toBe('RUNNING');
    expect(await relinkSignals(summary.workflowId)).toBe(1);

    // The mailbox reads like any other, with its provider.
    const listed = (await (await rig.api.request(`/v1/accounts/${accountId}/mailboxes`)).json()) as { data: MailboxSummary[] };
    expect(listed.data).toEqual([expect.objectContaining({ id: summary.id, provider: 'imap', address: user.user })]);
    const account = (await (await rig.api.request(`/v1/accounts/${accountId}`)).json()) as { mailboxes: MailboxSummary[] };
    expect(account.mailboxes.map((m) => m.provider)).toEqual(['imap']);
    const detail = await rig.api.request(`/v1/mailboxes/${summary.id}`);
    expect(detail.status).toBe(200);
    expect(await detail.json()).toMatchObject({ id: summary.id, provider: 'imap' });
  });

  it('links over implicit TLS, verifying the certificate against IMAP_CA_FILE, on the IMAPS port by default', async () => {
    const user = createImapUser('imaps');
    const accountId = await newAccount();
    const response = await link(accountId, loginOf(user, 'imaps'));
    expect(response.status).toBe(201);
    const [row] = await rowsOf(accountId);
    expect(row!.connection).toMatchObject({ tls: 'implicit', port: imapServer().imapsPort });
    // Without a port, implicit TLS means 993 and the others 143 (nothing listens there here: unreachable).
    const other = await newAccount();
    const defaulted = await problem(await link(other, { host: '127.0.0.1', username: user.user, password: user.password }), 422, 'unreachable');
    expect(defaulted.detail).toContain('127.0.0.1:993');
    const starttls = await problem(await link(other, { host: '127.0.0.1', tls: 'starttls', username: user.user, password: user.password }), 422);
    expect(starttls.detail).toContain('127.0.0.1:143');
  });

  it('links with an OAuth access token (XOAUTH2), stored sealed like a password', async () => {
    const user = createImapUser('xoauth');
    const token = await mintImapToken(user);
    const accountId = await newAccount();
    const response = await link(accountId, loginOf(user, 'starttls', { accessToken: token }));
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as MailboxSummary;
    const [row] = await rowsOf(accountId);
    expect(row!.connection!.auth).toBe('xoauth2');
    const sealed = await sealedOf(id);
    expect(sealed!.value).not.toContain(token);
    expect(JSON.parse(rig.api.deps.encryptor.decrypt(sealed!.value, imapSecretName(id)))).toEqual({ accessToken: token });

    // A revoked token is a refused login, and nothing is stored.
    await revokeImapToken(token);
    const again = await newAccount();
    await problem(await link(again, loginOf(user, 'starttls', { accessToken: token })), 422, 'authentication');
    await expectNothingStored(again);
  });

  it('starts or wakes the sync only after the mailbox and its secret are committed', async () => {
    const user = createImapUser('commit');
    const accountId = await newAccount();
    const account = (await findAccount(db(), 'admin', accountId))!;
    const starts = observeSyncStarts(imapSecretName);
    try {
      const c = imapConnection(user);
      await linkImapMailbox(
        { db: db(), encryptor: rig.api.deps.encryptor, policy: imapNetworkPolicy(rig.api.deps.config) },
        { account, owner: 'admin', credential: 'test', host: c.host, port: c.port, tls: c.tls, username: c.username, password: user.password },
        starts.hooks,
      );
    } finally {
      await starts.end();
    }
    expect(starts.seen).toEqual([{ mailbox: 1, secret: 1 }]);
  });

  it("takes a new link back when its sync cannot be started, keeps a re-link's new secret, and links nothing for a key revoked meanwhile", async () => {
    const user = createImapUser('compensate');
    const accountId = await newAccount();
    const account = (await findAccount(db(), 'admin', accountId))!;
    const context = { db: db(), encryptor: rig.api.deps.encryptor, policy: imapNetworkPolicy(rig.api.deps.config) };
    const c = imapConnection(user);
    const input = { account, owner: 'admin', credential: 'test', host: c.host, port: c.port, tls: c.tls, username: c.username, password: user.password };
    const { attempted, hooks: failing } = failingSyncStart();
    await expect(linkImapMailbox(context, input, failing)).rejects.toMatchObject({ failure: 'sync_unavailable' });
    expect(attempted).toHaveLength(1);
    await expectNothingStored(accountId);
    expect(await sealedOf(attempted[0]!)).toBeUndefined();

    await expect(linkImapMailbox(context, input, { ...failing, credentialValid: () => Promise.resolve(false) })).rejects.toMatchObject({ failure: 'revoked' });
    expect(attempted).toHaveLength(1);
    await expectNothingStored(accountId);

    const linked = (await (await link(accountId, loginOf(user))).json()) as MailboxSummary;
    const before = (await sealedOf(linked.id))!.value;
    await expect(linkImapMailbox(context, input, failing)).rejects.toMatchObject({ failure: 'sync_unavailable' });
    expect(await rowsOf(accountId)).toHaveLength(1);
    expect((await sealedOf(linked.id))!.value).not.toBe(before);
  });

  it('re-links the same login: the new password replaces the old, REAUTH_REQUIRED ends, and the workflow is told', async () => {
    const user = createImapUser('relink');
    const accountId = await newAccount();
    const first = (await (await link(accountId, loginOf(user))).json()) as MailboxSummary;
    await db().update(mailboxes).set({ status: 'REAUTH_REQUIRED', lastError: 'the IMAP server refused the login' }).where(eq(mailboxes.id, first.id));

    // The user changes the password at the server.
    const changed: ImapUser = { user: user.user, password: `${user.password}-new` };
    addDovecotUser(imapServer().passwdDir, user.user, changed.password);
    await until('the new password to work', () => asImapUser(changed, () => Promise.resolve(true)).catch(() => false), 10_000, 250);
    const sealedBefore = (await sealedOf(first.id))!.value;
    // The old password is refused, and changes nothing.
    await problem(await link(accountId, loginOf(user)), 422, 'authentication');
    expect((await rowsOf(accountId))[0]).toMatchObject({ status: 'REAUTH_REQUIRED' });
    expect((await sealedOf(first.id))!.value).toBe(sealedBefore);

    const response = await link(accountId, loginOf(changed));
    expect(response.status).toBe(200);
    const again = (await response.json()) as MailboxSummary;
    expect(again).toMatchObject({ id: first.id, provider: 'imap', status: 'LINKED' });
    expect(Date.parse(again.linkedAt)).toBeGreaterThan(Date.parse(first.linkedAt));
    const rows = await rowsOf(accountId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'LINKED', lastError: null });
    expect(JSON.parse(rig.api.deps.encryptor.decrypt((await sealedOf(first.id))!.value, imapSecretName(first.id)))).toEqual({ password: changed.password });
    expect(await relinkSignals(first.workflowId)).toBe(2);
  });

  it("links the same login to another tenant's account as that account's own mailbox", async () => {
    const user = createImapUser('tenants');
    const accountA = await newAccount();
    const a = (await (await link(accountA, loginOf(user))).json()) as MailboxSummary;
    const keyB = await rig.api.request('/v1/api-keys', post({ name: unique('tenant-b') }));
    const { key } = (await keyB.json()) as { key: string };
    const accountB = await newAccount(rig.api, key);
    const response = await link(accountB, loginOf(user), { auth: key });
    expect(response.status).toBe(201);
    const b = (await response.json()) as MailboxSummary;
    expect(b.id).not.toBe(a.id);
    expect((await rowsOf(accountA)).map((m) => m.id)).toEqual([a.id]);
    expect((await rowsOf(accountB))[0]!.owner).not.toBe('admin');
    // Each tenant sees its own only.
    expect((await rig.api.request(`/v1/mailboxes/${a.id}`, { auth: key })).status).toBe(404);
    expect((await rig.api.request(`/v1/mailboxes/${b.id}`)).status).toBe(404);
  });

  it("answers 404 for another tenant's account, 401 without a key and 403 without the send scope, linking nothing", async () => {
    const user = createImapUser('route');
    const accountId = await newAccount();
    const other = (await (await rig.api.request('/v1/api-keys', post({ name: unique('other') }))).json()) as { key: string };
    await problem(await link(accountId, loginOf(user), { auth: other.key }), 404);
    expect((await link(accountId, loginOf(user), { auth: null })).status).toBe(401);
    const reader = (await (await rig.api.request('/v1/api-keys', post({ name: unique('reader'), scopes: ['read'] }))).json()) as { key: string };
    const refused = await problem(await link(accountId, loginOf(user), { auth: reader.key }), 403);
    expect(refused.detail).toContain('"send"');
    await expectNothingStored(accountId);
  });

  it('refuses bad bodies with 400 naming the field, and never echoes the password', async () => {
    const accountId = await newAccount();
    const password = 'Sup3r-Secret-Pa55';
    const valid = { host: 'imap.example.com', port: 993, tls: 'implicit', username: 'jane@example.com', password };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid, host: undefined }, 'host'],
      [{ ...valid, host: '' }, 'host'],
      [{ ...valid, host: 'imap example.com' }, 'host'],
      [{ ...valid, host: 'https://imap.example.com' }, 'host'],
      [{ ...valid, host: '-imap.example.com' }, 'host'],
      [{ ...valid, host: `${'a'.repeat(64)}.example.com` }, 'host'],
      [{ ...valid, host: `${'a.'.repeat(127)}com` }, 'host'],
      [{ ...valid, host: '1.2.3' }, 'host'],
      [{ ...valid, host: '256.1.1.1' }, 'host'],
      [{ ...valid, host: ':::' }, 'host'],
      [{ ...valid, port: 0 }, 'port'],
      [{ ...valid, port: 65_536 }, 'port'],
      [{ ...valid, port: 99.5 }, 'port'],
      [{ ...valid, port: '993' }, 'port'],
      [{ ...valid, tls: 'ssl' }, 'tls'],
      [{ ...valid, username: undefined }, 'username'],
      [{ ...valid, username: ' ' }, 'username'],
      [{ ...valid, username: 'x'.repeat(321) }, 'username'],
      [{ ...valid, username: 'jane\r\nA1 LOGOUT' }, 'username'],
      [{ ...valid, password: undefined }, 'password'],
      [{ ...valid, password: '' }, 'password'],
      [{ ...valid, password: `${password}\r\nA1 LOGOUT` }, 'password'],
      [{ ...valid, password: 'x'.repeat(1_025) }, 'password'],
      [{ ...valid, accessToken: 'a-token' }, 'accessToken'],
      [{ ...valid, password: undefined, accessToken: 'with space' }, 'accessToken'],
      [{ ...valid, auth: 'xoauth2' }, '(root)'],
    ];
    for (const [body, path] of cases) {
      const response = await link(accountId, body);
      const text = await response.text();
      expect(response.status, `${JSON.stringify(body)}: ${text}`).toBe(400);
      expect(
        (JSON.parse(text) as Problem).errors?.map((e) => e.path),
        JSON.stringify(body),
      ).toContain(path);
      expect(text).not.toContain(password);
    }
    expect((await rig.api.request(`/v1/accounts/${accountId}/mailboxes/imap`, { method: 'POST', body: 'host=x' })).status).toBe(415);
    await expectNothingStored(accountId);
  });
});

describe('a link that cannot log in', () => {
  it('names a refused login (a wrong password), without the password, and stores nothing', async () => {
    const user = createImapUser('wrong');
    const accountId = await newAccount();
    const wrong = 'not-the-password-42';
    const refused = await problem(await link(accountId, loginOf(user, 'starttls', { password: wrong })), 422, 'authentication');
    expect(refused.type).toBe('urn:mailflow:problem:unprocessable');
    expect(refused.detail).toMatch(/refused the login/);
    expect(refused.detail).toContain(user.user);
    expect(JSON.stringify(refused)).not.toContain(wrong);
    await expectNothingStored(accountId);
  });

  it('names an unreachable server: nothing listening on the port, or no such host', async () => {
    const accountId = await newAccount();
    const port = await closedPort();
    const closed = await problem(await link(accountId, { host: '127.0.0.1', port, tls: 'implicit', username: 'u', password: 'p' }), 422, 'unreachable');
    expect(closed.detail).toContain(`127.0.0.1:${port}`);
    expect(closed.detail).toContain('ECONNREFUSED');
    const unknown = await problem(await link(accountId, { host: 'no-such-host.invalid', username: 'u', password: 'p' }), 422, 'unreachable');
    expect(unknown.detail).toContain('no-such-host.invalid does not resolve');
    await expectNothingStored(accountId);
  });

  it('names a server that is not IMAP: an HTTP server, and one that answers something else and hangs up', async () => {
    const accountId = await newAccount();
    const http: HttpServer = createHttpServer((_, res) => res.end('hello'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => http.close(resolve)));
    const port = (http.address() as { port: number }).port;
    const body = { host: '127.0.0.1', port, username: 'u', password: 'p' };
    // An HTTP server waits for a request: no IMAP greeting comes.
    const silent = await problem(await link(accountId, { ...body, tls: 'starttls' }), 422, 'not_imap');
    expect(silent.detail).toMatch(/no IMAP greeting/);
    // Implicit TLS to it: the handshake meets plain HTTP.
    const tls = await problem(await link(accountId, { ...body, tls: 'implicit' }), 422, 'tls');
    expect(tls.detail).toMatch(/did not answer with TLS/);
    const talker = await tcpServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
    const other = await problem(await link(accountId, { ...body, port: talker.port, tls: 'starttls' }), 422, 'not_imap');
    expect(other.detail).toMatch(/not as an IMAP server/);
    await expectNothingStored(accountId);
  });

  it('names TLS failures: a certificate no trusted authority signed (implicit and STARTTLS), and a server without STARTTLS', async () => {
    const user = createImapUser('untrusted');
    const accountId = await newAccount(untrusting);
    for (const via of ['imaps', 'starttls'] as const) {
      const refused = await problem(await link(accountId, loginOf(user, via), { api: untrusting }), 422, 'tls');
      expect(refused.detail, via).toMatch(/certificate .* could not be verified/);
    }
    await expectNothingStored(accountId);
    // A server that does not offer STARTTLS: refused rather than continued in plaintext.
    const noStartTls = await tcpServer((socket) => {
      socket.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no STARTTLS here\r\n');
      socket.on('data', (data: Buffer) => {
        const tag = data.toString().split(' ')[0];
        socket.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\n`);
      });
    });
    const plain = await problem(
      await link(accountId, { host: '127.0.0.1', port: noStartTls.port, tls: 'starttls', username: 'u', password: 'p' }, { api: untrusting }),
      422,
      'tls',
    );
    expect(plain.detail).toMatch(/does not offer STARTTLS/);
    await expectNothingStored(accountId);
  });

  it('answers 504 when the server greets and then goes silent', async () => {
    const accountId = await newAccount();
    const silent = await tcpServer((socket) => socket.write('* OK IMAP4rev1 ready\r\n'));
    const started = Date.now();
    const timedOut = await problem(await link(accountId, { host: '127.0.0.1', port: silent.port, tls: 'none', username: 'u', password: 'p' }), 504, 'timeout');
    expect(timedOut.type).toBe('urn:mailflow:problem:gateway_timeout');
    expect(timedOut.detail).toContain(`127.0.0.1:${silent.port}`);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 2 + 5_000);
    await expectNothingStored(accountId);
  });

  it('refuses loopback, private, link-local and metadata addresses (SSRF) unless allowed, before connecting', async () => {
    const listening = await tcpServer();
    const accountId = await newAccount(strict);
    const hosts = [
      '127.0.0.1',
      'localhost',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      'fd00:ec2::254',
    ];
    for (const host of hosts) {
      const refused = await problem(
        await link(accountId, { host, port: listening.port, username: 'u', password: 'p' }, { api: strict }),
        422,
        'refused_address',
      );
      expect(refused.detail, host).toMatch(/loopback, private, link-local or metadata address/);
    }
    // A name is refused without saying where it resolves.
    const named = await problem(await link(accountId, { host: 'localhost', port: listening.port, username: 'u', password: 'p' }, { api: strict }), 422);
    expect(named.detail).not.toContain('127.0.0.1');
    expect(listening.connections()).toBe(0);
    await expectNothingStored(accountId);

    // The allow-list lets its hosts through (the rig allows 127.0.0.1 and localhost), and only those.
    const allowed = await newAccount();
    for (const host of ['10.0.0.1', '169.254.169.254', '127.0.0.2', '::1'])
      await problem(await link(allowed, { host, port: listening.port, username: 'u', password: 'p' }, {}), 422, 'refused_address');
    expect(listening.connections()).toBe(0);
    const user = createImapUser('allowed');
    expect((await link(allowed, { ...loginOf(user), host: 'localhost' })).status).toBe(201);
  });

  it('refuses tls none unless IMAP_ALLOW_PLAINTEXT is on, before connecting', async () => {
    const user = createImapUser('plain');
    const listening = await tcpServer();
    const accountId = await newAccount(untrusting);
    const refused = await problem(await link(accountId, { ...loginOf(user, 'plain'), port: listening.port }, { api: untrusting }), 422, 'plaintext');
    expect(refused.detail).toMatch(/without TLS/);
    expect(listening.connections()).toBe(0);
    await problem(await link(accountId, loginOf(user, 'plain'), { api: untrusting }), 422, 'plaintext');
    await expectNothingStored(accountId);
    // Where it is allowed, it links.
    const allowed = await newAccount();
    const linked = await link(allowed, loginOf(user, 'plain'));
    expect(linked.status).toBe(201);
    expect((await rowsOf(allowed))[0]!.connection).toMatchObject({ tls: 'none' });
  });
});

describe('link attempts', () => {
  it('answers 429 with Retry-After, before connecting, once a tenant has used its attempts for one login on one server', async () => {
    const limited = await startTestApi({
      ...imapTestEnv(),
      IMAP_LINK_ATTEMPTS: '2',
      IMAP_LINK_ATTEMPTS_WINDOW_SECONDS: '600',
      IMAP_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    closers.push(() => limited.close());
    const user = createImapUser('attempts');
    const accountId = await newAccount(limited);
    // Something that hangs up at once: each attempt that gets through is one connection.
    const listening = await tcpServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const attempt = (password: string) =>
      link(accountId, { host: '127.0.0.1', port: listening.port, tls: 'starttls', username: user.user, password }, { api: limited });
    await problem(await attempt('guess-1'), 422, 'not_imap');
    await problem(await attempt('guess-2'), 422, 'not_imap');
    const refused = await attempt('guess-3');
    const body = await problem(refused, 429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(body.detail).toMatch(/IMAP link attempts/);
    expect(listening.connections()).toBe(2);
    await expectNothingStored(accountId);
    // Another login on the real server has attempts of its own, and links.
    const other = createImapUser('attempts-other');
    expect((await link(accountId, loginOf(other), { api: limited })).status).toBe(201);
  });
});

describe('an IMAP mailbox under the mailbox routes', () => {
  it('syncs, pauses, resumes, resyncs and unlinks as an Outlook mailbox does; unlinking deletes its secret', async () => {
    await rig.startWorkers();
    try {
      const user = createImapUser('routes');
      await seedMailbox(user, { folders: { INBOX: 5 } });
      const accountId = await newAccount();
      const { id } = (await (await link(accountId, loginOf(user))).json()) as MailboxSummary;
      await rig.waitForMailbox(id, (m) => m.status === 'LIVE' && m.sync.messagesInIndex >= 5);
      expect(await rig.messages(accountId)).toHaveLength(5);
      const signal = (name: string) => rig.api.request(`/v1/mailboxes/${id}/${name}`, { method: 'POST' });
      expect((await signal('pause')).status).toBe(202);
      await rig.waitForMailbox(id, (m) => m.status === 'PAUSED');
      expect((await signal('resume')).status).toBe(202);
      await rig.waitForMailbox(id, (m) => m.status === 'LIVE');
      expect((await signal('sync')).status).toBe(202);
      expect((await signal('resync')).status).toBe(202);
      await rig.waitForMailbox(id, (m) => m.status === 'LIVE' && m.sync.messagesInIndex === 5);
      expect((await rig.api.request(`/v1/mailboxes/${id}`, { method: 'DELETE' })).status).toBe(202);
      await until('the mailbox to be unlinked', async () => (await rig.api.request(`/v1/mailboxes/${id}`)).status === 404, 30_000, 200);
      expect(await sealedOf(id)).toBeUndefined();
      await expectNothingStored(accountId);
    } finally {
      await rig.stopWorkers();
    }
  }, 120_000);
});
