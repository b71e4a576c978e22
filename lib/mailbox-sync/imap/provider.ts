// IMAP behind the MailProvider port. A folder's cursor keeps what its last complete round started from
// (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, and on servers without QRESYNC the UIDs, and without CONDSTORE the
// flags, it saw), plus, mid-round, how far the round got. A round reads what changed since that start, a
// page of UIDs at a time in ascending order: with QRESYNC the SELECT names the expunged UIDs (VANISHED) and
// a SEARCH MODSEQ the changed and new ones; with CONDSTORE only, the UID list is compared for expunges; with
// neither, every message's flags are. Anything that changes during a round has a newer MODSEQ (or differs
// from the round's start) and is read again by the next one, so nothing is lost; reading a message twice
// writes the same document. A message's id is its folder's id and its UID: a move is a removal in one
// folder and an addition in the other. Each call opens its own connection (the workflow bounds how many
// run at once per mailbox) and logs out, except within a request batch (a folder's pages read in a row by
// one activity): there the connection stays open, the folder selected and the round's UIDs listed once.
import type { FetchMessageObject, FetchQueryObject, ImapFlow, ListResponse, MailboxObject, MessageAddressObject } from 'imapflow';
import type { Database } from '../../../db/client.js';
import type { Address } from '../message.js';
import {
  CursorExpiredError,
  FolderGoneError,
  SubscriptionGoneError,
  type ChangePage,
  type MailProvider,
  type ProviderFolder,
  type ProviderMessage,
  type PushChannel,
} from '../provider.js';
import { classifyImapError, openImap, type ImapNetworkPolicy, type ImapSecret, type ImapTarget } from './connection.js';
import { hasAttachments, textPartsOf, PREVIEW_BYTES, previewOf } from './preview.js';
import { currentRequestBatch } from '../request-batch.js';
import { packUids, unpackUids } from './uid-sets.js';
import { dropWatch, extendWatch, saveWatch, watchIdOf } from './watches.js';

/** How a folder's changes are found: QRESYNC, CONDSTORE only, or neither. */
type Mode = 'qresync' | 'condstore' | 'flags';

/** What a round starts from: the folder as it was when the round began. */
interface Snapshot {
  next: number;
  /** HIGHESTMODSEQ (qresync, condstore). */
  modseq?: string;
  /** The UIDs present (condstore, flags), and those \Seen and \Flagged (flags). */
  uids?: string;
  seen?: string;
  flagged?: string;
}
interface FolderCursor {
  v: 1;
  uidValidity: string;
  mode: Mode;
  /** The start of the last complete round; absent until the initial round completes. */
  base?: Snapshot;
  /** A round in progress: its start, and the last UID it has read. */
  round?: Snapshot & { after: number };
}

interface TreeCursor {
  v: 1;
  /** Whether the server names folders by GUID (Dovecot's STATUS X-GUID): then a rename keeps the folder's id. */
  guids: boolean;
  folders: Record<string, { path: string; uidValidity: string }>;
}

interface RawExec {
  exec(
    command: string,
    attributes: unknown[],
    options: { untagged: Record<string, (u: { attributes: unknown[] }) => Promise<void>> },
  ): Promise<{ next: () => void }>;
}

const FOLDER_PATH_PREFIX = 'path:';

/** A connection kept for a request batch's next request, with what it learnt that the next one can reuse. */
interface HeldSession {
  client: ImapFlow;
  busy: boolean;
  /** The UIDs a round has to read, listed at its first page in the batch: by folder and round. */
  candidates: Map<string, number[]>;
  /** Folder ids (GUIDs) whose path was checked in this batch. */
  paths: Map<string, string>;
}

export interface ImapProviderOptions {
  mailboxId: string;
  target: ImapTarget;
  secret: (reload: boolean) => Promise<ImapSecret>;
  policy: ImapNetworkPolicy;
  db: Database;
}

function address(a: MessageAddressObject | undefined): Address | null {
  return a ? { name: a.name ?? '', address: a.address ?? '' } : null;
}
const addresses = (list: MessageAddressObject[] | undefined): Address[] => (list ?? []).map(address).filter((a): a is Address => a !== null);

export class ImapMailProvider implements MailProvider {
  readonly name = 'imap';

  /** IDLE watches: the workflow keeps its row alive; a sync worker holds the connection (see watcher.ts). */
  readonly push: PushChannel = {
    subscribe: async ({ expiresAt }) => {
      await saveWatch(this.options.db, this.options.mailboxId, `mailbox-sync-${this.options.mailboxId}`, expiresAt);
      return { id: watchIdOf(this.options.mailboxId), expiresAt: expiresAt.toISOString() };
    },
    renew: async (id, expiresAt) => {
      if (!(await extendWatch(this.options.db, this.options.mailboxId, expiresAt))) throw new SubscriptionGoneError(`watch ${id} is gone`);
      return { id, expiresAt: expiresAt.toISOString() };
    },
    unsubscribe: async () => {
      await dropWatch(this.options.db, this.options.mailboxId);
    },
  };

  constructor(private readonly options: ImapProviderOptions) {}

  async refreshCredentials(): Promise<void> {
    await this.options.secret(true);
  }

  /**
   * One connection for one call: opened, used, logged out; its failures become the port's errors. Within a
   * request batch the connection is kept for the batch's next call (released when the batch ends), unless a
   * call of the batch is still using it; a failed call closes it.
   */
  private async session<T>(signal: AbortSignal, work: (client: ImapFlow, held: HeldSession) => Promise<T>): Promise<T> {
    const batch = currentRequestBatch();
    const key = `imap:${this.options.mailboxId}`;
    const kept = batch?.get<HeldSession>(key);
    const keeping = batch !== undefined && !kept?.busy;
    let held = keeping && kept?.client.usable ? kept : undefined;
    let client: ImapFlow | undefined = held?.client;
    const abort = () => client?.close();
    signal.addEventListener('abort', abort, { once: true });
    try {
      client ??= await openImap(this.options.target, await this.options.secret(false), this.options.policy);
      if (!held) {
        held = { client, busy: false, candidates: new Map(), paths: new Map() };
        const opened = client;
        if (keeping) batch.keep(key, held, () => logout(opened));
      }
      held.busy = true;
      const result = await work(client, held);
      held.busy = false;
      if (!keeping) await logout(client);
      return result;
    } catch (error) {
      client?.close();
      if (keeping) batch.drop(key);
      throw classifyImapError(error);
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  async folderChanges(cursor: string | null, signal: AbortSignal): Promise<ChangePage<ProviderFolder>> {
    const previous = cursor ? (JSON.parse(cursor) as TreeCursor) : null;
    return this.session(signal, async (client) => {
      const listed = (await client.list({ statusQuery: { messages: true, unseen: true, uidValidity: true } })).filter(
        (f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'),
      );
      const known = new Map(Object.entries(previous?.folders ?? {}).map(([id, f]) => [f.path, { id, uidValidity: f.uidValidity }]));
      let guids = previous?.guids ?? true;
      const folders: TreeCursor['folders'] = {};
      const idOfPath = new Map<string, string>();
      for (const f of listed) {
        const uidValidity = String(f.status?.uidValidity ?? '');
        const same = known.get(f.path);
        let id = same && same.uidValidity === uidValidity ? same.id : undefined;
        if (!id && guids) {
          const found = await folderGuid(client, f.path);
          // Deleted since the LIST: the next listing will not have it either.
          if (found === 'missing') continue;
          if (found === 'unsupported') guids = false;
          else id = found;
        }
        id ??= `${FOLDER_PATH_PREFIX}${f.path}`;
        folders[id] = { path: f.path, uidValidity };
        idOfPath.set(f.path, id);
      }
      const changed: ProviderFolder[] = [];
      for (const f of listed) {
        const id = idOfPath.get(f.path);
        if (!id) continue;
        // Unchanged: same path and UIDVALIDITY (a folder deleted and made again under its name is new to the engine).
        const before = previous?.folders[id];
        if (before && before.path === f.path && before.uidValidity === folders[id]!.uidValidity) continue;
        changed.push({ id, name: f.path, parentId: parentIdOf(f, idOfPath), total: f.status?.messages ?? 0, unread: f.status?.unseen ?? 0 });
      }
      const removed = Object.keys(previous?.folders ?? {}).filter((id) => !(id in folders));
      return { changed, removed, cursor: JSON.stringify({ v: 1, guids, folders } satisfies TreeCursor), caughtUp: true };
    });
  }

  async messageChanges(
    folderId: string,
    cursor: string | null,
    options: { pageSize: number; folderName?: string },
    signal: AbortSignal,
  ): Promise<ChangePage<ProviderMessage>> {
    const previous = cursor ? (JSON.parse(cursor) as FolderCursor) : null;
    return this.session(signal, async (client, held) => {
      const path = await this.pathOf(client, folderId, options.folderName, held);
      // A round starts from the folder as it is now: not from what a session that has it selected last saw
      // (Dovecot's STATUS of the selected folder answers that).
      if (!previous?.round && client.mailbox) await client.mailboxClose();
      // A caught-up folder whose STATUS is what the last round started from has nothing new: no SELECT.
      if (previous?.base && !previous.round && previous.mode !== 'flags') {
        const status = await client.status(path, { uidNext: true, uidValidity: true, highestModseq: true, messages: true }).catch((error: unknown) => {
          throw folderGone(error) ?? error;
        });
        if (!status) throw new Error(`STATUS ${path} gave no answer`);
        if (String(status.uidValidity) !== previous.uidValidity) throw new CursorExpiredError(`UIDVALIDITY of ${path} changed`);
        const unchanged =
          status.uidNext === previous.base.next &&
          String(status.highestModseq) === previous.base.modseq &&
          (previous.mode === 'qresync' || status.messages === unpackUids(previous.base.uids ?? '').size);
        if (unchanged) return { changed: [], removed: [], cursor: cursor!, caughtUp: true };
      }
      const vanished: number[] = [];
      const qresyncFrom = previous?.base && !previous.round && previous.mode === 'qresync' ? previous.base.modseq : undefined;
      // Mid-round, the folder the kept connection has selected serves as it is (the round's start is in the cursor).
      const selected = client.mailbox;
      const mailbox =
        previous?.round && selected && selected.path === path && selected.readOnly
          ? selected
          : await this.select(client, path, previous, qresyncFrom, vanished);
      const uidValidity = String(mailbox.uidValidity);
      if (previous && uidValidity !== previous.uidValidity) throw new CursorExpiredError(`UIDVALIDITY of ${path} changed`);
      const mode = modeOf(client, mailbox);
      if (previous && previous.mode !== mode) throw new CursorExpiredError(`${path} is now read by ${mode}, not ${previous.mode}: reading it afresh`);

      const base = previous?.base;
      let round = previous?.round;
      const removed: number[] = [];
      let flags: FlagState | undefined;
      if (!round) {
        // A round starts: the folder as it is now is what the next round starts from.
        round = { after: 0, next: mailbox.uidNext, ...(mailbox.highestModseq ? { modseq: String(mailbox.highestModseq) } : {}) };
        if (mode === 'condstore') {
          const uids = await searchUids(client, { all: true });
          round.uids = packUids(uids);
          if (base) removed.push(...difference(unpackUids(base.uids ?? ''), new Set(uids)));
        } else if (mode === 'flags') {
          flags = await allFlags(client);
          Object.assign(round, { uids: packUids(flags.uids), seen: packUids(flags.seen), flagged: packUids(flags.flagged) });
          if (base) removed.push(...difference(unpackUids(base.uids ?? ''), flags.uids));
        } else if (base) removed.push(...vanished);
      }

      // What this round has to read, in ascending UID order, after where it got to: listed once per round in
      // a batch (what changes after the listing has a newer MODSEQ, or differs from the round's start, and is
      // read by the next round).
      const roundKey = [folderId, uidValidity, mode, round.next, round.modseq ?? '', base?.modseq ?? ''].join(' ');
      let candidates = held.candidates.get(roundKey);
      if (!candidates) {
        if (!base) candidates = await searchUids(client, { uid: `${round.after + 1}:*` });
        else if (mode !== 'flags') candidates = await searchUids(client, { uid: `${round.after + 1}:*`, modseq: BigInt(base.modseq ?? '0') + 1n });
        else {
          const now = (flags ??= await allFlags(client));
          const [baseUids, baseSeen, baseFlagged] = [unpackUids(base.uids ?? ''), unpackUids(base.seen ?? ''), unpackUids(base.flagged ?? '')];
          candidates = [...now.uids].filter(
            (uid) => !baseUids.has(uid) || baseSeen.has(uid) !== now.seen.has(uid) || baseFlagged.has(uid) !== now.flagged.has(uid),
          );
        }
        candidates.sort((a, b) => a - b);
      }
      candidates = candidates.filter((uid) => uid > round.after);
      const take = candidates.slice(0, options.pageSize);
      const changed = take.length > 0 ? await this.fetchMessages(client, folderId, take) : [];
      const done = candidates.length <= options.pageSize;
      held.candidates.clear();
      if (!done) held.candidates.set(roundKey, candidates);
      const { after: _after, ...snapshot } = round;
      const next: FolderCursor = done
        ? { v: 1, uidValidity, mode, base: snapshot }
        : { v: 1, uidValidity, mode, ...(base ? { base } : {}), round: { ...round, after: take.at(-1)! } };
      return {
        changed,
        removed: removed.map((uid) => messageIdOf(folderId, uid)),
        cursor: JSON.stringify(next),
        caughtUp: done,
      };
    });
  }

  /** EXAMINE (read-only): with QRESYNC from the last round's start, expunged UIDs arrive as VANISHED (EARLIER). */
  private async select(
    client: ImapFlow,
    path: string,
    previous: FolderCursor | null,
    qresyncFrom: string | undefined,
    vanished: number[],
  ): Promise<MailboxObject> {
    const collect = (event: { uid?: number; vanished?: boolean; earlier?: boolean }) => {
      if (event.vanished && event.uid !== undefined) vanished.push(event.uid);
    };
    client.on('expunge', collect);
    try {
      return await client.mailboxOpen(path, {
        readOnly: true,
        ...(qresyncFrom && previous ? { uidValidity: BigInt(previous.uidValidity), changedSince: BigInt(qresyncFrom) } : {}),
      });
    } catch (error) {
      throw folderGone(error) ?? error;
    } finally {
      client.off('expunge', collect);
    }
  }

  /** The folder's path now: the name the engine knows, or (after a rename it has not seen yet) the one its GUID has. */
  private async pathOf(client: ImapFlow, folderId: string, name: string | undefined, held: HeldSession): Promise<string> {
    if (folderId.startsWith(FOLDER_PATH_PREFIX)) return folderId.slice(FOLDER_PATH_PREFIX.length);
    const known = held.paths.get(folderId);
    if (known && known === name) return known;
    let path: string | undefined;
    if (name && (await folderGuid(client, name)) === folderId) path = name;
    else
      for (const f of await client.list()) {
        if ((await folderGuid(client, f.path)) !== folderId) continue;
        path = f.path;
        break;
      }
    if (!path) throw new FolderGoneError(`folder ${folderId} is gone`);
    held.paths.set(folderId, path);
    return path;
  }

  private async fetchMessages(client: ImapFlow, folderId: string, uids: number[]): Promise<ProviderMessage[]> {
    // Only the answers to this FETCH: a session that has the folder selected is also told of other sessions'
    // flag changes (an untagged FETCH of FLAGS, without the UID where QRESYNC is off), which imapflow passes on.
    const wanted = new Set(uids);
    const byUid = new Map<number, FetchMessageObject>();
    for await (const m of client.fetch(packUids(uids), MESSAGE_FETCH_ITEMS, { uid: true })) {
      if (m.uid !== undefined && wanted.has(m.uid) && m.envelope) byUid.set(m.uid, m);
    }
    const fetched = [...byUid.values()];
    // Previews: the first bytes of each message's first text part.
    const { parts, byPart } = textPartsOf(fetched);
    const previews = new Map<number, string>();
    for (const [part, partUids] of byPart) {
      for await (const m of client.fetch(
        packUids(partUids),
        { uid: true, bodyParts: [{ key: part, start: 0, maxLength: PREVIEW_BYTES }] },
        {
          uid: true,
        },
      )) {
        const raw = m.bodyParts ? [...m.bodyParts.values()][0] : undefined;
        const textPart = m.uid !== undefined ? parts.get(m.uid) : undefined;
        if (raw && textPart) previews.set(m.uid, previewOf(raw, textPart));
      }
    }
    return fetched.map((m) => {
      const receivedAt = m.internalDate ? new Date(m.internalDate).toISOString() : null;
      const flags = m.flags ?? new Set<string>();
      return {
        id: messageIdOf(folderId, m.uid),
        folderId,
        subject: m.envelope?.subject ?? '',
        from: address(m.envelope?.from?.[0] ?? m.envelope?.sender?.[0]),
        to: addresses(m.envelope?.to),
        cc: addresses(m.envelope?.cc),
        receivedAt,
        isRead: flags.has('\\Seen'),
        flagStatus: flags.has('\\Flagged') ? 'flagged' : 'notFlagged',
        bodyPreview: previews.get(m.uid) ?? '',
        conversationId: m.threadId ?? null,
        internetMessageId: m.envelope?.messageId ?? null,
        hasAttachments: hasAttachments(m.bodyStructure),
        changeKey: m.modseq !== undefined ? String(m.modseq) : [...flags].sort().join(' '),
        // IMAP has no modification time: the arrival stands in, so every read of a message ties and the
        // later read (a higher write number) wins.
        lastModifiedAt: receivedAt ?? new Date(0).toISOString(),
      };
    });
  }
}

/** What the provider reads of each message (with a short preview of its first text part, fetched apart). */
export const MESSAGE_FETCH_ITEMS = {
  uid: true,
  flags: true,
  envelope: true,
  internalDate: true,
  size: true,
  bodyStructure: true,
  threadId: true,
} as const satisfies FetchQueryObject;

export const messageIdOf = (folderId: string, uid: number) => `${folderId}/${uid}`;

async function logout(client: ImapFlow): Promise<void> {
  await client.logout().catch(() => client.close());
}

function modeOf(client: ImapFlow, mailbox: MailboxObject): Mode {
  const modseqs = Boolean(mailbox.highestModseq) && !(mailbox as { noModseq?: boolean }).noModseq;
  if (modseqs && client.enabled.has('QRESYNC')) return 'qresync';
  if (modseqs && client.enabled.has('CONDSTORE')) return 'condstore';
  return 'flags';
}

function parentIdOf(f: ListResponse, idOfPath: Map<string, string>): string | null {
  const at = f.delimiter ? f.path.lastIndexOf(f.delimiter) : -1;
  return at > 0 ? (idOfPath.get(f.path.slice(0, at)) ?? null) : null;
}

function folderGone(error: unknown): FolderGoneError | undefined {
  const code = (error as { serverResponseCode?: string }).serverResponseCode;
  return code === 'NONEXISTENT' ? new FolderGoneError(`the folder is gone (${code})`) : undefined;
}

async function searchUids(client: ImapFlow, query: Record<string, unknown>): Promise<number[]> {
  const found = await client.search(query, { uid: true });
  return Array.isArray(found) ? found : [];
}

interface FlagState {
  uids: Set<number>;
  seen: Set<number>;
  flagged: Set<number>;
}

async function allFlags(client: ImapFlow): Promise<FlagState> {
  const state: FlagState = { uids: new Set(), seen: new Set(), flagged: new Set() };
  if (!client.mailbox || client.mailbox.exists === 0) return state;
  for await (const m of client.fetch('1:*', { uid: true, flags: true })) {
    if (m.uid === undefined || !m.flags) continue;
    state.uids.add(m.uid);
    if (m.flags?.has('\\Seen')) state.seen.add(m.uid);
    if (m.flags?.has('\\Flagged')) state.flagged.add(m.uid);
  }
  return state;
}

function difference(before: Set<number>, now: Set<number>): number[] {
  return [...before].filter((uid) => !now.has(uid));
}

/**
 * Dovecot's folder GUID (STATUS X-GUID, as `guid:…`): it survives renames. `unsupported` where the server rejects the item
 * (BAD), `missing` where the folder is not there (NO); a dropped connection throws, so a kick never passes for
 * a server without GUIDs.
 */
async function folderGuid(client: ImapFlow, path: string): Promise<string> {
  let guid: string | undefined;
  try {
    const response = await (client as unknown as RawExec).exec('STATUS', [{ type: 'STRING', value: path }, [{ type: 'ATOM', value: 'X-GUID' }]], {
      untagged: {
        STATUS: (untagged) => {
          const items = untagged.attributes[1] as { value: string }[] | undefined;
          const at = items?.findIndex((item) => item.value?.toUpperCase() === 'X-GUID') ?? -1;
          if (items && at >= 0) guid = items[at + 1]?.value;
          return Promise.resolve();
        },
      },
    });
    response.next();
  } catch (error) {
    const status = (error as { responseStatus?: string }).responseStatus;
    if (status === 'BAD') return 'unsupported';
    if (status === 'NO') return 'missing';
    throw error;
  }
  return guid ? `guid:${guid}` : 'unsupported';
}
