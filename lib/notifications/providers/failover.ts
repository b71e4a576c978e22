// Email failover: a circuit breaker (cockatiel) on the primary provider. After `failureThreshold`
// consecutive transient failures the circuit opens and sends go to the secondary (the one that opened it
// included); after `cooldownMs` one send probes the primary (half-open): success closes the circuit, a
// failure opens it for another cooldown, whatever kind of failure it was. A permanent refusal is about the
// message, not the provider, so it does not count against the primary.
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { PermanentSendError, TransientSendError, type NotificationProvider, type OutboundMessage, type SendResult } from './types.js';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
}

export { CircuitState };

export class FailoverProvider implements NotificationProvider {
  readonly channel: NotificationProvider['channel'];
  readonly name: string;
  readonly breaker: CircuitBreakerPolicy;

  constructor(
    private readonly primary: NotificationProvider,
    private readonly secondary: NotificationProvider,
    options: BreakerOptions,
  ) {
    this.channel = primary.channel;
    this.name = `${primary.name}>${secondary.name}`;
    this.breaker = circuitBreaker(
      handleWhen((error) => !(error instanceof PermanentSendError)),
      {
        halfOpenAfter: options.cooldownMs,
        breaker: new ConsecutiveBreaker(options.failureThreshold),
      },
    );
  }

  async send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    try {
      return await this.breaker.execute(() => this.primary.send(m, signal));
    } catch (error) {
      if (error instanceof BrokenCircuitError) return this.secondary.send(m, signal);
      // The primary answered "not accepted" and is now considered down: the secondary takes this very
      // message. A timeout is different: the primary may have accepted it, so the retry decides later.
      const answered = error instanceof TransientSendError && error.status !== undefined;
      if (answered && this.breaker.state === CircuitState.Open) return this.secondary.send(m, signal);
      throw error;
    }
  }
}
