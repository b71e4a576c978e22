// Finds or starts Mailflow's own Dovecot (Debian's dovecot-imapd), configured from scratch under
// <dataDir>/dovecot/ and never touching a system Dovecot. Two instances share one mail store and the users:
//  - the main one: IMAP with STARTTLS offered (not required) on one loopback port, implicit TLS (imaps) on
//    another, with a certificate for localhost and 127.0.0.1 from a local CA made here with openssl;
//  - a "legacy" one whose CAPABILITY lacks CONDSTORE and QRESYNC, with index files of its own, so no modseq
//    turned on through the main one ever shows there (SELECT reports no HIGHESTMODSEQ): the fallback paths.
// PLAIN/LOGIN check a passwd-file per user (Dovecot re-reads a changed passwd-file at most once a second, but
// reads one it has not seen yet at once, so a new user logs in straight away); XOAUTH2/OAUTHBEARER ask the
// token-introspection simulator (simulators/imap-oauth/), which runs in this process.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startImapOAuthSimulator } from '../../simulators/imap-oauth/server.js';
import { alive, installWithApt, portOpen, startProcess, waitUntil, which, type ManagedProcess } from './process.js';

export interface DovecotPorts {
  /** IMAP, STARTTLS offered but not required. */
  imap: number;
  /** IMAP over implicit TLS. */
  imaps: number;
  /** IMAP (STARTTLS offered) from the instance without CONDSTORE and QRESYNC. */
  legacy: number;
  /** The token-introspection simulator (HTTP). */
  oauth: number;
}

export interface DovecotOptions {
  dataDir: string;
  ports: DovecotPorts;
  env: NodeJS.ProcessEnv;
  /** Tests: no fsync, and a fresh mail store and passwd-file when this call starts Dovecot. */
  fast?: boolean;
  log?: (line: string) => void;
}

export interface DovecotService {
  host: string;
  ports: DovecotPorts;
  /** The local CA's certificate (PEM): trust it to verify the server's certificate (localhost, 127.0.0.1). */
  caFile: string;
  /** One passwd-file per user, `<dir>/<user>` holding `user:{PLAIN}password`. */
  passwdDir: string;
  /** The main instance's config, for doveadm -c. */
  configFile: string;
  legacyConfigFile: string;
  /** Base URL of the token-introspection simulator: POST /tokens, POST /revoke, POST /introspect. */
  oauthUrl: string;
  started: boolean;
  /** The masters this call started (the main instance's first), each in its own process group; none when reused. */
  processes: ManagedProcess[];
  addUser: (user: string, password: string) => void;
  stop: () => Promise<void>;
}

/** Everything the capability list of Debian's Dovecot 2.3.19 has after login, less CONDSTORE and QRESYNC. */
export const LEGACY_IMAP_CAPABILITY =
  'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE';

interface Layout {
  root: string;
  configFile: string;
  legacyConfigFile: string;
  oauthConfigFile: string;
  passwdDir: string;
  mailDir: string;
  legacyIndexDir: string;
  tlsDir: string;
  caFile: string;
  caKey: string;
  certFile: string;
  keyFile: string;
  logDir: string;
}

export function dovecotLayout(dataDir: string): Layout {
  const root = join(dataDir, 'dovecot');
  const tlsDir = join(root, 'tls');
  return {
    root,
    configFile: join(root, 'dovecot.conf'),
    legacyConfigFile: join(root, 'dovecot-legacy.conf'),
    oauthConfigFile: join(root, 'oauth2.conf.ext'),
    passwdDir: join(root, 'users'),
    mailDir: join(root, 'mail'),
    legacyIndexDir: join(root, 'index-legacy'),
    tlsDir,
    caFile: join(tlsDir, 'ca.pem'),
    caKey: join(tlsDir, 'ca.key'),
    certFile: join(tlsDir, 'server.pem'),
    keyFile: join(tlsDir, 'server.key'),
    logDir: join(dataDir, 'logs'),
  };
}

/** Who Dovecot's processes and mail files run as: Debian's package users under root (Dovecot refuses root). */
interface Identities {
  internalUser: string;
  internalGroup: string;
  loginUser: string;
  mailUid: number;
  mailGid: number;
  mailUser: string;
  mailGroup: string;
}

function idOf(flag: '-u' | '-g', name: string): number | undefined {
  const out = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return out.status === 0 ? Number(out.stdout.trim()) : undefined;
}

function identities(): Identities {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const uid = idOf('-u', 'dovecot');
    const gid = idOf('-g', 'dovecot');
    if (uid === undefined || gid === undefined || idOf('-u', 'dovenull') === undefined) {
      throw new Error('the users dovecot and dovenull are missing: install dovecot-imapd (it creates them)');
    }
    return { internalUser: 'dovecot', internalGroup: 'dovecot', loginUser: 'dovenull', mailUid: uid, mailGid: gid, mailUser: 'dovecot', mailGroup: 'dovecot' };
  }
  const me = userInfo();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || String(me.gid);
  return { internalUser: me.username, internalGroup: group, loginUser: me.username, mailUid: me.uid, mailGid: me.gid, mailUser: me.username, mailGroup: group };
}

/** A unix socket path must fit in 108 bytes: a deep checkout gets its run directories under the temp dir. */
function runDir(layout: Layout, instance: string): string {
  const own = join(layout.root, 'run', instance);
  if (own.length <= 70) return own;
  return join(tmpdir(), `mailflow-dovecot-${createHash('sha256').update(layout.root).digest('hex').slice(0, 12)}`, instance);
}

function configText(
  layout: Layout,
  ids: Identities,
  o: { instance: string; imapPort: number; imapsPort: number; capability?: string; indexDir?: string; fast: boolean },
): string {
  const dh = '/usr/share/dovecot/dh.pem';
  return `# Written by scripts/services/dovecot.ts at each start: Mailflow's local Dovecot (${o.instance}).
instance_name = mailflow-${basename(dirname(layout.root))}-${o.instance}
base_dir = ${runDir(layout, o.instance)}
state_dir = ${join(layout.root, 'state', o.instance)}
log_path = ${join(layout.logDir, o.instance === 'main' ? 'dovecot.log' : `dovecot-${o.instance}.log`)}
protocols = imap
listen = 127.0.0.1
login_greeting = Mailflow local Dovecot (${o.instance}) ready.

default_internal_user = ${ids.internalUser}
default_internal_group = ${ids.internalGroup}
default_login_user = ${ids.loginUser}
mail_uid = ${ids.mailUid}
mail_gid = ${ids.mailGid}
first_valid_uid = ${Math.min(ids.mailUid, 1)}
first_valid_gid = ${Math.min(ids.mailGid, 1)}

ssl = yes
ssl_cert = <${layout.certFile}
ssl_key = <${layout.keyFile}
${existsSync(dh) ? `ssl_dh = <${dh}` : ''}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# Local only: a wrong password answers at once and never slows the next logins from 127.0.0.1.
auth_failure_delay = 0

mail_location = maildir:${layout.mailDir}/%u${o.indexDir ? `:INDEX=${o.indexDir}/%u` : ''}
${o.fast ? 'mail_fsync = never' : ''}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Archive {
    special_use = \\Archive
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Trash {
    special_use = \\Trash
  }
}

passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u ${layout.passwdDir}/%u
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${layout.oauthConfigFile}
}
userdb {
  driver = static
  # allow_all_users: doveadm -u looks users up without a passdb (the passdbs above serve logins only).
  args = uid=${ids.mailUid} gid=${ids.mailGid} home=${layout.mailDir}/%u allow_all_users=yes
}
${
  o.capability
    ? `
protocol imap {
  imap_capability = ${o.capability}
}
`
    : ''
}
# Many linked mailboxes each hold an IDLE connection (one per mailbox per sync worker): the defaults allow 100 TLS
# sessions (one login process each) and 1,024 mail processes. Login processes here proxy many sessions each
# (high-performance mode), and the limits leave room for several thousand connections.
default_client_limit = 8192
service imap {
  process_limit = 6000
}
service imap-login {
  chroot =
  service_count = 0
  process_min_avail = 2
  client_limit = 2000
  process_limit = 8
  inet_listener imap {
    port = ${o.imapPort}
  }
  inet_listener imaps {
    port = ${o.imapsPort}
    ssl = yes
  }
}
service anvil {
  chroot =
  # No growing delay for every login from an address after failed ones (tests try wrong passwords).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;
}

function oauthConfigText(oauthPort: number): string {
  return `# Written by scripts/services/dovecot.ts: bearer tokens are checked at the introspection simulator.
introspection_mode = post
introspection_url = http://127.0.0.1:${oauthPort}/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
`;
}

function run(command: string, args: string[], what: string): void {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${what} failed: ${out.stderr || out.stdout}`);
}

/** A local CA and a server certificate for localhost and 127.0.0.1, made once. */
function ensureCertificates(layout: Layout): void {
  if ([layout.caFile, layout.certFile, layout.keyFile].every((f) => existsSync(f))) return;
  if (!which('openssl')) throw new Error('openssl not found: install it (Debian: apt-get install openssl)');
  mkdirSync(layout.tlsDir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      layout.caKey,
      '-out',
      layout.caFile,
      '-days',
      '3650',
      '-subj',
      '/O=Mailflow local/CN=Mailflow local test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    'openssl (CA)',
  );
  const csr = join(layout.tlsDir, 'server.csr');
  const ext = join(layout.tlsDir, 'server.ext');
  run('openssl', ['req', ...ec, '-keyout', layout.keyFile, '-out', csr, '-subj', '/O=Mailflow local/CN=localhost'], 'openssl (server key)');
  writeFileSync(
    ext,
    'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n',
  );
  run(
    'openssl',
    ['x509', '-req', '-in', csr, '-CA', layout.caFile, '-CAkey', layout.caKey, '-CAcreateserial', '-out', layout.certFile, '-days', '825', '-extfile', ext],
    'openssl (server certificate)',
  );
  rmSync(csr, { force: true });
  chmodSync(layout.caKey, 0o600);
  chmodSync(layout.keyFile, 0o600);
}

/**
 * Adds (or replaces) a user of the local Dovecot: writes its passwd-file. A new user logs in at once; a changed
 * password may take a second. Names are lowercase (bearer logins lowercase them).
 */
export function addDovecotUser(passwdDir: string, user: string, password: string): void {
  if (!/^[a-z0-9][a-z0-9._+@-]{0,200}$/.test(user)) throw new Error(`not a usable IMAP user name: ${user}`);
  if (!/^[\x21-\x7e]{1,200}$/.test(password) || password.includes(':')) throw new Error('passwords are printable ASCII without spaces or colons');
  const file = join(passwdDir, user);
  const temp = `${file}.${process.pid}.tmp`;
  const before = existsSync(file) ? Math.floor(statSync(file).mtimeMs / 1000) : undefined;
  writeFileSync(temp, `${user}:{PLAIN}${password}\n`, { mode: 0o640 });
  // Dovecot sees a changed passwd-file by its mtime (whole seconds) and size: a password as long, changed
  // within the second the file was written, would go unseen for good. Its mtime moves on a second then.
  if (before !== undefined && Math.floor(statSync(temp).mtimeMs / 1000) <= before) utimesSync(temp, new Date(), new Date((before + 1) * 1000));
  // Readable by Dovecot's auth process: the directory's owner (the mail user when we are root).
  const owner = statSync(passwdDir);
  if (typeof process.getuid === 'function' && process.getuid() === 0) chownSync(temp, owner.uid, owner.gid);
  renameSync(temp, file);
}

/** Runs doveadm against Mailflow's Dovecot (the main instance's config); throws with its output on failure. */
export function doveadm(configFile: string, args: string[]): string {
  const out = spawnSync('doveadm', ['-c', configFile, ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`doveadm ${args.join(' ')} failed (${out.status}): ${out.stderr || out.stdout}`);
  return out.stdout;
}

/** True once something on the port greets like an IMAP server. */
export function imapGreets(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.includes('\n')) done(data.startsWith('* OK'));
    });
    socket.once('error', () => done(false));
  });
}

/** Dovecot is not installed here (and could not be installed): the stack runs without IMAP. */
export class DovecotNotInstalled extends Error {}

function findDovecot(env: NodeJS.ProcessEnv): string | undefined {
  return [env.DOVECOT_BIN, '/usr/sbin/dovecot', which('dovecot')].find((p): p is string => !!p && existsSync(p));
}

/** Each parent of `path` (up to /) traversable by others, so the mail uid can reach the mail store. */
function makeTraversable(path: string, log: (line: string) => void): void {
  for (let p = path; p !== dirname(p); p = dirname(p)) {
    const mode = statSync(p).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(p, mode | 0o011);
      log(`made ${p} traversable (o+x) for Dovecot's mail user`);
    }
  }
}

/** Whether the main instance of this data dir runs: its master's pid file, in its own run directory, names a live process. */
function ourMasterRuns(layout: Layout): boolean {
  try {
    const pid = Number(readFileSync(join(runDir(layout, 'main'), 'master.pid'), 'utf8').trim());
    return pid > 0 && alive(pid);
  } catch {
    return false;
  }
}

/** SIGTERM to the master alone (it stops its own processes), then whatever is left of its group. */
async function stopMaster(proc: ManagedProcess): Promise<void> {
  const { child } = proc;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  await proc.stop('SIGKILL', 5_000);
  // The master may exit before its last processes (log, anvil, stats): wait for its group to empty.
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 5_000;
  while (child.pid && groupAlive() && Date.now() < deadline) await sleep(50);
  if (child.pid && groupAlive()) process.kill(-child.pid, 'SIGKILL');
}

export async function ensureDovecot(options: DovecotOptions): Promise<DovecotService> {
  const log = options.log ?? (() => {});
  const layout = dovecotLayout(options.dataDir);
  const { ports } = options;
  const host = '127.0.0.1';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`dovecot stop failed: ${String(error)}`));
  };
  const service = (started: boolean, processes: ManagedProcess[] = []): DovecotService => ({
    host,
    ports,
    caFile: layout.caFile,
    passwdDir: layout.passwdDir,
    configFile: layout.configFile,
    legacyConfigFile: layout.legacyConfigFile,
    oauthUrl: `http://${host}:${ports.oauth}`,
    started,
    processes,
    addUser: (user, password) => addDovecotUser(layout.passwdDir, user, password),
    stop: stopAll,
  });

  try {
    // The introspection simulator first: a reused Dovecot may be missing only it (its host process ended).
    if (!(await portOpen(ports.oauth))) {
      const sim = await startImapOAuthSimulator({ port: ports.oauth, host });
      stops.push(() => sim.close());
    }

    const [mainUp, legacyUp] = await Promise.all([portOpen(ports.imap), portOpen(ports.legacy)]);
    if (mainUp && legacyUp) {
      if (!ourMasterRuns(layout)) {
        throw new Error(`port ${ports.imap} answers but not from the Dovecot configured in ${layout.configFile}: free the port`);
      }
      await waitUntil(`Dovecot on port ${ports.imap}`, () => imapGreets(ports.imap), { timeoutMs: 15_000 });
      log(`reusing the Dovecot already on ports ${ports.imap}/${ports.imaps}/${ports.legacy}`);
      return service(false);
    }
    if (mainUp || legacyUp) throw new Error(`port ${mainUp ? ports.imap : ports.legacy} is taken but the other Dovecot port is not: free it`);

    const dovecot = findDovecot(options.env) ?? installWithApt(['dovecot-imapd'], log, () => findDovecot(options.env));
    if (!dovecot) throw new DovecotNotInstalled('no IMAP server: Dovecot is not installed (Debian: apt-get install dovecot-imapd)');
    const ids = identities();

    if (options.fast) {
      // Tests make their own users: start from an empty mail store.
      rmSync(layout.mailDir, { recursive: true, force: true });
      rmSync(layout.legacyIndexDir, { recursive: true, force: true });
      rmSync(layout.passwdDir, { recursive: true, force: true });
    }
    mkdirSync(layout.root, { recursive: true });
    mkdirSync(layout.mailDir, { recursive: true });
    mkdirSync(layout.logDir, { recursive: true });
    makeTraversable(layout.root, log);
    ensureCertificates(layout);
    mkdirSync(layout.passwdDir, { recursive: true });
    // The auth process reads the passwd-files as the internal user; mail is written as the mail uid.
    chownSync(layout.passwdDir, ids.mailUid, ids.mailGid);
    chmodSync(layout.passwdDir, 0o750);
    mkdirSync(layout.legacyIndexDir, { recursive: true });
    chownSync(layout.mailDir, ids.mailUid, ids.mailGid);
    chownSync(layout.legacyIndexDir, ids.mailUid, ids.mailGid);
    writeFileSync(layout.oauthConfigFile, oauthConfigText(ports.oauth));
    const fast = !!options.fast;
    writeFileSync(layout.configFile, configText(layout, ids, { instance: 'main', imapPort: ports.imap, imapsPort: ports.imaps, fast }));
    writeFileSync(
      layout.legacyConfigFile,
      configText(layout, ids, {
        instance: 'legacy',
        imapPort: ports.legacy,
        imapsPort: 0,
        capability: LEGACY_IMAP_CAPABILITY,
        indexDir: layout.legacyIndexDir,
        fast,
      }),
    );

    const instances: [string, string, number][] = [
      ['dovecot', layout.configFile, ports.imap],
      ['dovecot-legacy', layout.legacyConfigFile, ports.legacy],
    ];
    // -F: each master stays in the foreground, supervised like the other services.
    const procs: ManagedProcess[] = instances.map(([name, config]) => startProcess(`${name}-master`, dovecot, ['-F', '-c', config], { logDir: layout.logDir }));
    stops.push(() => Promise.all(procs.map(stopMaster)).then(() => undefined));
    await Promise.all(
      instances.map(([name, , port], i) => waitUntil(`${name} on port ${port}`, () => imapGreets(port), { timeoutMs: 30_000, process: procs[i] })),
    );
    log(`Dovecot on ${host}: IMAP ${ports.imap}, IMAPS ${ports.imaps}, legacy ${ports.legacy}; token introspection on ${ports.oauth}`);
    return service(true, procs);
  } catch (error) {
    await stopAll();
    throw error;
  }
}
