// Stores a mailing list's rows as fast as PostgreSQL takes them. Set-based: one statement per batch and
// lane, the rows as arrays (`unnest`), duplicates found by the partial unique index (`on conflict`), no
// per-row work but the address check (tokens are made at first send: lib/mailings/send-token.ts).
// Overlapped: the next batch is parsed while this one is written, on `lanes` connections at once.
//
// Rows are dealt to lanes by a hash of their address, so every copy of one address goes to the same lane,
// which writes its batches one after another in row order: the first occurrence of an address is always the
// one kept, whatever the timing, and two lanes never contend for an index entry.
//
// A checkpoint (for the activity's heartbeat) names the end of a batch every lane has committed, with
// every batch before it. A resumed parse starts there and writes again what a lane had already committed
// past it: the primary key (mailing, row) makes that a no-op, so a crash never duplicates or changes a row.
import type { Readable } from 'node:stream';
import type { Database } from '../../db/client.js';
import { checkAddress } from './addresses.js';
import { mailingMetrics } from './metrics.js';
import { parseMailingCsv, type CsvBatch, type CsvLayout, type ParseOptions } from './csv.js';

export interface IngestCheckpoint {
  startByte: number;
  lastRow: number;
  layout: CsvLayout;
}

export interface IngestOptions {
  mailingId: string;
  /** The file from a byte offset (the blob store's reader). */
  open: (startByte: number) => Readable;
  parse: Omit<ParseOptions, 'resume' | 'batchSize'>;
  resume?: IngestCheckpoint;
  /** Called in order, once all rows up to the checkpoint are committed. */
  onCheckpoint: (checkpoint: IngestCheckpoint) => void;
  /** Rows per statement: large enough that a round trip is noise, small enough to heartbeat often. */
  batchSize?: number;
  /** Connections writing at once. Two keeps both cores of a small machine busy beside the parser. */
  lanes?: number;
}

export const INGEST_BATCH_ROWS = 5_000;
export const INGEST_LANES = 2;
/** Batches parsed ahead of the oldest one not yet committed (memory stays a few batches). */
const MAX_BATCHES_IN_FLIGHT = 3;

const DUPLICATE_REASON = 'duplicate address (case-insensitive)';

interface LaneRows {
  rows: number[];
  emails: string[];
  normalized: (string | null)[];
  reasons: (string | null)[];
}
const emptyLane = (): LaneRows => ({ rows: [], emails: [], normalized: [], reasons: [] });

/** FNV-1a: cheap and even enough to split addresses between lanes. */
function laneOf(address: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

function split({ firstRow, values }: CsvBatch, lanes: number): LaneRows[] {
  const out = Array.from({ length: lanes }, emptyLane);
  for (let i = 0; i < values.length; i++) {
    const row = firstRow + i;
    const value = values[i]!;
    const check = checkAddress(value);
    const lane = out[check.ok ? laneOf(check.normalized, lanes) : row % lanes]!;
    lane.rows.push(row);
    if (check.ok) {
      lane.emails.push(value.trim());
      lane.normalized.push(check.normalized);
      lane.reasons.push(null);
    } else {
      lane.emails.push(value.slice(0, 1000));
      lane.normalized.push(null);
      lane.reasons.push(check.reason);
    }
  }
  return out;
}

/** Batches a lane writes the careful way after a conflict, before it tries the fast way again. */
const CAREFUL_BATCHES = 10;
interface LaneState {
  careful: number;
}

const isUniqueViolation = (error: unknown) => (error as { code?: unknown } | null)?.code === '23505';

/**
 * One lane's share of a batch. First the fast way: a plain insert, statuses decided here (a repeat inside
 * the batch is a DUPLICATE), about 40% cheaper for PostgreSQL than resolving conflicts row by row. Any
 * conflict (an address queued by an earlier batch, a row written before a resume) makes the whole statement
 * fail and change nothing, and the batch is written the careful way, which settles every row in SQL; the
 * lane stays careful for a few batches, so a list full of repeats pays for few failed attempts.
 */
async function writeLane(db: Database, mailingId: string, lane: LaneRows, state: LaneState): Promise<void> {
  if (state.careful > 0) {
    state.careful -= 1;
    return writeLaneReconciling(db, mailingId, lane);
  }
  try {
    await writeLanePlain(db, mailingId, lane);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    state.careful = CAREFUL_BATCHES;
    await writeLaneReconciling(db, mailingId, lane);
  }
}

async function writeLanePlain(db: Database, mailingId: string, lane: LaneRows): Promise<void> {
  const seen = new Set<string>();
  const statuses = lane.normalized.map((address) => {
    if (address === null) return 'INVALID';
    if (seen.has(address)) return 'DUPLICATE';
    seen.add(address);
    return 'QUEUED';
  });
  const reasons = lane.reasons.map((reason, i) => (statuses[i] === 'DUPLICATE' ? DUPLICATE_REASON : reason));
  await db.$client`
    insert into mailing_recipients (mailing_id, row_number, email, normalized_email, status, reason)
    select ${mailingId}, * from unnest(${lane.rows}::int[], ${lane.emails}::text[], ${lane.normalized}::text[],
      ${statuses}::text[]::mailing_recipient_status[], ${reasons}::text[])`;
  const invalid = statuses.filter((s) => s === 'INVALID').length;
  const duplicate = statuses.filter((s) => s === 'DUPLICATE').length;
  countStored({ queued: statuses.length - invalid - duplicate, invalid, duplicate });
}

/** Rows stored, by status, for the progress counter (rows a resumed parse writes again are not stored again). */
function countStored(stored: { queued: number; invalid: number; duplicate: number }): void {
  for (const [outcome, n] of Object.entries(stored) as [keyof typeof stored, number][]) if (n > 0) mailingMetrics.recipients.inc({ outcome }, n);
}

/**
 * The careful way, in one statement. Valid rows go in as QUEUED in row order; a row the partial unique index
 * refuses (its address is already queued) or the primary key refuses (written before a resume) is not
 * returned, and the second insert writes it as DUPLICATE unless its row already exists. Invalid rows go in
 * with their reason. Every write is `on conflict do nothing`: running it twice is once.
 */
async function writeLaneReconciling(db: Database, mailingId: string, lane: LaneRows): Promise<void> {
  const sql = db.$client;
  const [stored] = await sql<{ queued: number; invalid: number; duplicate: number }[]>`
    with input as (
      select * from unnest(${lane.rows}::int[], ${lane.emails}::text[], ${lane.normalized}::text[], ${lane.reasons}::text[])
        as t(row_number, email, normalized_email, reason)
    ), queued as (
      insert into mailing_recipients (mailing_id, row_number, email, normalized_email, status)
      select ${mailingId}, row_number, email, normalized_email, 'QUEUED' from input where reason is null order by row_number
      on conflict do nothing
      returning row_number
    ), rest as (
      insert into mailing_recipients (mailing_id, row_number, email, normalized_email, status, reason)
      select ${mailingId}, i.row_number, i.email, i.normalized_email,
        (case when i.reason is null then 'DUPLICATE' else 'INVALID' end)::mailing_recipient_status, coalesce(i.reason, ${DUPLICATE_REASON})
      from input i where not exists (select 1 from queued q where q.row_number = i.row_number)
      on conflict do nothing
      returning status
    )
    select (select count(*) from queued)::int as queued, count(*) filter (where status = 'INVALID')::int as invalid,
      count(*) filter (where status = 'DUPLICATE')::int as duplicate
    from rest`;
  if (stored) countStored(stored);
}

interface InFlight {
  checkpoint: IngestCheckpoint;
  done: Promise<unknown>;
}

export async function ingestMailingCsv(db: Database, options: IngestOptions): Promise<void> {
  const lanes = options.lanes ?? INGEST_LANES;
  const tails: Promise<unknown>[] = Array.from({ length: lanes }, () => Promise.resolve());
  const states: LaneState[] = Array.from({ length: lanes }, () => ({ careful: 0 }));
  const inFlight: InFlight[] = [];
  const settleOldest = async () => {
    const oldest = inFlight.shift()!;
    await oldest.done;
    options.onCheckpoint(oldest.checkpoint);
  };
  try {
    const batches = parseMailingCsv(options.open, {
      ...options.parse,
      batchSize: options.batchSize ?? INGEST_BATCH_ROWS,
      ...(options.resume ? { resume: options.resume } : {}),
    });
    for await (const batch of batches) {
      const parts = split(batch, lanes).map((lane, i) => {
        if (lane.rows.length === 0) return tails[i]!;
        // A lane writes its batches in order; a failed write stops the lane (what follows it is not written).
        const written = tails[i]!.then(() => writeLane(db, options.mailingId, lane, states[i]!));
        tails[i] = written;
        return written;
      });
      const done = Promise.all(parts);
      done.catch(() => undefined); // awaited in order below; this only keeps an early failure from being "unhandled"
      inFlight.push({ checkpoint: { startByte: batch.endByte, lastRow: batch.firstRow + batch.values.length - 1, layout: batch.layout }, done });
      while (inFlight.length >= MAX_BATCHES_IN_FLIGHT) await settleOldest();
    }
    while (inFlight.length > 0) await settleOldest();
  } finally {
    // On a failure, let the writes already sent finish before the attempt ends: its retry starts clean.
    await Promise.allSettled(tails);
  }
}
