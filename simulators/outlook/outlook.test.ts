// The simulated Graph mail API over real HTTP: delta paging and links, every user action in the next
// round (with and without immutable ids), folder delta, and the canonical links through
// @microsoft/microsoft-graph-client with an origin-rewriting transport.
import { describe, expect, it } from 'vitest';
import { createGraphClient, withToken } from '../../lib/mailbox-sync/outlook/graph-client.js';
import { useOutlook } from '../../test/helpers/outlook.js';

type Row = Record<string, unknown> & { id: string; '@removed'?: { reason: string } };
interface Page {
  value: Row[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@odata.context': string;
}

const sim = useOutlook();

const IMMUTABLE = 'IdType="ImmutableId"';

/** Follows one round from `url` to its deltaLink; answers every row and the pages' sizes. */
async function round(token: string, url: string, prefer: string[] = ['odata.maxpagesize=100', IMMUTABLE]) {
  const rows: Row[] = [];
  const sizes: number[] = [];
  for (let next = url; ;) {
    const response = await sim.graph(token, next, prefer);
    expect(response.status, await response.clone().text()).toBe(200);
    const page = (await response.json()) as Page;
    rows.push(...page.value);
    sizes.push(page.value.length);
    if (page['@odata.nextLink']) next = page['@odata.nextLink'];
    else return { rows, sizes, deltaLink: page['@odata.deltaLink']! };
  }
}

const byId = (rows: Row[]) => new Map(rows.map((r) => [r.id, r]));

describe('Outlook simulator: Graph message delta', () => {
  it('pages 1,000 messages with Prefer maxpagesize, every id once, then an empty round', async () => {
    const box = await sim.createMailbox('jane@contoso.com');
    await sim.seed('jane@contoso.com', 1_000, 'inbox');
    const token = await sim.accessToken('jane@contoso.com');
    const first = await sim.graph(token, '/v1.0/me/mailFolders/inbox/messages/delta?$select=subject,isRead,flag', ['odata.maxpagesize=250', IMMUTABLE]);
    expect(first.headers.get('preference-applied')).toBe('odata.maxpagesize=250, IdType="ImmutableId"');
    const page = (await first.json()) as Page;
    expect(page.value).toHaveLength(250);
    expect(Object.keys(page.value[0]!).sort()).toEqual(['@odata.etag', 'flag', 'id', 'isRead', 'subject']);
    expect(page['@odata.nextLink']).toMatch(/^https:\/\/graph\.microsoft\.com\/v1\.0\/me\/mailFolders\('[^']+'\)\/messages\/delta\?\$skiptoken=/);
    expect(page['@odata.context']).toBe('https://graph.microsoft.com/v1.0/$metadata#Collection(message)');

    const { rows, sizes, deltaLink } = await round(token, '/v1.0/me/mailFolders/inbox/messages/delta', ['odata.maxpagesize=100', IMMUTABLE]);
    expect(sizes).toEqual(Array(10).fill(100));
    expect(new Set(rows.map((r) => r.id)).size).toBe(1_000);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set((await sim.messages('jane@contoso.com', 'inbox')).map((m) => m.id)));
    expect(rows.every((r) => r.parentFolderId === box.folders.inbox && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(r.lastModifiedDateTime as string))).toBe(true);
    expect(deltaLink).toMatch(/^https:\/\/graph\.microsoft\.com\/v1\.0\/me\/mailFolders\('[^']+'\)\/messages\/delta\?\$deltatoken=/);
    const again = await round(token, deltaLink);
    expect(again.rows).toEqual([]);
    expect(again.deltaLink).toBeTruthy();
    // Without Prefer, pages hold 10.
    expect(((await (await sim.graph(token, '/v1.0/me/mailFolders/inbox/messages/delta')).json()) as Page).value).toHaveLength(10);
  });

  it('shows each user action in the next round, with immutable ids stable across a move', async () => {
    const box = await sim.createMailbox('max@contoso.com');
    await sim.seed('max@contoso.com', 20, 'inbox');
    const token = await sim.accessToken('max@contoso.com');
    const inbox = await round(token, "/v1.0/me/mailFolders('inbox')/messages/delta");
    const archive = await round(token, '/v1.0/me/mailFolders/archive/messages/delta');
    expect(inbox.rows).toHaveLength(20);
    expect(archive.rows).toHaveLength(0);
    const [a, b, c, d] = inbox.rows;
    const created = await sim.act('max@contoso.com', { type: 'newMail', subject: 'Welcome aboard', from: { name: 'Ops', address: 'ops@fabrikam.com' } });
    await sim.act('max@contoso.com', { type: 'markRead', id: a!.id, isRead: !a!.isRead });
    await sim.act('max@contoso.com', { type: 'flag', id: b!.id, flagStatus: 'flagged' });
    await sim.act('max@contoso.com', { type: 'move', id: c!.id, to: 'archive' });
    await sim.act('max@contoso.com', { type: 'delete', id: d!.id });

    const next = byId((await round(token, inbox.deltaLink)).rows);
    expect(next.size).toBe(5);
    expect(next.get(created.id)).toMatchObject({ subject: 'Welcome aboard', isRead: false, from: { emailAddress: { address: 'ops@fabrikam.com' } } });
    const read = next.get(a!.id)!;
    expect(read.isRead).toBe(!a!.isRead);
    expect(read.changeKey).not.toBe(a!.changeKey);
    expect(read['@odata.etag']).toBe(`W/"${read.changeKey as string}"`);
    // Whole seconds, as Graph's: a change in the same second as the one before keeps the timestamp.
    expect(Date.parse(read.lastModifiedDateTime as string)).toBeGreaterThanOrEqual(Date.parse(a!.lastModifiedDateTime as string));
    expect(next.get(b!.id)).toMatchObject({ flag: { flagStatus: 'flagged' } });
    expect(next.get(c!.id)).toEqual({ '@odata.type': '#microsoft.graph.message', id: c!.id, '@removed': { reason: 'changed' } });
    expect(next.get(d!.id)).toMatchObject({ id: d!.id, '@removed': { reason: 'deleted' } });
    const moved = (await round(token, archive.deltaLink)).rows;
    expect(moved).toEqual([expect.objectContaining({ id: c!.id, parentFolderId: box.folders.archive })]);
    expect((await sim.graph(token, `/v1.0/me/messages/${c!.id}`, IMMUTABLE)).status).toBe(200);
    const gone = await sim.graph(token, `/v1.0/me/messages/${d!.id}`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' } });
  });

  it('gives a moved message a new default id without the ImmutableId preference', async () => {
    await sim.createMailbox('kim@contoso.com', { messages: 0 });
    await sim.seed('kim@contoso.com', 3, 'inbox');
    const token = await sim.accessToken('kim@contoso.com');
    const plain = ['odata.maxpagesize=50'];
    const inbox = await round(token, '/v1.0/me/mailFolders/inbox/messages/delta', plain);
    const archive = await round(token, '/v1.0/me/mailFolders/archive/messages/delta', plain);
    const oldId = inbox.rows[0]!.id;
    const [immutable] = (await sim.messages('kim@contoso.com', 'inbox')).filter((m) => m.subject === inbox.rows[0]!.subject);
    expect(oldId).not.toBe(immutable!.id);
    expect(await (await sim.graph(token, `/v1.0/me/messages/${oldId}`)).json()).toMatchObject({ id: oldId });
    await sim.act('kim@contoso.com', { type: 'move', id: oldId, to: 'archive' });
    expect((await round(token, inbox.deltaLink, plain)).rows).toEqual([expect.objectContaining({ id: oldId, '@removed': { reason: 'changed' } })]);
    const [arrived] = (await round(token, archive.deltaLink, plain)).rows;
    expect(arrived!.id).not.toBe(oldId);
    expect(arrived!.internetMessageId).toBe(inbox.rows[0]!.internetMessageId);
    expect((await sim.graph(token, `/v1.0/me/messages/${oldId}`)).status).toBe(404);
    expect((await sim.graph(token, `/v1.0/me/messages/${arrived!.id}`)).status).toBe(200);
  });

  it('does not lose a change made mid-round', async () => {
    await sim.createMailbox('lee@contoso.com');
    await sim.seed('lee@contoso.com', 30, 'inbox');
    const token = await sim.accessToken('lee@contoso.com');
    const prefer = ['odata.maxpagesize=10', IMMUTABLE];
    const page1 = (await (await sim.graph(token, '/v1.0/me/mailFolders/inbox/messages/delta', prefer)).json()) as Page;
    const all = (await sim.messages('lee@contoso.com', 'inbox')).map((m) => m.id);
    const seen = new Set(page1.value.map((r) => r.id));
    const passed = page1.value[3]!.id;
    const ahead = all.find((id) => !seen.has(id))!;
    await sim.act('lee@contoso.com', { type: 'markRead', id: passed, isRead: true });
    await sim.act('lee@contoso.com', { type: 'flag', id: ahead, flagStatus: 'complete' });
    // Replaying a nextLink answers the same page from the current state.
    const replay = (await (await sim.graph(token, page1['@odata.nextLink']!, prefer)).json()) as Page;
    const rest = await round(token, page1['@odata.nextLink']!, prefer);
    expect(replay.value.map((r) => r.id)).toEqual(rest.rows.slice(0, 10).map((r) => r.id));
    const first = [...seen, ...rest.rows.map((r) => r.id)];
    expect(first).toHaveLength(29);
    expect(first).not.toContain(ahead);
    const second = byId((await round(token, rest.deltaLink, prefer)).rows);
    expect([...second.keys()].sort()).toEqual([passed, ahead].sort());
    expect(second.get(ahead)).toMatchObject({ flag: { flagStatus: 'complete' } });
    expect(new Set([...first, ...second.keys()]).size).toBe(30);
  });
});

describe('Outlook simulator: Graph folders', () => {
  it('lists, pages and tracks folders: create, rename and delete in the folder delta', async () => {
    const box = await sim.createMailbox('ann@contoso.com', { messages: 40 });
    const token = await sim.accessToken('ann@contoso.com');
    const top = (await (await sim.graph(token, '/v1.0/me/mailFolders?$top=4&includeHiddenFolders=true')).json()) as Page;
    expect(top.value.map((f) => f.displayName)).toEqual(['Inbox', 'Sent Items', 'Drafts', 'Deleted Items']);
    expect(top['@odata.nextLink']).toBe('https://graph.microsoft.com/v1.0/me/mailFolders?includeHiddenFolders=true&$top=4&$skip=4');
    expect(((await (await sim.graph(token, top['@odata.nextLink']!)).json()) as Page).value.map((f) => f.displayName)).toEqual(['Archive', 'Junk Email']);
    const inbox = (await (await sim.graph(token, '/v1.0/me/mailFolders/Inbox')).json()) as Row;
    expect(inbox).toMatchObject({ id: box.folders.inbox, displayName: 'Inbox', childFolderCount: 0, isHidden: false });
    expect((inbox.totalItemCount as number) > 0 && (inbox.unreadItemCount as number) <= (inbox.totalItemCount as number)).toBe(true);

    const initial = await round(token, '/v1.0/me/mailFolders/delta', []);
    expect(initial.rows.map((f) => f.displayName).sort()).toEqual(['Archive', 'Deleted Items', 'Drafts', 'Inbox', 'Junk Email', 'Sent Items']);
    const child = await sim.act('ann@contoso.com', { type: 'createFolder', displayName: 'Receipts', parent: 'inbox' });
    const doomed = await sim.act('ann@contoso.com', { type: 'createFolder', displayName: 'Old' });
    const doomedLink = (await round(token, `/v1.0/me/mailFolders/${doomed.id}/messages/delta`)).deltaLink;
    await sim.act('ann@contoso.com', { type: 'renameFolder', folder: box.folders.archive, displayName: 'Archive 2026' });
    await sim.act('ann@contoso.com', { type: 'deleteFolder', folder: doomed.id });
    const changesRound = await round(token, initial.deltaLink, ['odata.maxpagesize=1']);
    expect(changesRound.sizes.every((n) => n <= 1)).toBe(true);
    const changes = byId(changesRound.rows);
    expect(changes.get(child.id)).toMatchObject({ displayName: 'Receipts', parentFolderId: box.folders.inbox });
    expect(changes.get(box.folders.inbox)).toMatchObject({ childFolderCount: 1 });
    expect(changes.get(box.folders.archive)).toMatchObject({ displayName: 'Archive 2026' });
    expect(changes.get(doomed.id)).toEqual({ '@odata.type': '#microsoft.graph.mailFolder', id: doomed.id, '@removed': { reason: 'deleted' } });
    const children = (await (await sim.graph(token, `/v1.0/me/mailFolders('inbox')/childFolders`)).json()) as Page;
    expect(children.value.map((f) => f.id)).toEqual([child.id]);
    const deletedDelta = await sim.graph(token, doomedLink);
    expect(deletedDelta.status).toBe(404);
    expect(await deletedDelta.json()).toMatchObject({ error: { code: 'ErrorSyncFolderNotFound' } });
    expect(await (await sim.graph(token, `/v1.0/me/mailFolders/${doomed.id}`)).json()).toMatchObject({ error: { code: 'ErrorItemNotFound' } });
    // A read changes the unread count: the folder comes back in the next folder round.
    const [unread] = (await sim.messages('ann@contoso.com', 'inbox')).filter((m) => !m.isRead);
    await sim.act('ann@contoso.com', { type: 'markRead', id: unread!.id, isRead: true });
    expect((await round(token, changesRound.deltaLink, [])).rows).toEqual([
      expect.objectContaining({ id: box.folders.inbox, unreadItemCount: (changes.get(box.folders.inbox)!.unreadItemCount as number) - 1 }),
    ]);
  });
});

describe('Outlook simulator: through @microsoft/microsoft-graph-client', () => {
  it('follows the canonical next and delta links with an origin-rewriting transport', async () => {
    await sim.createMailbox('sam@contoso.com');
    await sim.seed('sam@contoso.com', 120, 'inbox');
    const token = await sim.accessToken('sam@contoso.com');
    // The client the sync uses: canonical links, the origin rewritten in its transport, a token per request.
    const client = createGraphClient({ graphUrl: sim.url, timeoutMs: 10_000 });
    const api = (path: string) => withToken(client.api(path), token);
    expect(await api('/me').get()).toMatchObject({ mail: 'sam@contoso.com' });
    const ids = new Set<string>();
    let page = (await api('/me/mailFolders/inbox/messages/delta')
      .header('Prefer', `odata.maxpagesize=50, ${IMMUTABLE}`)
      .select(['subject', 'isRead'])
      .get()) as Page;
    for (;;) {
      for (const row of page.value) ids.add(row.id);
      if (!page['@odata.nextLink']) break;
      page = (await api(page['@odata.nextLink']).header('Prefer', `odata.maxpagesize=50, ${IMMUTABLE}`).get()) as Page;
    }
    expect(ids.size).toBe(120);
    await sim.act('sam@contoso.com', { type: 'newMail' });
    const after = (await api(page['@odata.deltaLink']!).header('Prefer', IMMUTABLE).get()) as Page;
    expect(after.value).toHaveLength(1);
    const requests = await sim.requests({ mailbox: 'sam@contoso.com' });
    expect(requests.every((r) => r.status === 200)).toBe(true);
    expect(requests.find((r) => r.query.includes('$skiptoken'))?.prefer).toEqual(['odata.maxpagesize=50', IMMUTABLE]);
  });
});
