// Mail and mailbox events as webhooks, from the Outlook simulator to the receiver simulator: a linked
// mailbox's status (linked, live, unlinked) and every kind of message change (created, updated with what
// changed, moved with from and to, deleted) arrive once each, signed, verified by the standardwebhooks
// library, in the order the sync applied them; an endpoint filtered to another account gets none of them. A
// revoked grant is announced once as mailbox.reauth_required, and the re-link as mailbox.live.
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { unique } from '../helpers/config.js';
import { useSyncRig } from '../helpers/mailbox-sync.js';
import { waitFor } from '../helpers/wait.js';
import { accepted, bodyOf, registerEndpoint, useWebhookReceiver } from '../helpers/webhooks.js';

const rig = useSyncRig({ moreRoles: ['webhooks'], env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
const receiver = useWebhookReceiver();

const mailTypes = ['message.created', 'message.updated', 'message.moved', 'message.deleted', 'mailbox.linked', 'mailbox.live', 'mailbox.unlinked'];

describe('mail events', () => {
  it('follow a mailbox from its link through every kind of change to its unlink, in order, signed', async () => {
    const address = `${unique('user')}@contoso.test`.toLowerCase();
    await rig.outlook.createMailbox(address, { messages: 0 });
    // Mail from before the link: imported, never announced as created.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    for (const subject of ['To read', 'To move', 'To delete'])
      await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject, receivedDateTime: yesterday });
    const accountId = await rig.createAccount(address);
    // Filtered to this account: other tests' mailboxes (same tenant) never reach it.
    const endpoint = await registerEndpoint(rig.api, receiver, undefined, { eventTypes: mailTypes, accountId });
    const otherAccount = await rig.createAccount(`${unique('other')}@contoso.test`);
    const elsewhere = await registerEndpoint(rig.api, receiver, undefined, { eventTypes: mailTypes, accountId: otherAccount });

    const linked = await rig.link(accountId, address);
    const mailboxId = linked.location!.searchParams.get('mailboxId')!;
    await rig.waitForMirror(address, accountId);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const folders = (await rig.outlook.mailbox(address)).wellKnownFolders;
    const [read, moved, deleted] = await rig.outlook.messages(address, 'inbox');

    const created = await rig.outlook.act(address, { type: 'newMail', folder: 'inbox', subject: 'Webhook hello' });
    await rig.outlook.act(address, { type: 'markRead', id: read!.id, isRead: !read!.isRead });
    await rig.outlook.act(address, { type: 'move', id: moved!.id, to: 'archive' });
    await rig.outlook.act(address, { type: 'delete', id: deleted!.id });
    await rig.waitForMirror(address, accountId);
    expect((await rig.api.request(`/v1/mailboxes/${mailboxId}`, { method: 'DELETE' })).status).toBeLessThan(300);

    const events = await waitFor(
      'the mailbox unlinked, last',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.some((e) => bodyOf(e).type === 'mailbox.unlinked'),
      60_000,
    );
    const types = events.map((e) => bodyOf(e).type);
    expect(types[0]).toBe('mailbox.linked');
    expect(types.at(-1)).toBe('mailbox.unlinked');
    // The changes, once each (the move's removal from the inbox is no deletion), in the order the sync applied
    // them: the mailbox's live feed (folders are read side by side, so that need not be the order they were made).
    const changes = events.map(bodyOf).filter((b) => b.type.startsWith('message.'));
    const subjectOf = (b: (typeof changes)[number]) => [b.type, (b.data.message as { id: string } | undefined)?.id ?? b.data.messageId];
    expect(changes.map(subjectOf).sort()).toEqual(
      [
        ['message.created', created.id],
        ['message.updated', read!.id],
        ['message.moved', moved!.id],
        ['message.deleted', deleted!.id],
      ].sort(),
    );
    const kinds = { created: 'message.created', updated: 'message.updated', moved: 'message.moved' };
    const applied = (await rig.feed(mailboxId)).flatMap((e) => [
      ...(e.data.changes ?? []).map((c) => [kinds[c.kind], c.message.id]),
      ...((e.data.removed as string[] | undefined) ?? []).map((id) => ['message.deleted', id]),
    ]);
    expect(changes.map(subjectOf)).toEqual(applied);
    expect(types.indexOf('mailbox.live')).toBeLessThan(types.indexOf('message.created'));
    const ofType = (type: string) => changes.find((b) => b.type === type)!.data;
    expect(ofType('message.updated')).toMatchObject({ mailboxId, accountId, changed: ['isRead'] });
    expect(ofType('message.moved')).toMatchObject({ from: { id: folders.inbox, name: 'Inbox' }, to: { id: folders.archive, name: 'Archive' } });
    expect(ofType('message.created')).toMatchObject({ message: { subject: 'Webhook hello', folder: { id: folders.inbox } } });

    // Verified here too, with the library a receiver would use.
    for (const entry of events) {
      expect(entry.verified).toBe(true);
      const headers = { 'webhook-id': entry.webhookId!, 'webhook-timestamp': entry.webhookTimestamp!, 'webhook-signature': entry.webhookSignature! };
      expect(new Webhook(endpoint.secret).verify(entry.body, headers)).toMatchObject({ type: bodyOf(entry).type });
    }
    expect(new Set(events.map((e) => e.webhookId)).size).toBe(events.length);
    expect(receiver.ledger(elsewhere.name)).toHaveLength(0);
  }, 120_000);
});

describe('mailbox status', () => {
  it('announces a revoked grant once as reauth_required, signed, and the re-link as live again', async () => {
    const { address, accountId, mailboxId } = await rig.linkNew({ messages: 3 });
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const endpoint = await registerEndpoint(rig.api, receiver, undefined, { eventTypes: ['mailbox.reauth_required', 'mailbox.live'], accountId });

    await rig.outlook.revoke(address);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'REAUTH_REQUIRED');
    const refused = await waitFor(
      'mailbox.reauth_required at the receiver',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.length >= 1,
    );
    expect(bodyOf(refused[0]!)).toMatchObject({ type: 'mailbox.reauth_required', data: { mailboxId, accountId } });

    await rig.link(accountId, address);
    await rig.waitForMailbox(mailboxId, (m) => m.status === 'LIVE');
    const events = await waitFor(
      'mailbox.live after the re-link',
      () => Promise.resolve(accepted(receiver, endpoint.name)),
      (a) => a.some((e) => bodyOf(e).type === 'mailbox.live'),
    );
    expect(events.map((e) => bodyOf(e).type)).toEqual(['mailbox.reauth_required', 'mailbox.live']);
    for (const entry of events) {
      const headers = { 'webhook-id': entry.webhookId!, 'webhook-timestamp': entry.webhookTimestamp!, 'webhook-signature': entry.webhookSignature! };
      expect(new Webhook(endpoint.secret).verify(entry.body, headers)).toMatchObject({ data: { mailboxId } });
    }
  }, 120_000);
});
