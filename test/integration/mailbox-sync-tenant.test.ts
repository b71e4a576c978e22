// A disabled tenant's mailbox syncs hold, apart from a user's own pause: the tenantState workflow signals
// each one, the sync makes no request while held, and enabling the tenant lets it catch up with what changed
// meanwhile. Real Temporal, PostgreSQL, the index and the Outlook simulator.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryMailboxSync } from '../../lib/mailbox-sync/start-workflow.js';
import { testConfig, unique } from '../helpers/config.js';
import { startSyncRig, until, type SyncRig } from '../helpers/mailbox-sync.js';
import { startRoleWorkers, type RunningWorkers } from '../helpers/workers.js';

let rig: SyncRig;
let delivery: RunningWorkers | undefined;
beforeAll(async () => {
  rig = await startSyncRig();
  // The tenantState workflow runs beside the schedule firings, on the delivery role.
  delivery = await startRoleWorkers(testConfig(rig.env), ['delivery']);
}, 60_000);
afterAll(async () => {
  await delivery?.stop();
  await rig?.close();
});

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const phaseOf = async (mailboxId: string) => (await queryMailboxSync(rig.api.deps.temporal, mailboxId))?.phase;

describe('a disabled tenant', () => {
  it("holds its mailbox syncs (no request to Graph), and enabling it lets them catch up; a user's pause stays theirs", async () => {
    const tenant = ((await (await rig.api.request('/v1/tenants', json({ name: unique('held') }))).json()) as { id: string }).id;
    const { key } = (await (await rig.api.request(`/v1/tenants/${tenant}/api-keys`, json({ name: 'sync', scopes: ['send', 'read'] }))).json()) as {
      key: string;
    };
    const linkNew = async () => {
      const address = `${unique('held')}@contoso.test`.toLowerCase();
      await rig.outlook.createMailbox(address, { messages: 20 });
      const accountId = await rig.createAccount(address, key);
      const mailboxId = (await rig.link(accountId, address, { auth: key })).location!.searchParams.get('mailboxId')!;
      await until('the mailbox LIVE', async () => (await phaseOf(mailboxId)) === 'LIVE');
      return { address, accountId, mailboxId };
    };
    const { address, accountId, mailboxId } = await linkNew();
    // A second mailbox its user paused before the tenant was disabled.
    const own = await linkNew();
    expect((await rig.api.request(`/v1/mailboxes/${own.mailboxId}/pause`, { method: 'POST', auth: key })).status).toBe(202);
    await until("the user's pause", async () => (await phaseOf(own.mailboxId)) === 'PAUSED');

    expect((await rig.api.request(`/v1/tenants/${tenant}/disable`, json({}))).status).toBe(200);
    await until(
      'the sync held',
      async () => (await phaseOf(mailboxId)) === 'PAUSED' && (await queryMailboxSync(rig.api.deps.temporal, mailboxId))?.requestsInFlight === 0,
    );
    const heldAt = Date.now();
    const [message] = await rig.outlook.messages(address, 'inbox');
    await rig.outlook.act(address, { type: 'markRead', id: message!.id, isRead: !message!.isRead });
    await sleep(2_500); // more than two poll intervals: a held mailbox makes no request
    const during = (await rig.outlook.requests({ mailbox: address })).filter((r) => r.startedAt > heldAt);
    expect(during, 'Graph requests while the tenant was disabled').toEqual([]);
    // Its keys are refused meanwhile: nobody resumes what the tenant's state holds.
    expect((await rig.api.request(`/v1/mailboxes/${mailboxId}/resume`, { method: 'POST', auth: key })).status).toBe(403);

    expect((await rig.api.request(`/v1/tenants/${tenant}/enable`, json({}))).status).toBe(200);
    await until('the sync going on', async () => (await phaseOf(mailboxId)) === 'LIVE');
    await rig.waitForMirror(address, accountId, 60_000, key);
    // The mailbox its user paused is still paused: enabling lifts the tenant's hold, not the user's.
    expect(await phaseOf(own.mailboxId)).toBe('PAUSED');
    expect((await rig.api.request(`/v1/mailboxes/${own.mailboxId}/resume`, { method: 'POST', auth: key })).status).toBe(202);
    await until("the user's resume", async () => (await phaseOf(own.mailboxId)) === 'LIVE');
  }, 180_000);
});
