// Mailing events as webhooks: a mailing's progress (its counters, coalesced) and its completion reach an
// endpoint, signed and verified, in its lane's order: the counts only grow, and the completion comes last.
import { describe, expect, it } from 'vitest';
import { useMailingRig } from '../helpers/mailings.js';
import { waitFor } from '../helpers/wait.js';
import { accepted, bodyOf, registerEndpoint, useWebhookReceiver } from '../helpers/webhooks.js';

const rig = useMailingRig({ ratePerSecond: 40, moreRoles: ['webhooks'], env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
const receiver = useWebhookReceiver();

describe('mailing events', () => {
  it('report progress and then completion, once each, verified', async () => {
    const endpoint = await registerEndpoint(rig.api, receiver, undefined, { eventTypes: ['mailing.progress', 'mailing.completed'] });
    const id = await rig.upload('email\na@example.com\nb@example.com\nc@example.com\nnot-an-email\n', { name: 'webhooks' });
    await rig.waitFor(id, (m) => m.status === 'COMPLETED');
    // The endpoint belongs to the tenant of every mailing this file's key uploads: only this one's events count.
    const ofThis = () => Promise.resolve(accepted(receiver, endpoint.name).filter((e) => bodyOf(e).data.mailingId === id));
    const events = await waitFor('the completion', ofThis, (a) => a.some((e) => bodyOf(e).type === 'mailing.completed'));
    const bodies = events.map(bodyOf);
    expect(bodies.at(-1)).toMatchObject({ type: 'mailing.completed', data: { mailingId: id, status: 'COMPLETED', validRows: 3, invalidRows: 1 } });
    const sent = bodies.filter((b) => b.type === 'mailing.progress').map((b) => b.data.sent as number);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
    expect(events.every((e) => e.verified === true)).toBe(true);
    expect(bodies.filter((b) => b.type === 'mailing.completed')).toHaveLength(1);
  });
});
