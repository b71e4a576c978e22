// The fleet-wide pacer on the real database: reservations from two connection pools (two processes) racing
// for one key are never closer than the interval; a 429's push-forward delays every pacer on the key; an
// unused last slot can be given back; a reservation beyond the horizon waits, and a wait can be aborted.
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { GcraPacer, intervalUs, type Slot } from '../../lib/pacing/gcra.js';
import { testConfig, unique } from '../helpers/config.js';

const first = connectDatabase(testConfig().DATABASE_URL, { max: 8 });
const second = connectDatabase(testConfig().DATABASE_URL, { max: 8 });
afterAll(async () => { await Promise.all([first.close(), second.close()]); });

const limit = { requests: 20, windowMs: 1_000, marginMs: 20 }; // 51 ms apart

describe('GCRA pacer', () => {
  it('spaces concurrent reservations from two processes exactly one interval apart', async () => {
    const key = unique('pace');
    const pacers = [new GcraPacer(first.db, key, limit, { horizonMs: 60_000 }), new GcraPacer(second.db, key, limit, { horizonMs: 60_000 })];
    const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => pacers[i % 2]!.tryReserve()));
    const slots = answers.map((a) => { if (!('slot' in a)) throw new Error('beyond the horizon'); return a.slot; });
    const tats = slots.map((s) => s.tatUs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const gaps = tats.slice(1).map((t, i) => Number(t - tats[i]!));
    expect(intervalUs(limit)).toBe(51_000);
    expect(new Set(gaps)).toEqual(new Set([51_000])); // each slot taken once, none closer than the interval
    // Slots as local times keep that spacing too (to within the clock conversion).
    const ats = slots.map((s) => s.at).sort((a, b) => a - b);
    expect(ats[ats.length - 1]! - ats[0]!).toBeGreaterThanOrEqual(119 * 51 - 50);
  });

  it('makes every pacer on the key wait out a 429 (push forward), and never moves the row backwards', async () => {
    const key = unique('pace');
    const a = new GcraPacer(first.db, key, limit);
    const b = new GcraPacer(second.db, key, limit);
    const before = await a.acquire();
    await a.backOff(3_000);
    const [fromA, fromB] = await Promise.all([a.tryReserve(), b.tryReserve()]);
    // Both within the default 2 s horizon? No: the row is 3 s ahead, so both are told when to come back.
    for (const answer of [fromA, fromB]) {
      expect('retryAt' in answer).toBe(true);
      if ('retryAt' in answer) expect(answer.retryAt).toBeGreaterThanOrEqual(Date.now() + 3_000 - 2_000 - 100);
    }
    const after = await b.acquire();
    expect(after.at - before.at).toBeGreaterThanOrEqual(3_000 - 50);
    // A shorter Retry-After later does not pull the row back.
    await a.backOff(10);
    const next = await a.acquire();
    expect(Number(next.tatUs - after.tatUs)).toBe(51_000);
  }, 20_000);

  it('gives back the last slot taken, not one with others after it', async () => {
    const key = unique('pace');
    const pacer = new GcraPacer(first.db, key, limit);
    const s1 = await pacer.acquire();
    const s2 = await pacer.acquire();
    expect(await pacer.release(s1)).toBe(false); // s2 comes after it: s1 stays a gap
    expect(await pacer.release(s2)).toBe(true);
    const again: Slot = await pacer.acquire();
    expect(again.tatUs).toBe(s2.tatUs); // the released slot is the next one handed out
  });

  it('waits while the next slot is beyond the horizon, and stops waiting when aborted', async () => {
    const key = unique('pace');
    const slow = { requests: 1, windowMs: 1_000, marginMs: 0 };
    const pacer = new GcraPacer(first.db, key, slow, { horizonMs: 1_000 });
    const taken = [await pacer.acquire(), await pacer.acquire()]; // now and +1 s: the horizon is full
    expect('retryAt' in await pacer.tryReserve()).toBe(true);
    const started = Date.now();
    const third = await pacer.acquire();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // waited for +2 s to come within 1 s
    expect(Number(third.tatUs - taken[1]!.tatUs)).toBe(1_000_000);
    const controller = new AbortController();
    const waiting = pacer.acquire(controller.signal);
    setTimeout(() => controller.abort(new Error('withdrawn')), 100);
    await expect(waiting).rejects.toThrow('withdrawn');
  }, 20_000);
});
