// Tenancy over real HTTP, a real Temporal server and the provider simulators: a tenant owns what its keys
// create, so revoking one key orphans nothing (its schedules go on firing, and the tenant's other keys can
// pause and delete them); disabling a tenant refuses its keys and holds its schedules in Temporal, and
// enabling it lets them go on, except those its users had paused themselves.
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { scheduleFirings } from '../../db/schema/index.js';
import { fireSchedule } from '../../lib/schedules/fire.js';
import { temporalScheduleId } from '../../lib/schedules/temporal.js';
import { jsonRequest } from '../helpers/requests.js';
import { useDeliveryRig } from '../helpers/delivery.js';
import { unique } from '../helpers/config.js';
import { waitUntil } from '../helpers/wait.js';

const rig = useDeliveryRig('ten');
const email = () => ({ sender: 'ops@example.com', receiver: `${unique('r')}@example.com`, subject: 'Reminder', content: 'Hello' });

async function newTenant(): Promise<string> {
  const response = await rig.api.request('/v1/tenants', jsonRequest('POST', { name: unique('tenant') }));
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}
async function newKey(tenantId: string): Promise<{ id: string; key: string }> {
  const response = await rig.api.request(`/v1/tenants/${tenantId}/api-keys`, jsonRequest('POST', { name: unique('key'), scopes: ['send', 'read'] }));
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string };
}
async function createSchedule(key: string, everySeconds: number): Promise<string> {
  const response = await rig.api.request('/v1/schedules', jsonRequest('POST', { email: email(), when: { type: 'interval', everySeconds } }, key));
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { id: string }).id;
}
const firingsAfter = async (scheduleId: string, after: number) =>
  (await rig.api.deps.db.select().from(scheduleFirings).where(eq(scheduleFirings.scheduleId, scheduleId))).filter((f) => f.scheduledAt.getTime() > after);
const admissionDeps = () => ({ db: rig.api.deps.db, config: rig.api.deps.config, encryptor: rig.api.deps.encryptor, temporal: rig.api.deps.temporal });
const temporalState = async (scheduleId: string) => (await rig.api.deps.temporal.schedule.getHandle(temporalScheduleId(scheduleId)).describe()).state;

describe('tenants', () => {
  it('are admin-only, listed, and the admin tenant cannot be disabled', async () => {
    const id = await newTenant();
    const { key } = await newKey(id);
    expect((await rig.api.request('/v1/tenants', { auth: key })).status).toBe(403);
    const listed = (await (await rig.api.request('/v1/tenants?limit=100')).json()) as { data: { id: string; status: string }[] };
    expect(listed.data.find((t) => t.id === id)).toMatchObject({ status: 'ACTIVE' });
    expect((await rig.api.request('/v1/tenants/admin/disable', jsonRequest('POST', {}))).status).toBe(409);
    expect((await rig.api.request('/v1/tenants/ten_nope/disable', jsonRequest('POST', {}))).status).toBe(404);
    expect((await rig.api.request('/v1/tenants/ten_nope/api-keys', jsonRequest('POST', { name: 'x' }))).status).toBe(404);
    const keys = (await (await rig.api.request(`/v1/tenants/${id}/api-keys`)).json()) as { data: { tenantId: string }[] };
    expect(keys.data).toHaveLength(1);
    expect(keys.data[0]!.tenantId).toBe(id);
  });

  it("keep what a revoked key made: its schedule goes on firing, and the tenant's other key pauses and deletes it", async () => {
    const tenant = await newTenant();
    const [first, second] = [await newKey(tenant), await newKey(tenant)];
    const scheduleId = await createSchedule(first.key, 2);
    expect((await rig.api.request(`/v1/api-keys/${first.id}`, { method: 'DELETE' })).status).toBe(204);
    const revokedAt = Date.now();
    expect((await rig.api.request(`/v1/schedules/${scheduleId}`, { auth: first.key })).status).toBe(401);

    // The schedule belongs to the tenant, which is still there: it fires after the key is gone.
    await waitUntil('a firing after the revocation', async () =>
      (await firingsAfter(scheduleId, revokedAt)).some((f) => f.outcome === 'CREATED') ? true : undefined,
    );
    expect((await rig.api.request(`/v1/schedules/${scheduleId}`, { auth: second.key })).status).toBe(200);
    const paused = await rig.api.request(`/v1/schedules/${scheduleId}/pause`, jsonRequest('POST', { note: 'taken over' }, second.key));
    expect(paused.status).toBe(200);
    expect(await temporalState(scheduleId)).toMatchObject({ paused: true });
    expect((await rig.api.request(`/v1/schedules/${scheduleId}`, { method: 'DELETE', auth: second.key })).status).toBe(204);
  });

  it('disabled: keys refused, schedules paused in Temporal; enabled: they go on, except those the tenant paused', async () => {
    const tenant = await newTenant();
    const { key } = await newKey(tenant);
    const running = await createSchedule(key, 2);
    const heldByUser = await createSchedule(key, 3600);
    expect((await rig.api.request(`/v1/schedules/${heldByUser}/pause`, jsonRequest('POST', { note: 'mine' }, key))).status).toBe(200);

    const disabled = await rig.api.request(`/v1/tenants/${tenant}/disable`, jsonRequest('POST', { reason: 'unpaid' }));
    expect(await disabled.json()).toMatchObject({ id: tenant, status: 'DISABLED', disabledReason: 'unpaid' });
    const refused = await rig.api.request('/v1/schedules', { auth: key });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { detail: string }).detail).toContain('disabled');
    await waitUntil('the running schedule paused in Temporal', async () => ((await temporalState(running)).paused ? true : undefined));
    expect((await temporalState(running)).note).toBe('tenant disabled');
    // A firing that got through before the pause (or is started by hand) sends nothing while it is disabled.
    const slot = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    expect(await fireSchedule(admissionDeps(), { scheduleId: running, scheduledAt: slot })).toMatchObject({ outcome: 'SKIPPED', detail: 'tenant disabled' });
    expect(await firingsAfter(running, slot.getTime() - 1)).toEqual([]);

    expect(((await (await rig.api.request(`/v1/tenants/${tenant}/enable`, jsonRequest('POST'))).json()) as { status: string }).status).toBe('ACTIVE');
    await waitUntil('the running schedule unpaused', async () => ((await temporalState(running)).paused ? undefined : true));
    const enabledAt = Date.now();
    await waitUntil('a firing after enabling', async () => ((await firingsAfter(running, enabledAt)).length > 0 ? true : undefined));
    // What the tenant's own user paused stays paused.
    expect(await temporalState(heldByUser)).toMatchObject({ paused: true });
    expect((await rig.api.request(`/v1/schedules/${heldByUser}`, { auth: key })).status).toBe(200);
    for (const id of [running, heldByUser]) await rig.api.request(`/v1/schedules/${id}`, { method: 'DELETE', auth: key });
  });
});
