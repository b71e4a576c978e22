// Every mailbox-sync activity heartbeats, so one held by a worker that died is retried within the
// heartbeat timeout, not after its whole start-to-close (a page would wait out its request timeout, a
// stuck status publish would hide a LIVE mailbox). A batch of pages also leaves its checkpoint in each
// heartbeat, so its retry goes on from the last page it recorded.
import { Context } from '@temporalio/activity';

/** The heartbeat timeout the workflow schedules these activities with (in SyncSettings). */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * Runs `work`, heartbeating at once and then four times per heartbeat timeout. Every heartbeat carries the
 * latest checkpoint (each one replaces the last): `resumedFrom` until `work` records one, which is then sent
 * at once.
 */
export async function heartbeating<T, C = undefined>(work: (checkpoint: (details: C) => void) => Promise<T>, resumedFrom?: C): Promise<T> {
  const context = Context.current();
  let details = resumedFrom;
  const beat = () => context.heartbeat(details);
  beat();
  const ticker = setInterval(beat, HEARTBEAT_TIMEOUT_MS / 4);
  try {
    return await work((next) => {
      details = next;
      beat();
    });
  } finally {
    clearInterval(ticker);
  }
}
