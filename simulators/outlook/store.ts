// Mailboxes, folders and messages, and every change to them. Each change takes the mailbox's next
// sequence number and lands in the change logs of the folders it touches (and in the folder log when a
// folder's name, parent or counts change), which is all the delta endpoints read.
import { randomBytes, randomUUID } from 'node:crypto';
import { ChangeLog } from './change-log.js';
import { contacts, generateMessage, prng, seedFrom, type EmailAddress, type FlagStatus, type MessageFixture } from './fixtures.js';

export const WELL_KNOWN = {
  inbox: 'Inbox',
  sentitems: 'Sent Items',
  drafts: 'Drafts',
  deleteditems: 'Deleted Items',
  archive: 'Archive',
  junkemail: 'Junk Email',
} as const;
export type WellKnownName = keyof typeof WELL_KNOWN;

/** The mutable part of a message: what a version is made of (kept once for `staleNext`). */
export interface MessageVersion {
  folderId: string;
  isRead: boolean;
  flagStatus: FlagStatus;
  /** Epoch seconds, as Graph's lastModifiedDateTime: whole seconds, so two changes within one second share it
   * (a version is not unique); it never goes backwards for a message. */
  lastModified: number;
  changeKey: string;
}

export interface Message extends Omit<MessageFixture, 'isRead' | 'flagStatus'>, MessageVersion {
  id: string; // immutable id
  createdDateTime: number;
  previous?: MessageVersion;
}

/**
 * One message change a user action made, for change notifications: `folderId` is where the message is
 * now (for `deleted`, where it was); `fromFolderId` is where an `updated` message was before (a move).
 */
export interface MessageChange {
  type: 'created' | 'updated' | 'deleted';
  message: Message;
  folderId: string;
  fromFolderId?: string;
}

export interface Folder {
  id: string;
  displayName: string;
  parentId: string;
  wellKnown?: string;
  children: Set<string>;
  log: ChangeLog;
  total: number;
  unread: number;
}

/** The store's clock in whole epoch seconds (what change timestamps are made of). */
export type Clock = () => number;
export const nowSeconds: Clock = () => Math.floor(Date.now() / 1000);
const newFolderId = () => `AQMkAD${randomBytes(24).toString('base64url')}`;
// Outlook's ids share a long per-mailbox prefix and differ at the end; a counter there keeps them unique
// and makes seeding cheap (a random draw per message costs more than everything else together).
const processPrefix = randomBytes(6).toString('base64url');
let counter = 0;
const newChangeKey = () => `CQAAABYAAA${processPrefix}${(counter++).toString(36).padStart(8, '0')}`;

/**
 * Default ids (without `Prefer: IdType="ImmutableId"`) encode the folder, so they change when a message
 * moves, as Outlook's do; immutable ids never do. Both resolve back to the message.
 */
export function defaultId(immutableId: string, folderId: string): string {
  return `AAMkA${Buffer.from(`${immutableId}|${folderId}`).toString('base64url')}`;
}

export class Mailbox {
  readonly id = randomUUID(); // the user's object id (oid), also Graph's /me id
  seq = 0;
  readonly folders = new Map<string, Folder>();
  readonly deletedFolders = new Set<string>();
  readonly messages = new Map<string, Message>();
  readonly folderLog = new ChangeLog();
  readonly rootId = newFolderId();
  private readonly idPrefix = `AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A${randomBytes(18).toString('base64url')}AAA`;
  private readonly wellKnown = new Map<string, string>();
  private readonly rand: () => number;
  private readonly people: EmailAddress[];
  readonly owner: EmailAddress;
  private generated = 0;
  /** Told of every message change a user action makes. Seeding adds messages silently, as a mailbox's
   * existing content is no change anyone subscribed to. */
  onMessageChange?: (change: MessageChange) => void;

  /** `clock` gives every change its timestamp: the control API can stop it at one second. */
  constructor(
    readonly address: string,
    readonly displayName: string,
    seed?: number,
    private readonly clock: Clock = nowSeconds,
  ) {
    this.rand = prng(seed ?? seedFrom(address));
    this.people = contacts(this.rand);
    this.owner = { name: displayName, address };
    this.folders.set(this.rootId, {
      id: this.rootId,
      displayName: 'Top of Information Store',
      parentId: '',
      children: new Set(),
      log: new ChangeLog(),
      total: 0,
      unread: 0,
    });
    this.wellKnown.set('msgfolderroot', this.rootId);
    for (const [name, displayName] of Object.entries(WELL_KNOWN)) this.wellKnown.set(name, this.createFolder(displayName, this.rootId, name).id);
  }

  wellKnownIds(): Record<WellKnownName, string> {
    return Object.fromEntries(Object.keys(WELL_KNOWN).map((name) => [name, this.wellKnown.get(name)!])) as Record<WellKnownName, string>;
  }

  /** A live folder by id or well-known name (case-insensitive, like Graph). */
  folder(ref: string): Folder | undefined {
    return this.folders.get(ref) ?? this.folders.get(this.wellKnown.get(ref.toLowerCase()) ?? '');
  }

  /** A message by immutable or default id; a default id minted in another folder no longer resolves. */
  message(id: string): Message | undefined {
    const direct = this.messages.get(id);
    if (direct) return direct;
    if (!id.startsWith('AAMkA')) return undefined;
    const [immutableId, folderId] = Buffer.from(id.slice(5), 'base64url').toString().split('|');
    const message = this.messages.get(immutableId ?? '');
    return message && message.folderId === folderId ? message : undefined;
  }

  private next(): number {
    return ++this.seq;
  }

  /** Every entry of one log takes its own sequence number: a page boundary between two entries that
   * shared one would lose the second (pages continue after the last sequence number they reached). */
  private folderChanged(folder: Folder): void {
    if (folder.id !== this.rootId) this.folderLog.touch(folder.id, this.next(), true);
  }

  createFolder(displayName: string, parentId: string, wellKnown?: string): Folder {
    const parent = this.folders.get(parentId)!;
    const folder: Folder = {
      id: newFolderId(),
      displayName,
      parentId,
      ...(wellKnown ? { wellKnown } : {}),
      children: new Set(),
      log: new ChangeLog(),
      total: 0,
      unread: 0,
    };
    this.folders.set(folder.id, folder);
    parent.children.add(folder.id);
    this.folderChanged(folder);
    this.folderChanged(parent);
    return folder;
  }

  renameFolder(folder: Folder, displayName: string): void {
    folder.displayName = displayName;
    this.folderChanged(folder);
  }

  /** Permanent, with the folder's messages and its child folders. */
  deleteFolder(folder: Folder): void {
    const gone: MessageChange[] = [];
    const remove = (f: Folder) => {
      for (const child of f.children) remove(this.folders.get(child)!);
      for (const [id, state] of f.log.latest) {
        if (!state.present) continue;
        const message = this.messages.get(id);
        if (message) gone.push({ type: 'deleted', message, folderId: f.id });
        this.messages.delete(id);
      }
      this.folders.delete(f.id);
      this.deletedFolders.add(f.id);
      this.folderLog.touch(f.id, this.next(), false, 'deleted');
    };
    remove(folder);
    const parent = this.folders.get(folder.parentId)!;
    parent.children.delete(folder.id);
    this.folderChanged(parent);
    for (const change of gone) this.onMessageChange?.(change);
  }

  /** Generated messages; only the folders' final counts reach the folder log (one entry per folder). */
  seed(count: number, folder?: Folder): void {
    const ids = this.wellKnownIds();
    const now = this.clock();
    const touched = new Set<Folder>();
    for (let i = 0; i < count; i++) {
      const r = this.rand();
      const target =
        folder ?? this.folders.get(r < 0.8 ? ids.inbox : r < 0.9 ? ids.sentitems : r < 0.95 ? ids.archive : r < 0.98 ? ids.deleteditems : ids.junkemail)!;
      const fixture = generateMessage(this.rand, this.owner, this.people, this.generated++, now, target.wellKnown === 'sentitems');
      this.add(target, fixture, Math.min(now, fixture.receivedDateTime + 1 + Math.floor(this.rand() * 3_600)), this.next());
      touched.add(target);
    }
    for (const f of touched) this.folderChanged(f);
  }

  newMail(folder: Folder, patch: { subject?: string; from?: EmailAddress; receivedDateTime?: number }): Message {
    const now = this.clock();
    const fixture = generateMessage(this.rand, this.owner, this.people, this.generated++, now, false);
    Object.assign(
      fixture,
      { isRead: false, flagStatus: 'notFlagged' },
      patch.subject !== undefined ? { subject: patch.subject } : {},
      patch.from ? { from: patch.from } : {},
      {
        receivedDateTime: patch.receivedDateTime ?? now,
      },
    );
    const message = this.add(folder, fixture, Math.max(now, fixture.receivedDateTime), this.next());
    this.folderChanged(folder);
    this.onMessageChange?.({ type: 'created', message, folderId: folder.id });
    return message;
  }

  private add(folder: Folder, fixture: MessageFixture, lastModified: number, seq: number): Message {
    // Spelled out rather than spread: one object shape for every message keeps 50,000 of them cheap.
    const f = fixture;
    const message: Message = {
      id: `${this.idPrefix}${(counter++).toString(36).padStart(10, '0')}`,
      folderId: folder.id,
      isRead: f.isRead,
      flagStatus: f.flagStatus,
      lastModified,
      changeKey: newChangeKey(),
      createdDateTime: f.receivedDateTime,
      receivedDateTime: f.receivedDateTime,
      subject: f.subject,
      bodyPreview: f.bodyPreview,
      importance: f.importance,
      from: f.from,
      to: f.to,
      cc: f.cc,
      hasAttachments: f.hasAttachments,
      isDraft: f.isDraft,
      conversationId: f.conversationId,
      internetMessageId: f.internetMessageId,
    };
    this.messages.set(message.id, message);
    folder.log.touch(message.id, seq, true);
    folder.total += 1;
    if (!message.isRead) folder.unread += 1;
    return message;
  }

  /**
   * A new version of the message: a new changeKey, and lastModifiedDateTime the current second (never earlier
   * than the last one): a change in the same second as the one before keeps its timestamp, as on Graph.
   */
  update(message: Message, patch: Partial<Pick<MessageVersion, 'isRead' | 'flagStatus' | 'folderId'>>): void {
    const { folderId, isRead, flagStatus, lastModified, changeKey } = message;
    message.previous = { folderId, isRead, flagStatus, lastModified, changeKey };
    const from = this.folders.get(message.folderId)!;
    const to = patch.folderId ? this.folders.get(patch.folderId)! : from;
    const seq = this.next();
    from.total -= 1;
    if (!message.isRead) from.unread -= 1;
    Object.assign(message, patch, { lastModified: Math.max(this.clock(), lastModified), changeKey: newChangeKey() });
    to.total += 1;
    if (!message.isRead) to.unread += 1;
    if (to !== from) from.log.touch(message.id, seq, false, 'changed');
    to.log.touch(message.id, seq, true);
    if (to !== from || isRead !== message.isRead) this.folderChanged(from);
    if (to !== from) this.folderChanged(to);
    this.onMessageChange?.({ type: 'updated', message, folderId: to.id, fromFolderId: from.id });
  }

  /** Permanent: gone from the mailbox, `@removed` (deleted) in its folder's next round. */
  deleteMessage(message: Message): void {
    const folder = this.folders.get(message.folderId)!;
    const seq = this.next();
    this.messages.delete(message.id);
    folder.log.touch(message.id, seq, false, 'deleted');
    folder.total -= 1;
    if (!message.isRead) folder.unread -= 1;
    this.folderChanged(folder);
    this.onMessageChange?.({ type: 'deleted', message, folderId: folder.id });
  }
}
