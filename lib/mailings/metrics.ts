// Mailing send metrics, registered on the process registry (the mailing worker exports them on /metrics).
import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics.js';

/** A counter on the process registry, by one label. */
const counter = <L extends string>(name: string, help: string, label: L) => new Counter<L>({ name, help, labelNames: [label], registers: [registry] });

export const mailingMetrics = {
  /** Answers of 429 from the provider: with the pacer working, this stays at zero. */
  providerThrottled: counter('mailflow_mailing_provider_throttled_total', 'Provider requests of CSV mailings answered 429 (rate limited).', 'provider'),
  /** From asking the fleet-wide pacer for a slot to the slot's time: the wait the provider's limit imposes. */
  pacingWait: new Histogram({
    name: 'mailflow_mailing_pacing_wait_seconds',
    help: 'Time a mailing send waited for its slot under the provider rate limit.',
    labelNames: ['provider'] as const,
    registers: [registry],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  }),
  /**
   * Requests the pacer's gate held after their slot because no lane had cleared: a request a window before
   * was answered late (a slow provider or network, a stalled process). Each is a request that would have
   * risked a 429 by leaving on its slot.
   */
  pacingHeld: counter(
    'mailflow_mailing_pacing_held_total',
    'Mailing requests held at the pacer gate after their slot until a request a window before had been answered.',
    'provider',
  ),
  /**
   * Mailing progress: recipients by what they came to, counted where it happens (queued / invalid / duplicate
   * as rows are stored, sent / failed as sends end, cancelled / unknown at a cancel). The exact per-mailing
   * figures are the counters on the mailings row (GET /v1/mailings/{id}); this is the fleet's rate.
   */
  recipients: counter(
    'mailflow_mailing_recipients_total',
    'CSV mailing recipients by outcome: queued, invalid, duplicate (ingest), sent, failed (sends), cancelled, unknown (cancel).',
    'outcome',
  ),
};

export type RecipientOutcome = 'queued' | 'invalid' | 'duplicate' | 'sent' | 'failed' | 'cancelled' | 'unknown';

/** Counts what each send came to, around the send activity (a send skipped, or failing to retry, counts nothing). */
export function countingSendOutcomes<I, R extends { status: string }>(send: (input: I) => Promise<R>): (input: I) => Promise<R> {
  return async (input) => {
    const result = await send(input);
    if (result.status === 'SENT' || result.status === 'FAILED') mailingMetrics.recipients.inc({ outcome: result.status === 'SENT' ? 'sent' : 'failed' });
    return result;
  };
}
