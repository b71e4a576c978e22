// The simulated Graph's failure modes and limits: expired, tampered and foreign delta tokens, the
// per-mailbox concurrency limit, injected throttling, empty pages, replayed rows, stale versions, and
// the control API's validation, stats and request log.
import { beforeEach, describe, expect, it } from 'vitest';
import { useOutlook } from '../../test/helpers/outlook.js';

type Row = Record<string, unknown> & { id: string };
interface Page {
  value: Row[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

const sim = useOutlook();
let token: string;
beforeEach(async () => {
  await sim.createMailbox('jane@contoso.com');
  await sim.seed('jane@contoso.com', 30, 'inbox');
  token = await sim.accessToken('jane@contoso.com');
});

const prefer = ['odata.maxpagesize=10', 'IdType="ImmutableId"'];
const get = async (url: string) => {
  const response = await sim.graph(token, url, prefer);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Page & { error?: { code: string; message: string } } };
};
const DELTA = '/v1.0/me/mailFolders/inbox/messages/delta';

describe('Outlook simulator: delta tokens', () => {
  it('answers expired tokens with 410 SyncStateNotFound (or the configured status), and tampered or foreign ones with 400', async () => {
    const first = await get(DELTA);
    const next = first.body['@odata.nextLink']!;
    await sim.configure({ expireDeltaTokens: true });
    const expired = await get(next);
    expect(expired.status).toBe(410);
    expect(expired.body.error).toMatchObject({ code: 'SyncStateNotFound', message: 'The sync state generation is not found.' });
    const fresh = await get(DELTA);
    expect(fresh.status).toBe(200);
    expect((await get(fresh.body['@odata.nextLink']!)).status).toBe(200);
    await sim.configure({ expiredTokenStatus: { status: 400, code: 'ResyncRequired' }, expireDeltaTokens: true });
    expect(await get(fresh.body['@odata.nextLink']!)).toMatchObject({ status: 400, body: { error: { code: 'ResyncRequired' } } });

    const link = (await get(DELTA)).body['@odata.nextLink']!;
    const [base, value] = link.split('$skiptoken=');
    const [body, mac] = value!.split('.');
    const cursor = JSON.parse(Buffer.from(body!, 'base64url').toString()) as { pos: number };
    const forged = `${base}$skiptoken=${Buffer.from(JSON.stringify({ ...cursor, pos: 0 })).toString('base64url')}.${mac}`;
    expect(await get(forged)).toMatchObject({ status: 400, body: { error: { code: 'ErrorInvalidUrlQuery' } } });
    await sim.createMailbox('other@contoso.com', { messages: 5 });
    const other = await sim.accessToken('other@contoso.com');
    const foreign = await sim.graph(other, link, prefer);
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toMatchObject({ error: { code: 'ErrorInvalidUrlQuery' } });
  });

  it('filters by changeType and refuses an unknown $select property', async () => {
    let deltaLink = '';
    const seen: string[] = [];
    for (let link: string | undefined = `${DELTA}?changeType=created`; link;) {
      const page = await get(link);
      seen.push(...page.body.value.map((r) => r.id));
      link = page.body['@odata.nextLink'];
      deltaLink = page.body['@odata.deltaLink'] ?? deltaLink;
    }
    expect(seen).toHaveLength(30);
    const [a, b] = await sim.messages('jane@contoso.com', 'inbox');
    await sim.act('jane@contoso.com', { type: 'markRead', id: a!.id, isRead: !a!.isRead });
    await sim.act('jane@contoso.com', { type: 'delete', id: b!.id });
    const created = await sim.act('jane@contoso.com', { type: 'newMail' });
    expect((await get(deltaLink)).body.value.map((r) => r.id)).toEqual([created.id]);
    const future = await sim.act('jane@contoso.com', { type: 'newMail', receivedDateTime: new Date(Date.now() + 3_600_000).toISOString() });
    const since = new Date(Date.now() + 1_800_000).toISOString();
    expect((await get(`${DELTA}?$filter=${encodeURIComponent(`receivedDateTime ge ${since}`)}`)).body.value.map((r) => r.id)).toEqual([future.id]);
    expect((await get(`${DELTA}?$filter=${encodeURIComponent("subject eq 'x'")}`)).status).toBe(400);
    expect(await get(`${DELTA}?$select=subject,nonsense`)).toMatchObject({
      status: 400,
      body: { error: { message: "Could not find a property named 'nonsense' on type 'microsoft.graph.message'." } },
    });
  });
});

describe('Outlook simulator: throttling and faults', () => {
  it('refuses the 5th concurrent request with 429 ApplicationThrottled and Retry-After, and records it', async () => {
    await sim.configure({ latencyMs: 300 });
    const responses = await Promise.all(Array.from({ length: 5 }, () => sim.graph(token, '/v1.0/me')));
    const refused = responses.filter((r) => r.status === 429);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(4);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    expect(await refused[0]!.json()).toMatchObject({ error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } });
    const stats = await sim.stats();
    expect(stats).toMatchObject({
      maxConcurrent: { 'jane@contoso.com': 4 },
      concurrencyRefusals: { 'jane@contoso.com': 1 },
      throttled: 1,
      byStatus: { 200: 4, 429: 1 },
    });
    const log = await sim.requests({ mailbox: 'jane@contoso.com', limit: 5 });
    expect(log).toHaveLength(5);
    expect(log.filter((r) => r.status === 200).every((r) => r.endedAt - r.startedAt >= 290 && r.path === '/v1.0/me' && r.method === 'GET')).toBe(true);
  });

  it('records a request whose client gave up before the answer as clientAborted', async () => {
    await sim.configure({ latencyMs: 400 });
    await expect(fetch(`${sim.url}/v1.0/me`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect((await sim.graph(token, '/v1.0/me')).status).toBe(200);
    const log = (await sim.requests({ mailbox: 'jane@contoso.com', limit: 2 })).sort((a, b) => a.startedAt - b.startedAt);
    expect(log.map((r) => [r.status, r.clientAborted])).toEqual([
      [200, true],
      [200, false],
    ]);
  });

  it('injects throttleNext (429 and 503 with Retry-After), then answers normally', async () => {
    await sim.configure({ throttleNext: { count: 2, status: 503, retryAfterSeconds: 0 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await sim.graph(token, '/v1.0/me');
      statuses.push([response.status, response.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([
      [503, '0'],
      [503, '0'],
      [200, null],
    ]);
    await sim.configure({ throttleNext: { count: 1, status: 429, retryAfterSeconds: 2 } });
    expect(await get(DELTA)).toMatchObject({ status: 429, body: { error: { code: 'ApplicationThrottled' } } });
    expect((await sim.stats()).throttled).toBe(3);
  });

  it('serves empty pages that continue at the same position, and replays a row', async () => {
    await sim.configure({ emptyPagesNext: 2, replayNext: 1 });
    const sizes: number[] = [];
    const ids: string[] = [];
    for (let link: string | undefined = DELTA; link;) {
      const page = await get(link);
      sizes.push(page.body.value.length);
      ids.push(...page.body.value.map((r) => r.id));
      link = page.body['@odata.nextLink'];
    }
    expect(sizes).toEqual([0, 0, 11, 10, 10]);
    expect(ids).toHaveLength(31);
    expect(ids[10]).toBe(ids[0]);
    expect(new Set(ids).size).toBe(30);
  });

  it("puts a message's previous version after its current one (staleNext)", async () => {
    const first = await get(DELTA);
    let deltaLink: string | undefined;
    for (let link = first.body['@odata.nextLink']; link;) {
      const page = await get(link);
      link = page.body['@odata.nextLink'];
      deltaLink = page.body['@odata.deltaLink'];
    }
    const target = first.body.value[2]!;
    await sim.act('jane@contoso.com', { type: 'flag', id: target.id, flagStatus: 'flagged' });
    await sim.act('jane@contoso.com', { type: 'newMail' });
    await sim.configure({ staleNext: { messageId: target.id } });
    const rows = (await get(deltaLink!)).body.value;
    expect(rows).toHaveLength(3);
    const [current, stale] = rows;
    expect(current).toMatchObject({ id: target.id, flag: { flagStatus: 'flagged' } });
    expect(stale).toMatchObject({
      id: target.id,
      flag: { flagStatus: target.flag && (target.flag as { flagStatus: string }).flagStatus },
      changeKey: target.changeKey,
    });
    expect(Date.parse(stale!.lastModifiedDateTime as string)).toBeLessThanOrEqual(Date.parse(current!.lastModifiedDateTime as string));
    expect(stale!.changeKey).not.toBe(current!.changeKey);
    expect((await sim.config()).staleNext).toBeNull();
  });
});

describe('Outlook simulator: the clock and answers held after they are made', () => {
  it('gives changes the current whole second, never earlier than the last: a frozen clock makes same-second changes', async () => {
    const [a] = await sim.messages('jane@contoso.com', 'inbox');
    const frozenAt = new Date(Math.max(Date.parse(a!.lastModifiedDateTime), Date.now()) + 5_000);
    await sim.configure({ clockFrozenAt: frozenAt.toISOString() });
    const second = new Date(Math.floor(frozenAt.getTime() / 1000) * 1000).toISOString().replace('.000', '');
    const read = await sim.act('jane@contoso.com', { type: 'markRead', id: a!.id, isRead: !a!.isRead });
    const moved = await sim.act('jane@contoso.com', { type: 'move', id: a!.id, to: 'archive' });
    expect([read.lastModifiedDateTime, moved.lastModifiedDateTime]).toEqual([second, second]);
    expect(moved.changeKey).not.toBe(read.changeKey);
    const created = await sim.act('jane@contoso.com', { type: 'newMail' });
    expect(created.lastModifiedDateTime).toBe(second);
    // A clock set back never moves a message's timestamp back.
    await sim.configure({ clockFrozenAt: new Date(frozenAt.getTime() - 60_000).toISOString() });
    expect((await sim.act('jane@contoso.com', { type: 'flag', id: a!.id, flagStatus: 'flagged' })).lastModifiedDateTime).toBe(second);
    expect((await sim.configure({ clockFrozenAt: null })).clockFrozenAt).toBeNull();
    expect(
      (
        await fetch(`${sim.url}/_control/config`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ clockFrozenAt: 'soon' }),
        })
      ).status,
    ).toBe(400);
  });

  it("answers a held folder's page on arrival and delivers it on release (holdAnsweredFolders)", async () => {
    let deltaLink: string | undefined;
    for (let link: string | undefined = DELTA; link;) {
      const page = await get(link);
      link = page.body['@odata.nextLink'];
      deltaLink = page.body['@odata.deltaLink'] ?? deltaLink;
    }
    const [a] = await sim.messages('jane@contoso.com', 'inbox');
    await sim.act('jane@contoso.com', { type: 'markRead', id: a!.id, isRead: !a!.isRead });
    await sim.configure({ holdAnsweredFolders: ['inbox'] });
    const pending = get(deltaLink!);
    const deadline = Date.now() + 10_000;
    while ((await sim.stats()).heldAnswers < 1) {
      if (Date.now() > deadline) throw new Error('the page was not held');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Moved after the page was made: the page still shows the message in the inbox.
    await sim.act('jane@contoso.com', { type: 'move', id: a!.id, to: 'archive' });
    await sim.configure({ holdAnsweredFolders: [] });
    const page = await pending;
    expect(page.body.value).toEqual([expect.objectContaining({ id: a!.id, isRead: !a!.isRead })]);
    expect(page.body.value[0]!['@removed']).toBeUndefined();
    expect((await sim.stats()).heldAnswers).toBe(0);
    expect((await get(page.body['@odata.deltaLink']!)).body.value).toEqual([
      { '@odata.type': '#microsoft.graph.message', id: a!.id, '@removed': { reason: 'changed' } },
    ]);
  });
});

describe('Outlook simulator: control API', () => {
  it('validates input, answers 401 without a token and 409 for an existing mailbox, and resets', async () => {
    const put = (body: unknown) =>
      fetch(`${sim.url}/_control/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put({ latencyMs: -1 })).status).toBe(400);
    expect((await put({ throttleNext: { count: 1, status: 500 } })).status).toBe(400);
    expect((await put({ nonsense: true })).status).toBe(400);
    const action = await fetch(`${sim.url}/_control/mailboxes/jane%40contoso.com/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'flag', id: 'x' }),
    });
    expect(action.status).toBe(400);
    expect(await action.json()).toMatchObject({ reason: expect.stringContaining('flagStatus') as string });
    await expect(sim.act('jane@contoso.com', { type: 'markRead', id: 'missing', isRead: true })).rejects.toThrow(/404/);
    await expect(sim.createMailbox('Jane@contoso.com')).rejects.toThrow(/409/);
    const anonymous = await fetch(`${sim.url}/v1.0/me`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
    const view = await sim.mailbox('jane@contoso.com');
    expect(view.messageCount).toBe(30);
    expect(view.folders.find((f) => f.wellKnownName === 'inbox')).toMatchObject({ totalItemCount: 30 });
    await sim.reset();
    expect((await sim.graph(token, '/v1.0/me')).status).toBe(401);
    expect(await sim.stats()).toMatchObject({ graphRequests: 1, tokensIssued: 0 });
  });

  it('seeds 50,000 messages quickly and reads them back in pages of 1,000', async () => {
    const started = Date.now();
    await sim.seed('jane@contoso.com', 50_000);
    const seededIn = Date.now() - started;
    expect(seededIn).toBeLessThan(3_000);
    const counted = (await sim.mailbox('jane@contoso.com')).folders.reduce((n, f) => n + f.totalItemCount, 0);
    expect(counted).toBe(50_030);
    const readStarted = Date.now();
    let count = 0;
    let pages = 0;
    for (let link: string | undefined = DELTA; link; pages++) {
      const response = await sim.graph(token, link, ['odata.maxpagesize=1000', 'IdType="ImmutableId"']);
      const page = (await response.json()) as Page;
      count += page.value.length;
      link = page['@odata.nextLink'];
    }
    const inbox = (await sim.mailbox('jane@contoso.com')).folders.find((f) => f.wellKnownName === 'inbox')!;
    expect(count).toBe(inbox.totalItemCount);
    console.log(`seeded 50,000 in ${seededIn} ms; read ${count} in ${pages} pages in ${Date.now() - readStarted} ms`);
  });
});
