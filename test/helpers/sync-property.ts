// A property of mailbox sync: whatever a user does and whatever Graph throws at it, once things calm down
// the index holds exactly the mailbox. One scenario per seed: a seeded mailbox is linked, and a seeded random
// sequence of user actions (through the simulator's control API) and simulator faults runs while the initial
// sync is under way and after it, with a comparison of the index and the simulator's mailbox after each part
// (waited for with a deadline). The same seed gives the same mailbox and the same actions on the same
// messages: only the interleaving with the sync differs, which is what the actions are meant to vary.
import { prng } from '../../simulators/outlook/fixtures.js';
import { until, type SyncRig } from './mailbox-sync.js';
import type { OutlookAction } from './outlook.js';

export interface ScenarioOptions {
  /** Messages seeded before the link (most in the inbox, some in a folder of its own). */
  messages: number;
  /** User actions and faults in all, half during the initial sync and half after it. */
  actions: number;
  /** How long the index may take to catch up after each part. */
  settleMs?: number;
}

/** Folders a message may be moved to, besides the mailbox's own folders (never the well-known Drafts or Sent Items). */
const MOVE_TARGETS = ['inbox', 'archive', 'deleteditems', 'junkemail'];

type Pick = <T>(list: readonly T[]) => T;

/** What differs between the index and the simulator's mailbox now, or undefined when they are the same. */
export async function mirrorDifference(rig: SyncRig, address: string, accountId: string, mailboxId: string): Promise<string | undefined> {
  const [mailbox, messages, indexed, linked] = await Promise.all([
    rig.outlook.mailbox(address),
    rig.outlook.messages(address),
    rig.messages(accountId),
    rig.mailbox(mailboxId),
  ]);
  const names = new Map(mailbox.folders.map((f) => [f.id, f.displayName]));
  const diff = (label: string, want: string[], have: string[]) => {
    const missing = want.filter((k) => !have.includes(k));
    const extra = have.filter((k) => !want.includes(k));
    const twice = have.length - new Set(have).size;
    if (missing.length === 0 && extra.length === 0 && twice === 0) return undefined;
    return `${label}: ${want.length} expected, ${have.length} indexed; missing ${JSON.stringify(missing.slice(0, 5))}; unexpected ${JSON.stringify(extra.slice(0, 5))}${twice ? `; ${twice} twice` : ''}`;
  };
  return (
    diff(
      'messages',
      messages.map((m) => `${m.id}|${m.folderId}|${names.get(m.folderId)}|read=${m.isRead}|${m.flagStatus}`),
      indexed.map((m) => `${m.id}|${m.folder.id}|${m.folder.name}|read=${m.isRead}|${m.flagStatus}`),
    ) ??
    diff(
      'folders',
      mailbox.folders.map((f) => `${f.id}|${f.displayName}`),
      linked.folders.map((f) => `${f.id}|${f.name}`),
    )
  );
}

async function waitForMirror(rig: SyncRig, ids: { address: string; accountId: string; mailboxId: string }, timeoutMs: number): Promise<void> {
  let last: string | undefined;
  try {
    await until(
      'the index to mirror the mailbox',
      async () => (last = await mirrorDifference(rig, ids.address, ids.accountId, ids.mailboxId)) === undefined,
      timeoutMs,
    );
  } catch {
    throw new Error(`the index does not mirror the mailbox: ${last}`);
  }
}

/** Runs one seed's scenario against the rig's simulator and workers; throws (naming the step) if the index and the mailbox part. */
export async function runSyncScenario(rig: SyncRig, seed: number, options: ScenarioOptions, log: (line: string) => void = () => {}): Promise<void> {
  const rand = prng(seed);
  const pick: Pick = (list) => list[Math.floor(rand() * list.length)]!;
  const settleMs = options.settleMs ?? 90_000;
  const sim = rig.outlook;
  const address = `property-${seed}-${Date.now().toString(36)}@contoso.test`;
  await sim.createMailbox(address, { seed });
  const projects = await sim.act(address, { type: 'createFolder', displayName: 'Projects' });
  await sim.seed(address, Math.ceil(options.messages * 0.8), 'inbox');
  await sim.seed(address, Math.floor(options.messages * 0.2), projects.id);
  let folderCount = 0;

  const act = async (action: OutlookAction) => {
    log(JSON.stringify(action));
    return sim.act(address, action);
  };
  /** A message picked by its position in the mailbox's listing (the same logical message on a replay). */
  const someMessage = async () => {
    const messages = await sim.messages(address);
    return messages.length > 0 ? pick(messages) : undefined;
  };
  const customFolders = async () => (await sim.mailbox(address)).folders.filter((f) => f.wellKnownName === null);

  const step = async (ids: { address: string; accountId: string; mailboxId: string }) => {
    const r = rand();
    if (r < 0.14)
      return act({
        type: 'newMail',
        folder: pick(['inbox', 'inbox', 'archive', ...(await customFolders()).map((f) => f.id)]),
        subject: `Seed ${seed} mail ${rand().toString(36).slice(2, 8)}`,
      });
    if (r < 0.28) {
      const m = await someMessage();
      return m && act({ type: 'markRead', id: m.id, isRead: !m.isRead });
    }
    if (r < 0.38) {
      const m = await someMessage();
      return m && act({ type: 'flag', id: m.id, flagStatus: pick(['flagged', 'notFlagged', 'complete'] as const) });
    }
    if (r < 0.52) {
      const m = await someMessage();
      const to = pick([...MOVE_TARGETS, ...(await customFolders()).map((f) => f.id)]);
      return m && act({ type: 'move', id: m.id, to });
    }
    if (r < 0.59) {
      const m = await someMessage();
      return m && act({ type: 'delete', id: m.id });
    }
    if (r < 0.63) return act({ type: 'createFolder', displayName: `Folder ${seed}-${++folderCount}` });
    if (r < 0.66) {
      const folders = await customFolders();
      return folders.length > 0 && act({ type: 'renameFolder', folder: pick(folders).id, displayName: `Renamed ${seed}-${++folderCount}` });
    }
    if (r < 0.68) {
      const folders = await customFolders();
      return folders.length > 1 && act({ type: 'deleteFolder', folder: pick(folders).id });
    }
    if (r < 0.73) {
      // Same-second changes: the clock stops while a message changes two or three times (read, flag, moved).
      // Half the time its folder's next page is made between the first change and the move and delivered a few
      // steps later: a page fetched before the move, applied after the destination's.
      const m = await someMessage();
      if (!m) return;
      log('clock frozen');
      await sim.configure({ clockFrozenAt: new Date().toISOString() });
      await act({ type: 'markRead', id: m.id, isRead: !m.isRead });
      if (rand() < 0.5) await act({ type: 'flag', id: m.id, flagStatus: m.flagStatus === 'flagged' ? 'notFlagged' : 'flagged' });
      if (heldUntil === undefined && rand() < 0.5) {
        log(`page of ${m.folderId} held after it is made`);
        await sim.configure({ holdAnsweredFolders: [m.folderId] });
        heldUntil = index + 1 + Math.floor(rand() * 3);
        // Made within a poll interval or two; if not (the folder's round is stuck behind a fault), go on.
        await until('the page to be made', async () => (await sim.stats()).heldAnswers > 0, 5_000).catch(() => log('no page made in time'));
      }
      const moved = await act({ type: 'move', id: m.id, to: pick([...MOVE_TARGETS, ...(await customFolders()).map((f) => f.id)]) });
      if (heldUntil !== undefined) heldMove = { id: m.id, folderId: moved.folderId as string };
      await sim.configure({ clockFrozenAt: null });
      return;
    }
    if (r < 0.77) return fault({ throttleNext: { count: 1 + Math.floor(rand() * 2), status: pick([429, 503] as const), retryAfterSeconds: 1 } });
    if (r < 0.81) return fault({ replayNext: 1 + Math.floor(rand() * 2) });
    if (r < 0.85) return fault({ emptyPagesNext: 1 + Math.floor(rand() * 3) });
    if (r < 0.88) return fault({ expireDeltaTokens: true });
    if (r < 0.94) return fault({ dropNotificationsNext: 1 + Math.floor(rand() * 3) });
    log('wait for the index to catch up');
    await release();
    return waitForMirror(rig, ids, settleMs);
  };
  /** A held page goes out some steps after it was made, and always before the index is compared. */
  let heldUntil: number | undefined;
  /** The message moved after its folder's page was made: that page goes out once the move is in the index. */
  let heldMove: { id: string; folderId: string } | undefined;
  let mailboxId = '';
  let index = 0;
  const release = async () => {
    if (heldUntil === undefined) return;
    const move = heldMove;
    heldUntil = undefined;
    heldMove = undefined;
    if (move) {
      await until(
        'the move to be indexed',
        async () => {
          await rig.api.deps.mailIndex.refresh();
          return (await rig.api.deps.mailIndex.getMessage(mailboxId, move.id))?.folderId === move.folderId;
        },
        5_000,
      ).catch(() => log('the move was not indexed in time'));
    }
    log('held page released');
    await sim.configure({ holdAnsweredFolders: [] });
  };
  const run = async (ids: { address: string; accountId: string; mailboxId: string }, from: number, to: number) => {
    for (index = from; index < to; index++) {
      if (heldUntil !== undefined && index >= heldUntil) await release();
      await step(ids);
    }
    await release();
  };
  const fault = async (patch: Parameters<typeof sim.configure>[0]) => {
    log(`fault ${JSON.stringify(patch)}`);
    await sim.configure(patch);
  };

  // Slow pages, so that the first half of the actions lands while the initial sync reads them.
  await sim.configure({ latencyMs: 15 });
  try {
    const accountId = await rig.createAccount(address);
    const linked = await rig.link(accountId, address);
    mailboxId = linked.location?.searchParams.get('mailboxId') ?? '';
    if (linked.status !== 302 || !mailboxId) throw new Error(`link did not complete: ${linked.status} ${linked.body}`);
    const ids = { address, accountId, mailboxId };
    const during = Math.ceil(options.actions / 2);
    await run(ids, 0, during);
    log('check after the actions during the initial sync');
    await waitForMirror(rig, ids, settleMs);
    await sim.configure({ latencyMs: 0 });
    await run(ids, during, options.actions);
    log('check after the actions that followed');
    await waitForMirror(rig, ids, settleMs);
  } finally {
    await sim.configure({
      latencyMs: 0,
      clockFrozenAt: null,
      holdAnsweredFolders: [],
      throttleNext: null,
      replayNext: 0,
      emptyPagesNext: 0,
      dropNotificationsNext: 0,
    });
  }
}
