// The email circuit breaker, through FailoverProvider: which provider each send reaches, with the clock
// moved by hand (cockatiel reads Date.now()), so every transition is forced, never waited for.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FailoverProvider,
  PermanentSendError,
  TransientSendError,
  type NotificationProvider,
  type OutboundMessage,
} from '../../lib/notifications/providers/index.js';

type Behaviour = 'ok' | 'down' | 'refuse' | 'timeout';

function fakeProvider(name: string) {
  const provider = {
    name,
    channel: 'EMAIL' as const,
    behaviour: 'ok' as Behaviour,
    calls: 0,
    send() {
      provider.calls += 1;
      switch (provider.behaviour) {
        case 'down':
          return Promise.reject(new TransientSendError(`${name} answered 503`, undefined, 503));
        case 'timeout':
          return Promise.reject(new TransientSendError(`${name}: timed out`));
        case 'refuse':
          return Promise.reject(new PermanentSendError(`${name} answered 400`, 400));
        default:
          return Promise.resolve({ provider: name, providerMessageId: `${name}-${provider.calls}` });
      }
    },
  };
  return provider satisfies NotificationProvider;
}

const message: OutboundMessage = { notificationId: 'ntf_x', channel: 'EMAIL', to: ['a@example.com'], text: 'hi', idempotencyKey: 'mailflow-ntf_x' };
const cooldownMs = 30_000;

describe('email failover circuit breaker', () => {
  let primary: ReturnType<typeof fakeProvider>;
  let secondary: ReturnType<typeof fakeProvider>;
  let failover: FailoverProvider;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00Z') });
    primary = fakeProvider('primary');
    secondary = fakeProvider('secondary');
    failover = new FailoverProvider(primary, secondary, { failureThreshold: 2, cooldownMs });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Two answered failures open the circuit; the second message already goes to the secondary. */
  async function openCircuit() {
    primary.behaviour = 'down';
    await expect(failover.send(message)).rejects.toThrow(/503/);
    expect((await failover.send(message)).provider).toBe('secondary');
    expect(primary.calls).toBe(2);
  }

  /** The circuit opened and its cooldown over: the next send is the half-open probe, to a primary that is `behaviour`. */
  async function probeWith(behaviour: Behaviour) {
    await openCircuit();
    vi.advanceTimersByTime(cooldownMs);
    primary.behaviour = behaviour;
  }

  it('opens after consecutive failures and keeps the primary out until the cooldown ends', async () => {
    await openCircuit();
    primary.behaviour = 'ok';
    expect((await failover.send(message)).provider).toBe('secondary');
    vi.advanceTimersByTime(cooldownMs - 1);
    expect((await failover.send(message)).provider).toBe('secondary');
    expect(primary.calls).toBe(2);
  });

  it('half-open: a successful probe closes the circuit', async () => {
    await openCircuit();
    primary.behaviour = 'ok';
    vi.advanceTimersByTime(cooldownMs);
    expect((await failover.send(message)).provider).toBe('primary');
    expect((await failover.send(message)).provider).toBe('primary');
    expect(primary.calls).toBe(4);
  });

  it('half-open: a probe that fails transiently opens the circuit for another cooldown, then probes again', async () => {
    await probeWith('down');
    expect((await failover.send(message)).provider).toBe('secondary'); // the probe failed: this message fails over
    expect(primary.calls).toBe(3);
    primary.behaviour = 'ok';
    expect((await failover.send(message)).provider).toBe('secondary');
    expect(primary.calls).toBe(3);
    vi.advanceTimersByTime(cooldownMs);
    expect((await failover.send(message)).provider).toBe('primary');
  });

  it('half-open: a probe that times out (no answer) is retried by the caller, and the circuit stays open', async () => {
    await probeWith('timeout');
    await expect(failover.send(message)).rejects.toThrow(/timed out/);
    primary.behaviour = 'ok';
    expect((await failover.send(message)).provider).toBe('secondary');
    vi.advanceTimersByTime(cooldownMs);
    expect((await failover.send(message)).provider).toBe('primary');
  });

  it("half-open: a probe refused permanently (the message's fault) does not leave the circuit stuck open", async () => {
    await probeWith('refuse');
    await expect(failover.send(message)).rejects.toBeInstanceOf(PermanentSendError);
    primary.behaviour = 'ok';
    // The primary answered: it is up. Later email goes to it again, not to the secondary for good.
    expect((await failover.send(message)).provider).toBe('primary');
    vi.advanceTimersByTime(10 * cooldownMs);
    expect((await failover.send(message)).provider).toBe('primary');
  });

  it('a permanent refusal never counts against the primary', async () => {
    primary.behaviour = 'refuse';
    for (let i = 0; i < 5; i++) await expect(failover.send(message)).rejects.toBeInstanceOf(PermanentSendError);
    primary.behaviour = 'ok';
    expect((await failover.send(message)).provider).toBe('primary');
  });
});
