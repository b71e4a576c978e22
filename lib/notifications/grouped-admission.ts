// Single requests admitted in groups (group commit). While `concurrency` groups are being stored, requests
// that arrive wait and go together in the next one: one transaction of the batch route's set-based
// statements (admitBatch) for all of them. Alone, a request is a group of one and goes at once; under a
// burst a request costs a share of one transaction instead of four round trips of its own, which is where a
// single request's time went (bench/README.md). The answers are the single request's: admitBatch decides
// the items in arrival order with the same idempotency and rate-limit semantics.
import { Histogram } from 'prom-client';
import { registry } from '../metrics.js';
import { admitNotification, IdempotencyConflictError, type AdmissionDeps } from './admission.js';
import { admitBatch, prepareTemplateItems, type BatchCandidate, type BatchItemResult, type TemplateNotificationItem } from './batch.js';
import { notificationMetrics } from './metrics.js';
import { RateLimitExceededError } from './rate-limit.js';

/** What a single request is answered with: admitted (now or earlier, `duplicate`). */
export type GroupedAdmissionResult = Extract<BatchItemResult, { outcome: 'accepted' | 'duplicate' }>;

interface Waiting {
  deps: AdmissionDeps;
  scope: string;
  item: TemplateNotificationItem;
  resolve: (result: GroupedAdmissionResult) => void;
  reject: (error: unknown) => void;
}

const groupSize = new Histogram({
  name: 'mailflow_notification_admission_group_size',
  help: 'Single requests admitted together in one transaction.',
  registers: [registry],
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
});

export interface GroupedAdmissionOptions {
  /** Groups stored at once: a few, so one group's round trips overlap the next group's gathering. */
  concurrency?: number;
  /** The most requests in one group (one transaction). */
  maxGroup?: number;
}

export class GroupedAdmission {
  private readonly concurrency: number;
  private readonly maxGroup: number;
  private queue: Waiting[] = [];
  private inFlight = 0;

  constructor(options: GroupedAdmissionOptions = {}) {
    this.concurrency = options.concurrency ?? 2;
    this.maxGroup = options.maxGroup ?? 500;
  }

  /** Requests gathered for the next group. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Admits one request with the next group; throws what the single path throws for a refusal
   * (RateLimitExceededError, IdempotencyConflictError), or the group's failure.
   */
  admit(deps: AdmissionDeps, scope: string, item: TemplateNotificationItem): Promise<GroupedAdmissionResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ deps, scope, item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxGroup);
      this.inFlight += 1;
      groupSize.observe(group.length);
      void this.store(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async store(group: Waiting[]): Promise<void> {
    // Every request of a process passes the same dependencies: the first one's serve its group.
    const deps = group[0]!.deps;
    let candidates: BatchCandidate[];
    try {
      // The group's templates and users in one read each.
      candidates = await prepareTemplateItems(
        deps.db,
        group.map((w) => w.item),
      );
    } catch (error) {
      for (const w of group) w.reject(error);
      return;
    }
    // admitBatch admits for one tenant: a group of several is stored tenant by tenant, in order of arrival.
    const byScope = new Map<string, { waiting: Waiting; candidate: BatchCandidate }[]>();
    group.forEach((waiting, i) => {
      const candidate = candidates[i]!;
      if ('refused' in candidate) return waiting.reject(candidate.error ?? new Error(candidate.refused.detail));
      const same = byScope.get(waiting.scope);
      if (same) same.push({ waiting, candidate });
      else byScope.set(waiting.scope, [{ waiting, candidate }]);
    });
    for (const [scope, entries] of byScope) {
      try {
        const results = await admitBatch(
          deps,
          scope,
          entries.map((e) => e.candidate),
        );
        results.forEach((result, i) => settle(entries[i]!.waiting, result));
      } catch (error) {
        for (const e of entries) e.waiting.reject(error);
      }
    }
  }
}

function settle(waiting: Waiting, result: BatchItemResult): void {
  if (result.outcome !== 'refused') return waiting.resolve(result);
  if (result.reason === 'rate_limited') return waiting.reject(new RateLimitExceededError(result.limit, result.retryAfterSeconds));
  if (result.reason === 'idempotency_conflict') return waiting.reject(new IdempotencyConflictError(result.notificationId));
  // Templates and contacts were resolved before admitBatch: no other refusal can come from it.
  waiting.reject(new Error(`unexpected refusal in grouped admission: ${result.reason}`));
}

/** One request admitted on its own (its own transaction), answered as a grouped one is. */
export async function admitAlone(deps: AdmissionDeps, scope: string, item: TemplateNotificationItem): Promise<GroupedAdmissionResult> {
  const [candidate] = await prepareTemplateItems(deps.db, [item]);
  if ('refused' in candidate!) throw candidate.error ?? new Error(candidate.refused.detail);
  const { notification: n, created } = await admitNotification(deps, { ...candidate!.request, scope });
  if (created) notificationMetrics.accepted.inc({ channel: n.channel, priority: n.priority });
  return { index: 0, outcome: created ? 'accepted' : 'duplicate', id: n.id, status: n.status, workflowId: n.workflowId, deadlineAt: n.deadlineAt };
}
