// The fleet-wide pacer on the real database: reservations from two connection pools (two processes) racing
// for one key are never closer than the interval; a 429's push-forward delays every pacer on the key; an
// unused last slot can be given back; a reservation beyond the horizon waits, and a wait can be aborted.
// Its gate: departures from two pools, answered after random delays, never reuse a lane less than a window
// after its last answer (so no window holds more than N arrivals); a lane never answered clears after the
// request timeout plus a window; a 429 holds the lanes too.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../db/client.js';
import { GcraPacer, intervalUs, type Slot } from '../../lib/pacing/gcra.js';
import { testConfig, unique } from '../helpers/config.js';

const first = connectDatabase(testConfig().DATABASE_URL, { max: 8 });
const second = connectDatabase(testConfig().DATABASE_URL, { max: 8 });
afterAll(async () => {
  await Promise.all([first.close(), second.close()]);
});

const limit = { requests: 20, windowMs: 1_000, marginMs: 20 }; // 51 ms apart

describe('GCRA pacer', () => {
  it('spaces concurrent reservations from two processes exactly one interval apart', async () => {
    const key = unique('pace');
    const pacers = [new GcraPacer(first.db, key, limit, { horizonMs: 60_000 }), new GcraPacer(second.db, key, limit, { horizonMs: 60_000 })];
    const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => pacers[i % 2]!.tryReserve()));
    const slots = answers.map((a) => {
      if (!('slot' in a)) throw new Error('beyond the horizon');
      return a.slot;
    });
    const tats = slots.map((s) => s.tatUs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const gaps = tats.slice(1).map((t, i) => Number(t - tats[i]!));
    expect(intervalUs(limit)).toBe(51_000);
    expect(new Set(gaps)).toEqual(new Set([51_000])); // each slot taken once, none closer than the interval
    // A slot's local time never comes before its database time: here both clocks are this host's, so the
    // conversion's bound (the tightest round trip's end) holds whatever the machine's load, to the millisecond
    // Date.now() rounds down.
    for (const s of slots) expect(s.at * 1000).toBeGreaterThanOrEqual(Number(s.tatUs) - 51_000 - 1_000);
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
    expect('retryAt' in (await pacer.tryReserve())).toBe(true);
    const started = Date.now();
    const third = await pacer.acquire();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // waited for +2 s to come within 1 s
    expect(Number(third.tatUs - taken[1]!.tatUs)).toBe(1_000_000);
    const controller = new AbortController();
    const waiting = pacer.acquire(controller.signal);
    setTimeout(() => controller.abort(new Error('withdrawn')), 100);
    await expect(waiting).rejects.toThrow('withdrawn');
  }, 20_000);

  it('lets requests from two processes leave on a lane only a window after its last answer, whenever the answers come', async () => {
    const key = unique('gate');
    const gate = { requests: 3, windowMs: 300, marginMs: 0 };
    const pacers = [new GcraPacer(first.db, key, gate), new GcraPacer(second.db, key, gate)];
    // Twenty-four requests at once, each on its slot (100 ms apart), "in flight" 0–250 ms (some far longer than a
    // slot, so that the lane they hold is needed again before their answer) before its answer.
    const trips = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const slot = await pacers[i % 2]!.acquire();
        const departure = await pacers[i % 2]!.depart(slot);
        const left = Date.now();
        await sleep(Math.random() * 250);
        const answered = Date.now();
        await departure.answered();
        return { lane: departure.lane, held: departure.heldMs, withSlot: slot.lane !== undefined, left, answered };
      }),
    );
    expect(new Set(trips.map((t) => t.lane))).toEqual(new Set([1, 2, 3]));
    expect(trips.some((t) => t.held > 0)).toBe(true); // the slow answers held some requests after their slot
    // Both ways to a lane were taken: with a slot that was about now, and through the gate.
    expect(new Set(trips.map((t) => t.withSlot))).toEqual(new Set([true, false]));
    for (const lane of [1, 2, 3]) {
      const on = trips.filter((t) => t.lane === lane).sort((a, b) => a.left - b.left);
      for (let i = 1; i < on.length; i++) expect(on[i]!.left - on[i - 1]!.answered).toBeGreaterThanOrEqual(gate.windowMs);
    }
    // Whatever the arrival time inside [left, answered], no window of 300 ms holds four: the fourth request
    // after any one left at least a window after that one's answer.
    const byLeft = [...trips].sort((a, b) => a.left - b.left);
    for (let i = 0; i + gate.requests < byLeft.length; i++) {
      const earliestAnswer = Math.min(...byLeft.slice(i, i + gate.requests + 1).map((t) => t.answered));
      expect(byLeft[i + gate.requests]!.left - earliestAnswer).toBeGreaterThanOrEqual(gate.windowMs);
    }
  }, 30_000);

  it('clears a lane whose answer never comes only after the request timeout plus a window', async () => {
    const key = unique('gate');
    const pacer = new GcraPacer(first.db, key, { requests: 1, windowMs: 200, marginMs: 0 }, { requestTimeoutMs: 300 });
    await pacer.depart(); // its process "died": never answered
    const asked = Date.now();
    const next = await pacer.depart();
    // One second for the hop to the write, the request's 300 ms, then the window.
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1_000 + 300 + 200 - 20);
    expect(next.heldMs).toBeGreaterThan(0);
    await next.answered();
    const again = Date.now();
    await pacer.depart();
    expect(Date.now() - again).toBeGreaterThanOrEqual(200 - 20);
    expect(Date.now() - again).toBeLessThan(1_000); // an answered lane clears a window after its answer
  }, 20_000);

  it('holds the lanes through a 429 back-off too, and stops holding when aborted', async () => {
    const key = unique('gate');
    const pacer = new GcraPacer(first.db, key, { requests: 2, windowMs: 100, marginMs: 0 });
    await (await pacer.depart()).answered();
    await pacer.backOff(1_500);
    const asked = Date.now();
    await pacer.depart();
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1_500 - 50);
    await pacer.backOff(5_000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('withdrawn')), 100);
    await expect(pacer.depart(undefined, controller.signal)).rejects.toThrow('withdrawn');
  }, 20_000);
});
