// The live feed's per-process fan-out, with the interleaving that lost wake-ups forced: a closed stream's
// late unsubscribe arriving after a newer stream of the same account subscribed.
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { AccountEventBus } from '../../lib/mailbox-sync/event-bus.js';

function fakeSql() {
  let notify: ((payload: string) => void) | undefined;
  const sql = {
    listen: (_channel: string, fn: (payload: string) => void) => {
      notify = fn;
      return Promise.resolve({ unlisten: () => Promise.resolve() });
    },
  };
  return { sql: sql as unknown as postgres.Sql, emit: (accountId: string) => notify?.(accountId) };
}

describe('the account event bus', () => {
  it('keeps waking a newer stream after an older one of the same account unsubscribes late, twice', async () => {
    const { sql, emit } = fakeSql();
    const bus = new AccountEventBus(sql);
    const woken: string[] = [];
    const unsubscribeOld = await bus.subscribe('acc_1', () => woken.push('old'));
    unsubscribeOld(); // the old stream's client went away
    await bus.subscribe('acc_1', () => woken.push('new'));
    unsubscribeOld(); // its pump ends later and unsubscribes again
    emit('acc_1');
    emit('acc_2');
    expect(woken).toEqual(['new']);
  });
});
