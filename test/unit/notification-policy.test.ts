import { describe, expect, it } from 'vitest';
import { deadlineMs, nextRetryDelayMs, parsePriority, type RetrySchedule } from '../../lib/notifications/policy.js';
import { fingerprintHash, idFromIdempotencyKey } from '../../lib/notifications/admission.js';

const schedule: RetrySchedule = { maximumAttempts: 5, initialIntervalMs: 100, maximumIntervalMs: 1_000, backoffCoefficient: 2 };

describe('priorities', () => {
  it('maps seed 003 and seed 001 names onto the three lanes', () => {
    expect(['HIGH', 'critical', 'Critical'].map(parsePriority)).toEqual(['critical', 'critical', 'critical']);
    expect(['MEDIUM', 'medium'].map(parsePriority)).toEqual(['medium', 'medium']);
    expect(['LOW', 'low'].map(parsePriority)).toEqual(['low', 'low']);
    expect(parsePriority('urgent')).toBeUndefined();
  });
  it('has the seed deadlines', () => {
    expect(deadlineMs).toEqual({ critical: 15_000, medium: 900_000, low: 3_600_000 });
  });
});

describe('retry delay', () => {
  it('grows exponentially up to the cap, with jitter in the upper half', () => {
    expect(nextRetryDelayMs(schedule, 1, undefined, () => 0)).toBe(50);
    expect(nextRetryDelayMs(schedule, 1, undefined, () => 1)).toBe(100);
    expect(nextRetryDelayMs(schedule, 3, undefined, () => 1)).toBe(400);
    expect(nextRetryDelayMs(schedule, 10, undefined, () => 1)).toBe(1_000);
    expect(nextRetryDelayMs(schedule, 10, undefined, () => 0)).toBe(500);
  });
  it("never retries before the provider's Retry-After", () => {
    expect(nextRetryDelayMs(schedule, 1, 3_000, () => 0.5)).toBe(3_000);
  });
  it('keeps critical retries inside the 15 s deadline by default', () => {
    const critical: RetrySchedule = { maximumAttempts: 8, initialIntervalMs: 250, maximumIntervalMs: 2_000, backoffCoefficient: 2 };
    let total = 0;
    for (let attempt = 1; attempt < critical.maximumAttempts; attempt++) total += nextRetryDelayMs(critical, attempt, undefined, () => 1);
    expect(total).toBeLessThan(deadlineMs.critical);
  });
});

describe('idempotency', () => {
  it('derives one id per (scope, key) and a different one per scope or generation', () => {
    const a = idFromIdempotencyKey('key_1', 'order-1');
    expect(a).toMatch(/^ntf_[0-9a-z]{26}$/);
    expect(idFromIdempotencyKey('key_1', 'order-1')).toBe(a);
    expect(idFromIdempotencyKey('key_2', 'order-1')).not.toBe(a);
    expect(idFromIdempotencyKey('key_1', 'order-1', a)).not.toBe(a);
  });
  it('fingerprints bodies regardless of key order', () => {
    expect(fingerprintHash({ a: 1, b: { c: 2, d: 3 } })).toBe(fingerprintHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(fingerprintHash({ a: 1 })).not.toBe(fingerprintHash({ a: 2 }));
  });
});
