// Status changes as they commit, for the console's live list: one poller per API process reads the status
// history after the last id it saw and hands each tenant its own changes. History ids come from a sequence
// taken before commit, so a later id can commit first; an id skipped over is a hole, looked for again on
// every poll until it appears or HOLE_WAIT_MS passes (a rolled-back write leaves a hole for good). Nothing
// that commits within that wait is missed, whatever the order of commits.
import { inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notifications } from '../../db/schema/index.js';
import type { NotificationRow } from './list.js';
import type { NotificationStatus } from './status.js';

export interface NotificationChange {
  /** The history row's id: increasing per change, not consecutive. */
  seq: number;
  from: NotificationStatus | null;
  to: NotificationStatus;
  at: Date;
  notification: NotificationRow;
}

type Listener = (changes: NotificationChange[]) => void;

export interface FeedOptions {
  intervalMs: number;
  /** How long a skipped id is waited for before it is taken to be a rolled-back write. */
  holeWaitMs: number;
}

const BATCH = 1_000;
/** How far below the newest id a new feed looks for changes still committing. */
const STARTING_HOLES = 1_000;

export class NotificationFeed {
  private readonly listeners = new Map<string, Set<Listener>>();
  private cursor: number | undefined;
  private readonly holes = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly options: FeedOptions = { intervalMs: 500, holeWaitMs: 10_000 },
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /**
   * Calls `listener` with each batch of the tenant's changes that commit from now on; resolves once the
   * feed knows where "now" is, so a change committed after it resolves is never missed. Returns the unsubscribe.
   */
  async subscribe(tenant: string, listener: Listener): Promise<() => void> {
    const set = this.listeners.get(tenant) ?? new Set();
    set.add(listener);
    this.listeners.set(tenant, set);
    this.timer ??= setInterval(() => void this.pollOnce(), this.options.intervalMs);
    while (this.cursor === undefined && this.listeners.size > 0) await this.pollOnce();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenant);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Starts from the newest change at the next poll: a new subscriber gets what commits after it came. */
  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.cursor = undefined;
    this.holes.clear();
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }

  /** One poll (overlapping calls share it). */
  pollOnce(): Promise<void> {
    this.polling ??= this.poll()
      .catch(this.onError)
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async poll(): Promise<void> {
    if (this.cursor === undefined) {
      // Start at the newest id; the ids just below it that are not there yet may be changes still
      // committing, so they start out as holes.
      const [row] = await this.db.execute<{ last: number }>(sql`select coalesce(max(id), 0)::float8 as last from notification_status_history`);
      const last = row?.last ?? 0;
      const recent = await this.db.execute<{ id: number }>(
        sql`select id::float8 as id from notification_status_history where id > ${last - STARTING_HOLES} and id <= ${last}`,
      );
      const present = new Set(recent.map((r) => r.id));
      const now = Date.now();
      for (let id = Math.max(1, last - STARTING_HOLES + 1); id < last; id++) if (!present.has(id)) this.holes.set(id, now);
      this.cursor = last;
      return;
    }
    const cursor = this.cursor;
    const holes = [...this.holes.keys()];
    const rows = await this.db.execute<{ seq: number; from_status: NotificationStatus | null; to_status: NotificationStatus; at: string; id: string }>(sql`
      select h.id::float8 as seq, h.from_status, h.to_status, h.at, h.notification_id as id from (
        (select * from notification_status_history where id > ${cursor} order by id limit ${BATCH})
        ${
          holes.length
            ? sql`union all (select * from notification_status_history where id in (${sql.join(
                holes.map((id) => sql`${id}`),
                sql`, `,
              )}))`
            : sql``
        }
      ) h order by h.id`);
    const now = Date.now();
    const seen = new Set(rows.map((r) => r.seq));
    for (const id of holes) if (seen.has(id)) this.holes.delete(id);
    const newest = rows.reduce((max, r) => Math.max(max, r.seq), cursor);
    for (let id = cursor + 1; id < newest; id++) if (!seen.has(id)) this.holes.set(id, now);
    for (const [id, since] of this.holes) if (now - since > this.options.holeWaitMs) this.holes.delete(id);
    this.cursor = newest;
    if (rows.length === 0) return;

    // The rows as they are now, for the tenant check and the list's view.
    const ids = [...new Set(rows.map((r) => r.id))];
    const current = await this.db.select().from(notifications).where(inArray(notifications.id, ids));
    const byId = new Map(current.map((n) => [n.id, n]));
    const byTenant = new Map<string, NotificationChange[]>();
    for (const r of rows) {
      const n = byId.get(r.id);
      if (!n || !this.listeners.has(n.owner)) continue;
      const list = byTenant.get(n.owner) ?? [];
      list.push({ seq: r.seq, from: r.from_status, to: r.to_status, at: new Date(r.at), notification: n });
      byTenant.set(n.owner, list);
    }
    for (const [tenant, changes] of byTenant) for (const listener of this.listeners.get(tenant) ?? []) listener(changes);
  }
}
