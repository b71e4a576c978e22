// Every message a simulator accepted, deduplicated by idempotency key: a repeated key returns the first
// acceptance and adds nothing, which is what lets tests prove "no duplicate after a crash".
export interface LedgerEntry {
  id: string;
  idempotencyKey: string | null;
  acceptedAt: string;
  [field: string]: unknown;
}

export class Ledger<E extends LedgerEntry = LedgerEntry> {
  private entries: E[] = [];
  private byKey = new Map<string, E>();

  find(idempotencyKey: string | null | undefined): E | undefined {
    return idempotencyKey ? this.byKey.get(idempotencyKey) : undefined;
  }

  add(entry: E): E {
    const existing = this.find(entry.idempotencyKey);
    if (existing) return existing;
    this.entries.push(entry);
    if (entry.idempotencyKey) this.byKey.set(entry.idempotencyKey, entry);
    return entry;
  }

  byId(id: string): E | undefined {
    return this.entries.find((e) => e.id === id);
  }

  all(): E[] {
    return [...this.entries];
  }

  clear(): void {
    this.entries = [];
    this.byKey.clear();
  }
}
