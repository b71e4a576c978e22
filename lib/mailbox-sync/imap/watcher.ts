// IMAP push for many mailboxes per sync worker, outside Temporal's activity slots: the worker leases IDLE
// watches from PostgreSQL (imap_watches, kept alive by each mailbox's workflow), holds one connection per
// leased mailbox that IDLEs on INBOX, checks every folder with one LIST-STATUS now and then on the same
// connection, and signals the mailbox's workflow to read when anything moved. A connection that drops is
// opened again with back-off (and the workflow told, as changes may have come meanwhile); while it cannot be,
// the workflow hears that push is interrupted and polls as it would without push. A worker that dies lets its
// leases run out and another worker takes them.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ImapFlow } from 'imapflow';
import type { Database } from '../../../db/client.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SecretStore } from '../../secret-store.js';
import { findMailbox } from '../sync-state.js';
import { imapFailureKind, imapNetworkPolicy, openImap, type ImapNetworkPolicy } from './connection.js';
import { loadImapSecret } from './credentials.js';
import { leaseWatches, markWatching, releaseLeases, renewLeases } from './watches.js';

/** Leases are renewed this often and last this long: a dead worker's watches move within LEASE_MS. */
const LEASE_TICK_MS = 5_000;
const LEASE_MS = 20_000;
/** Changes within this window make one signal. */
const DEBOUNCE_MS = 50;
const RETRY_MS = [1_000, 2_000, 5_000, 15_000, 60_000];
/** After a refused login: the workflow goes to REAUTH_REQUIRED by itself; the watch tries again much later. */
const REAUTH_RETRY_MS = 300_000;
/** A `restored` the workflow did not get is told again this much later while the watch stays connected. */
const REPORT_RETRY_MS = 5_000;

export interface WatcherDeps {
  db: Database;
  secrets: SecretStore;
  config: Config;
  logger: Logger;
  /** Tells the mailbox's workflow to read now (a `syncNow` signal). */
  notify: (workflowId: string) => Promise<void>;
  /** Tells the mailbox's workflow that its watch is down (a connection attempt failed) or connected again. */
  report: (workflowId: string, event: 'interrupted' | 'restored') => Promise<void>;
}

type FolderStatus = string;

class MailboxWatch {
  private client: ImapFlow | undefined;
  private closed = false;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private check: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reportAgain: NodeJS.Timeout | undefined;
  private folders = new Map<string, FolderStatus>();
  /**
   * What the workflow was last told: `interrupted` after a failed attempt, `restored` once one succeeds.
   * Unknown at first: a watch taken over from another holder (a worker that died, a lease that ran out)
   * cannot know what that holder last told, so its first attempt says which, either way.
   */
  private told: 'interrupted' | 'restored' | undefined;

  constructor(
    readonly mailboxId: string,
    private readonly workflowId: string,
    private readonly holder: string,
    private readonly deps: WatcherDeps,
    private readonly policy: ImapNetworkPolicy,
  ) {}

  private mark(watching: boolean): void {
    markWatching(this.deps.db, this.holder, this.mailboxId, watching).catch(() => undefined);
  }

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.check);
    clearTimeout(this.debounce);
    clearTimeout(this.reportAgain);
    this.client?.close();
    this.client = undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const mailbox = await findMailbox(this.deps.db, this.mailboxId);
      if (!mailbox?.connection) return this.close();
      const client = await openImap(mailbox.connection, await loadImapSecret(this.deps.secrets, this.mailboxId), this.policy, {
        idleRestartMs: this.deps.config.IMAP_IDLE_RESTART_SECONDS * 1000,
      });
      if (this.closed) return void client.close();
      this.client = client;
      client.on('close', () => this.dropped(client));
      for (const event of ['exists', 'expunge', 'flags'] as const) client.on(event, () => this.changed());
      await client.mailboxOpen('INBOX', { readOnly: true });
      this.folders = await folderStatuses(client);
      this.failures = 0;
      this.mark(true);
      if (this.told !== 'restored') this.tell('restored');
      // Changes made while there was no connection (or before this one, since the workflow last read) are read now.
      this.changed();
      this.check = setInterval(() => void this.checkFolders(client), this.deps.config.IMAP_FOLDER_CHECK_SECONDS * 1000);
    } catch (error) {
      this.client?.close();
      this.client = undefined;
      this.retryLater(imapFailureKind(error) === 'authentication' ? REAUTH_RETRY_MS : undefined);
      if (this.told !== 'interrupted') this.tell('interrupted');
      this.deps.logger.warn({ mailboxId: this.mailboxId, reason: imapFailureKind(error), failures: this.failures }, 'IMAP watch could not connect; retrying');
    }
  }

  private async checkFolders(client: ImapFlow): Promise<void> {
    try {
      const now = await folderStatuses(client);
      const moved = now.size !== this.folders.size || [...now].some(([path, status]) => this.folders.get(path) !== status);
      this.folders = now;
      if (moved) this.changed();
    } catch {
      client.close(); // dropped() reconnects
    }
  }

  private dropped(client: ImapFlow): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    clearInterval(this.check);
    this.mark(false);
    this.retryLater();
  }

  private retryLater(delay?: number): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), delay ?? RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)]);
    this.failures += 1;
  }

  private tell(event: 'interrupted' | 'restored'): void {
    this.told = event;
    clearTimeout(this.reportAgain);
    this.deps.report(this.workflowId, event).catch((error: unknown) => {
      this.deps.logger.warn({ mailboxId: this.mailboxId, err: error }, 'could not tell the sync about its watch');
      if (this.told !== event) return; // told otherwise since
      this.told = undefined;
      // `interrupted` is told again at the next failed attempt; `restored` has no next attempt while connected.
      if (event === 'restored')
        this.reportAgain = setTimeout(() => {
          if (!this.closed && this.client && this.told === undefined) this.tell('restored');
        }, REPORT_RETRY_MS);
    });
  }

  private changed(): void {
    if (this.debounce || this.closed) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.deps
        .notify(this.workflowId)
        .catch((error: unknown) => this.deps.logger.warn({ mailboxId: this.mailboxId, err: error }, 'could not signal the sync'));
    }, DEBOUNCE_MS);
  }
}

/** Every folder's counters: a change of any (new mail, flags, expunges, UIDVALIDITY) or of the folder list is a change. */
async function folderStatuses(client: ImapFlow): Promise<Map<string, FolderStatus>> {
  const listed = await client.list({ statusQuery: { messages: true, uidNext: true, uidValidity: true, highestModseq: true, unseen: true } });
  return new Map(
    listed.map((f) => [f.path, `${f.status?.uidValidity}/${f.status?.uidNext}/${f.status?.messages}/${f.status?.highestModseq}/${f.status?.unseen}`]),
  );
}

export class ImapIdleWatcher {
  readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly watches = new Map<string, MailboxWatch>();
  private readonly policy: ImapNetworkPolicy;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly deps: WatcherDeps) {
    this.policy = imapNetworkPolicy(deps.config);
  }

  /** Mailboxes watched by this process now. */
  get watching(): number {
    return this.watches.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), LEASE_TICK_MS);
    void this.tick();
  }

  /** Renews the leases held, lets go of watches no longer wanted, and takes free ones up to capacity. */
  tick(): Promise<void> {
    this.ticking ??= this.renewAndLease()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'IMAP watch leases could not be renewed'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async renewAndLease(): Promise<void> {
    const { db, config } = this.deps;
    const kept = await renewLeases(db, this.holder, [...this.watches.keys()], LEASE_MS);
    for (const [mailboxId, watch] of this.watches) {
      if (kept.has(mailboxId)) continue;
      watch.close();
      this.watches.delete(mailboxId);
    }
    const leased = await leaseWatches(db, this.holder, config.IMAP_WATCHES_PER_WORKER - this.watches.size, LEASE_MS);
    for (const lease of leased) {
      const watch = new MailboxWatch(lease.mailboxId, lease.workflowId, this.holder, this.deps, this.policy);
      this.watches.set(lease.mailboxId, watch);
      watch.start();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    for (const watch of this.watches.values()) watch.close();
    await releaseLeases(this.deps.db, this.holder, [...this.watches.keys()]).catch(() => undefined);
    this.watches.clear();
  }
}
