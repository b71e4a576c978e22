// Email failover: a circuit breaker on the primary provider. After `failureThreshold` consecutive
// transient failures the circuit opens and sends go to the secondary (the one that opened it included); after `cooldownMs` one send
// probes the primary again (half-open) and closes the circuit if it succeeds. A permanent refusal is
// about the message, not the provider, so it does not count.
import { PermanentSendError, TransientSendError, type NotificationProvider, type OutboundMessage, type SendResult } from './types.js';

export interface BreakerOptions { failureThreshold: number; cooldownMs: number; now?: () => number }

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;
  constructor(private readonly options: BreakerOptions) {}

  private now(): number { return this.options.now?.() ?? Date.now(); }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** May this call go to the protected side? In half-open, one call at a time probes it. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half-open' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  failure(): void {
    this.probing = false;
    this.failures += 1;
    if (this.openedAt !== undefined || this.failures >= this.options.failureThreshold) this.openedAt = this.now();
  }
}

export class FailoverProvider implements NotificationProvider {
  readonly channel: NotificationProvider['channel'];
  readonly name: string;
  readonly breaker: CircuitBreaker;

  constructor(private readonly primary: NotificationProvider, private readonly secondary: NotificationProvider, options: BreakerOptions) {
    this.channel = primary.channel;
    this.name = `${primary.name}>${secondary.name}`;
    this.breaker = new CircuitBreaker(options);
  }

  async send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    if (!this.breaker.allow()) return this.secondary.send(m, signal);
    try {
      const result = await this.primary.send(m, signal);
      this.breaker.success();
      return result;
    } catch (error) {
      if (error instanceof PermanentSendError) throw error;
      this.breaker.failure();
      // The primary answered "not accepted" and is now considered down: the secondary takes this very
      // message. A timeout is different: the primary may have accepted it, so the retry decides later.
      const answered = error instanceof TransientSendError && error.status !== undefined;
      if (answered && this.breaker.state !== 'closed') return this.secondary.send(m, signal);
      throw error;
    }
  }
}
