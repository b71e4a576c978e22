// The projector's loop, run by every webhooks worker (the advisory lock makes them take turns): woken by the
// outbox's NOTIFY on each commit, or by a timer should a notification be missed, it projects until the
// outbox is empty and wakes the endpoints that got deliveries. Each minute it also wakes endpoints whose due
// deliveries have waited (a wake lost to a Temporal outage) and drops deliveries past retention.
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { webhookDeliveries, webhookEndpoints } from '../../db/schema/index.js';
import type { Logger } from '../logger.js';
import { pruneDeliveries } from './deliveries.js';
import { OUTBOX_CHANNEL, projectOutbox } from './projector.js';

const POLL_MS = 2_000;
const SWEEP_MS = 60_000;
/** A due delivery older than this whose endpoint is not at work means its wake was lost. */
const STALE_DUE_SECONDS = 30;

export interface ProjectorService {
  stop(): Promise<void>;
}

async function staleEndpoints(db: Database): Promise<string[]> {
  const e = webhookEndpoints;
  const d = webhookDeliveries;
  const rows = await db
    .select({ id: e.id })
    .from(e)
    .where(
      and(
        eq(e.enabled, true),
        sql`exists (select 1 from ${d} where ${d.endpointId} = ${e.id} and ${d.status} = 'PENDING'
                      and ${d.nextAttemptAt} < now() - make_interval(secs => ${STALE_DUE_SECONDS}))`,
      ),
    );
  return rows.map((r) => r.id);
}

export async function startProjector(deps: {
  db: Database;
  logger: Logger;
  retentionDays: number;
  wake: (endpointId: string) => Promise<void>;
}): Promise<ProjectorService> {
  const { db, logger } = deps;
  let stopped = false;
  let nudge: (() => void) | undefined;
  const listening = await db.$client.listen(OUTBOX_CHANNEL, () => nudge?.());
  // Endpoints still to wake: kept across rounds while Temporal cannot be reached.
  const toWake = new Set<string>();
  let lastSweep = 0;

  async function wakeAll(): Promise<void> {
    for (const id of [...toWake]) {
      await deps.wake(id);
      toWake.delete(id);
    }
  }

  /** Wakes what waits to be woken; false (the rest kept) when Temporal does not answer. */
  const tryWakeAll = () =>
    wakeAll().then(
      () => true,
      () => false,
    );

  async function round(): Promise<void> {
    // Endpoints are woken after each batch, not once the outbox is empty, and beside the next batch's
    // projection: a backlog's first deliveries go out while the rest of it is still being projected. Should
    // Temporal not answer, the projection goes on without waking, and the wakes are tried again at the end
    // (kept for the next round if they fail again).
    let waking = Promise.resolve(true);
    for (;;) {
      const { rows, endpointIds } = await projectOutbox(db);
      for (const id of endpointIds) toWake.add(id);
      waking = waking.then((ok) => ok && tryWakeAll());
      if (rows === 0) break;
    }
    await waking;
    if (Date.now() - lastSweep > SWEEP_MS) {
      lastSweep = Date.now();
      for (const id of await staleEndpoints(db)) toWake.add(id);
      const pruned = await pruneDeliveries(db, deps.retentionDays);
      if (pruned > 0) logger.info({ pruned }, 'webhook deliveries past retention dropped');
    }
    await wakeAll();
  }

  const loop = (async () => {
    while (!stopped) {
      const nudged = new Promise<void>((resolve) => {
        nudge = resolve;
        setTimeout(resolve, POLL_MS).unref();
      });
      try {
        await round();
      } catch (error) {
        logger.warn({ err: error }, 'webhook projection failed; trying again');
      }
      await nudged;
    }
  })();

  return {
    async stop() {
      stopped = true;
      nudge?.();
      await loop;
      await listening.unlisten().catch(() => {});
    },
  };
}
