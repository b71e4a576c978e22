// The receiver's faults: the shared ones (statuses, latency, outage) plus holding a request without an
// answer, which is how a sender's timeout is tested. The receiver has one set for the whole host and one
// per endpoint name.
import { z } from 'zod';
import { FaultInjector, faultsSchema, type Refusal } from '../lib/faults.js';

export const receiverFaultsSchema = faultsSchema.extend({
  /** Every request is held unanswered until the client gives up (or the receiver closes). */
  hang: z.boolean().default(false),
  /** The next `count` requests are held like that; then the endpoint answers again (a retry gets through). */
  hangNext: z
    .object({ count: z.number().int().min(0) })
    .nullable()
    .default(null),
});
export type ReceiverFaultSettings = z.infer<typeof receiverFaultsSchema>;

export class ReceiverFaults extends FaultInjector {
  override faults: ReceiverFaultSettings = receiverFaultsSchema.parse({});

  override set(patch: unknown): ReceiverFaultSettings {
    this.faults = receiverFaultsSchema.parse({ ...this.faults, ...(patch as object) });
    return this.faults;
  }

  override reset(): void {
    super.reset();
    this.faults = receiverFaultsSchema.parse({});
  }

  /** Whether this request is held unanswered (a `hangNext` counts it). */
  holds(): boolean {
    const f = this.faults;
    if (f.hang) return true;
    if (!f.hangNext || f.hangNext.count === 0) return false;
    f.hangNext.count -= 1;
    return true;
  }
}

/** What a request suffers: the latency of every set added up, then held, refused, or answered. */
export type Plan = { hold: true } | { hold: false; latencyMs: number; refusal: Refusal | undefined };

/** The host's faults come first (a receiver that is down refuses every endpoint), then the endpoint's. */
export function plan(sets: ReceiverFaults[]): Plan {
  const latencyMs = sets.reduce((sum, set) => sum + set.faults.latencyMs, 0);
  for (const set of sets) {
    if (set.holds()) return { hold: true };
    const refusal = set.next();
    if (refusal) return { hold: false, latencyMs, refusal };
  }
  return { hold: false, latencyMs, refusal: undefined };
}
