// Fault injection shared by the simulators: what the next requests should suffer. Tests set it through
// PUT /_control/faults; deterministic faults (failNext, outage) keep tests reproducible.
import { z } from 'zod';

export const faultsSchema = z.object({
  /** Fraction of requests (0..1) that fail with failureStatus. */
  failureRate: z.number().min(0).max(1).default(0),
  failureStatus: z.number().int().min(400).max(599).default(503),
  /** The next `count` requests fail with `status` (and Retry-After when given). */
  failNext: z
    .object({ count: z.number().int().min(0), status: z.number().int().min(400).max(599), retryAfterSeconds: z.number().int().min(0).optional() })
    .nullable()
    .default(null),
  /** Added before answering (after the message is recorded, like a provider that is slow to reply). */
  latencyMs: z.number().int().min(0).max(120_000).default(0),
  /** At most `perSecond` accepted requests per second; beyond it 429 with Retry-After. */
  rateLimit: z
    .object({ perSecond: z.number().positive(), retryAfterSeconds: z.number().int().min(0).default(1) })
    .nullable()
    .default(null),
  /** Every request fails with 503: the provider is down. */
  outage: z.boolean().default(false),
});
export type Faults = z.infer<typeof faultsSchema>;

export interface Refusal {
  status: number;
  retryAfterSeconds?: number;
  reason: string;
}

export class FaultInjector {
  faults: Faults = faultsSchema.parse({});
  private windowStart = 0;
  private windowCount = 0;

  set(patch: unknown): Faults {
    this.faults = faultsSchema.parse({ ...this.faults, ...(patch as object) });
    return this.faults;
  }

  reset(): void {
    this.faults = faultsSchema.parse({});
    this.windowCount = 0;
  }

  /** Decides whether this request fails, and how. */
  next(): Refusal | undefined {
    const f = this.faults;
    if (f.outage) return { status: 503, reason: 'simulated outage' };
    if (f.failNext && f.failNext.count > 0) {
      f.failNext.count -= 1;
      return {
        status: f.failNext.status,
        ...(f.failNext.retryAfterSeconds !== undefined ? { retryAfterSeconds: f.failNext.retryAfterSeconds } : {}),
        reason: 'simulated failure (failNext)',
      };
    }
    if (f.rateLimit) {
      const now = Date.now();
      if (now - this.windowStart >= 1000) {
        this.windowStart = now;
        this.windowCount = 0;
      }
      if (this.windowCount >= f.rateLimit.perSecond) return { status: 429, retryAfterSeconds: f.rateLimit.retryAfterSeconds, reason: 'rate limit exceeded' };
      this.windowCount += 1;
    }
    if (f.failureRate > 0 && Math.random() < f.failureRate) return { status: f.failureStatus, reason: 'simulated failure (failureRate)' };
    return undefined;
  }
}
