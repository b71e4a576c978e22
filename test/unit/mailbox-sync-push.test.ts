// The mailbox workflow's push upkeep as a state machine: subscribe, renew ahead of expiry, re-create after
// removal (never reusing the removed one), back off when push is unavailable.
import { describe, expect, it } from 'vitest';
import type { SubscriptionOutcome } from '../../activities/mailbox-sync.js';
import { MailboxPush } from '../../workflows/mailbox-sync-push.js';

const settings = { pollIntervalMs: 900_000, renewBeforeMs: 60_000, retryMs: 300_000 };

function activities(outcomes: SubscriptionOutcome[]) {
  const calls: string[] = [];
  return {
    calls,
    ensureSubscription: (input: { mailboxId: string; discard?: string }) => {
      calls.push(`ensure${input.discard ? ` discarding ${input.discard}` : ''}`);
      return Promise.resolve(outcomes.shift()!);
    },
    renewSubscription: (input: { mailboxId: string; subscriptionId: string }) => {
      calls.push(`renew ${input.subscriptionId}`);
      return Promise.resolve(outcomes.shift()!);
    },
  };
}

describe('push upkeep', () => {
  it('is off without push settings', () => {
    const push = new MailboxPush(null, undefined);
    expect(push.dueAt()).toBeUndefined();
    expect(push.healthy(0)).toBe(false);
    expect(push.pollIntervalMs(0, 30_000)).toBe(30_000);
  });

  it('subscribes at once, then renews before expiry; healthy push slows polling to the safety net', async () => {
    const push = new MailboxPush(settings, undefined);
    expect(push.dueAt()).toBe(0);
    const a = activities([
      { outcome: 'subscribed', subscriptionId: 's1', expiresAt: 1_000_000 },
      { outcome: 'subscribed', subscriptionId: 's1', expiresAt: 2_000_000 },
    ]);
    await push.upkeep(a, 'mbx', () => 0);
    expect(push.healthy(10)).toBe(true);
    expect(push.pollIntervalMs(10, 30_000)).toBe(900_000);
    expect(push.dueAt()).toBe(940_000);
    await push.upkeep(a, 'mbx', () => 940_000);
    expect(a.calls).toEqual(['ensure', 'renew s1']);
    expect(push.dueAt()).toBe(1_940_000);
    expect(push.healthy(2_000_001)).toBe(false); // expired: polling takes over
  });

  it('re-creates a removed subscription without reusing it, renews on reauthorizationRequired, and backs off when unavailable', async () => {
    const push = new MailboxPush(settings, { subscriptionId: 's1', expiresAt: 1_000_000, retryAt: 0 });
    push.lifecycle('reauthorizationRequired', 500);
    expect(push.dueAt()).toBe(500);
    push.lifecycle('subscriptionRemoved', 600);
    expect(push.healthy(600)).toBe(false);
    expect(push.dueAt()).toBe(600);
    const a = activities([
      { outcome: 'unavailable', reason: 'validation failed' },
      { outcome: 'subscribed', subscriptionId: 's2', expiresAt: 5_000_000 },
    ]);
    expect(await push.upkeep(a, 'mbx', () => 700)).toEqual({ failed: 'validation failed' });
    expect(push.dueAt()).toBe(300_700);
    await push.upkeep(a, 'mbx', () => 300_700);
    expect(a.calls).toEqual(['ensure discarding s1', 'ensure discarding s1']);
    expect(push.carry()).toMatchObject({ subscriptionId: 's2' });
  });

  it('carries a removal and a renewal not yet acted on into the next run', async () => {
    const removed = new MailboxPush(settings, { subscriptionId: 's1', expiresAt: 1_000_000, retryAt: 0 });
    removed.lifecycle('subscriptionRemoved', 600);
    const next = new MailboxPush(settings, removed.carry());
    expect(next.healthy(700)).toBe(false);
    expect(next.dueAt()).toBe(600);
    const a = activities([{ outcome: 'subscribed', subscriptionId: 's2', expiresAt: 5_000_000 }]);
    await next.upkeep(a, 'mbx', () => 700);
    expect(a.calls).toEqual(['ensure discarding s1']);
    expect(next.carry()).toEqual({ subscriptionId: 's2', expiresAt: 5_000_000, retryAt: 0 });

    const reauthorize = new MailboxPush(settings, { subscriptionId: 's3', expiresAt: 1_000_000, retryAt: 0 });
    reauthorize.lifecycle('reauthorizationRequired', 500);
    const renewing = new MailboxPush(settings, reauthorize.carry());
    expect(renewing.dueAt()).toBe(500); // not at 940,000, the renewal ahead of expiry
    const b = activities([{ outcome: 'subscribed', subscriptionId: 's3', expiresAt: 2_000_000 }]);
    await renewing.upkeep(b, 'mbx', () => 500);
    expect(b.calls).toEqual(['renew s3']);
    expect(renewing.dueAt()).toBe(1_940_000);
    // A state carried by a run before these fields: nothing pending.
    expect(new MailboxPush(settings, { subscriptionId: 's4', expiresAt: 1_000_000, retryAt: 0 }).dueAt()).toBe(940_000);
  });

  it('polls as without push while the IMAP watcher says its watch is down, and carries that into the next run', async () => {
    const push = new MailboxPush(settings, undefined);
    await push.upkeep(activities([{ outcome: 'subscribed', subscriptionId: 'watch', expiresAt: 1_000_000 }]), 'mbx', () => 0);
    expect(push.pollIntervalMs(10, 30_000)).toBe(900_000);
    push.lifecycle('interrupted', 10);
    expect(push.healthy(10)).toBe(false);
    expect(push.pollIntervalMs(10, 30_000)).toBe(30_000);
    // Still subscribed: nothing to renew before its time.
    expect(push.dueAt()).toBe(1_000_000 - 60_000);
    const next = new MailboxPush(settings, push.carry());
    expect(next.healthy(10)).toBe(false);
    next.lifecycle('restored', 20);
    expect(next.healthy(20)).toBe(true);
    expect(next.carry()).not.toHaveProperty('interrupted');
  });
});
