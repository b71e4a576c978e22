// The change log behind a delta: for every item that ever touched a folder (or, for folders, the
// mailbox), the sequence number of its last change and whether it is present now. Entries are kept
// in an append-only array sorted by sequence, so a page starts with a binary search instead of a scan
// of the whole folder: reading 50,000 messages in pages of 1,000 stays O(page) per request.

export interface LogState {
  seq: number;
  present: boolean;
  /** Why an absent item left: `changed` (moved to another folder) or `deleted`. */
  reason: 'deleted' | 'changed';
  /** When the item (last) entered: a present item added after a round's start is "created". */
  addedSeq: number;
}

export type ChangeType = 'created' | 'updated' | 'deleted';

export class ChangeLog {
  readonly latest = new Map<string, LogState>();
  private seqs: number[] = [];
  private ids: string[] = [];
  private stale = 0;

  touch(id: string, seq: number, present: boolean, reason: LogState['reason'] = 'deleted'): void {
    const previous = this.latest.get(id);
    const addedSeq = present ? (previous?.present ? previous.addedSeq : seq) : (previous?.addedSeq ?? seq);
    this.latest.set(id, { seq, present, reason, addedSeq });
    // One change touching an item twice keeps one entry.
    if (previous?.seq === seq) return;
    if (previous) this.stale += 1;
    this.seqs.push(seq);
    this.ids.push(id);
    if (this.stale > 4_096 && this.stale * 2 > this.seqs.length) this.compact();
  }

  /** The live entries with from < seq <= to, in sequence order. */
  *range(from: number, to: number): Generator<{ id: string; state: LogState }> {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! <= from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.seqs.length; i++) {
      const seq = this.seqs[i]!;
      if (seq > to) return;
      const id = this.ids[i]!;
      const state = this.latest.get(id);
      // A superseded entry: the item changed again later and is reported at its newer position.
      if (state && state.seq === seq) yield { id, state };
    }
  }

  private compact(): void {
    const seqs: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < this.seqs.length; i++) {
      if (this.latest.get(this.ids[i]!)?.seq === this.seqs[i]) {
        seqs.push(this.seqs[i]!);
        ids.push(this.ids[i]!);
      }
    }
    this.seqs = seqs;
    this.ids = ids;
    this.stale = 0;
  }
}

export interface Round {
  from: number;
  head: number;
  pos: number;
}
export interface PageResult {
  items: { id: string; state: LogState }[];
  pos: number;
  done: boolean;
}

/**
 * One page of a round that started at `from` with head `head`, continuing after `pos`. A fresh delta
 * (from 0) lists only present items; later rounds also list the ones that left. `done` when nothing in
 * (pos, head] remains, so the caller answers with a deltaLink.
 */
export function readPage(log: ChangeLog, round: Round, size: number, changeType?: ChangeType, accept?: (id: string, state: LogState) => boolean): PageResult {
  const items: PageResult['items'] = [];
  let pos = round.pos;
  for (const entry of log.range(round.pos, round.head)) {
    if (items.length >= size) return { items, pos, done: false };
    pos = entry.state.seq;
    if (include(entry.state, round.from, changeType) && (!accept || accept(entry.id, entry.state))) items.push(entry);
  }
  return { items, pos: round.head, done: true };
}

function include(state: LogState, from: number, changeType?: ChangeType): boolean {
  if (!state.present) return from > 0 && (changeType === undefined || changeType === 'deleted');
  if (changeType === undefined) return true;
  if (changeType === 'deleted') return false;
  const created = state.addedSeq > from;
  return changeType === 'created' ? created : !created;
}
