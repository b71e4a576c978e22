// Admission of many notifications in one call (POST /v1/notifications/batch). Each item has the single
// request's semantics (admission.ts): its own idempotency key, the same rate limits counted in item order,
// its own answer. But the batch is one short transaction of a few set-based statements, not one per item:
// one statement locks every key the batch touches (sorted, as singles lock theirs, so the two never
// deadlock), one reads the earlier requests with the batch's keys, one reads the limits' windows; the items
// are then decided in memory, in order, and one statement records the rate-limit hits and one stores every
// accepted notification with its history and outbox rows. Workflows start after commit, critical first.
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { newId } from '../ids.js';
import {
  fingerprintHash,
  idFromIdempotencyKey,
  notificationRowFor,
  rateLimitsFor,
  startableFor,
  templateAdmission,
  type AdmissionDeps,
  type AdmissionRequest,
  type NotificationRow,
} from './admission.js';
import { notificationMetrics } from './metrics.js';
import { deadlineMs, priorities, type Priority } from './policy.js';
import { lockKeysStatement, rateLimitWindowsStatement, recordHitsStatement, retryAfterSeconds, type RateLimit, type RateLimitWindow } from './rate-limit.js';
import { startableNotification, NotificationStarts } from './starts.js';
import type { StartableNotification } from './start-workflow.js';
import { ContactMissingError } from './recipients.js';
import { renderTemplate, TemplateChannelError, TemplateNotFoundError, TemplateParamsError, type TemplateRow } from './templates.js';

/** The most items one call may carry. */
export const MAX_BATCH_ITEMS = 1_000;

export interface FieldIssue {
  path: string;
  message: string;
}

/** Why one item was refused; the others go on. */
export type BatchRefusal =
  | { reason: 'validation'; detail: string; errors: FieldIssue[] }
  | { reason: 'unknown_template' | 'unknown_user' | 'no_contact'; detail: string }
  | {
      reason: 'rate_limited';
      detail: string;
      retryAfterSeconds: number;
      /** The limit that was full (its key names whom it counts: not part of an answer). */
      limit: RateLimit;
    }
  | { reason: 'idempotency_conflict'; detail: string; notificationId: string };

interface Admitted {
  id: string;
  status: NotificationRow['status'];
  workflowId: string;
  deadlineAt: Date;
}

export type BatchItemResult =
  | ({ index: number; outcome: 'accepted' } & Admitted)
  /** `duplicateOf`: the earlier item of this batch it repeats; absent when it repeats an earlier request. */
  | ({ index: number; outcome: 'duplicate'; duplicateOf?: number } & Admitted)
  | ({ index: number; outcome: 'refused' } & BatchRefusal);

/**
 * An item ready for admission, without the scope (the batch's), or the reason it cannot be admitted (with the
 * error a single request would have been refused with, where one applies).
 */
export type BatchCandidate = { request: Omit<AdmissionRequest, 'scope' | 'attachments'> } | { refused: BatchRefusal; error?: Error };

export const refusedAsValidation = (where: string, errors: FieldIssue[]): BatchRefusal => ({
  reason: 'validation',
  detail: errors[0] ? `invalid ${where}: ${errors[0].path}: ${errors[0].message}` : `invalid ${where}`,
  errors,
});

/** A template-form item as the route's schema parsed it (the same fields as POST /v1/notifications). */
export interface TemplateNotificationItem {
  idempotencyKey?: string | undefined;
  /** The item as the single request's body would be, for the idempotency fingerprint. */
  body: {
    userId: string;
    type: 'EMAIL' | 'SMS' | 'PUSH';
    templateId: string;
    templateParams: Record<string, unknown>;
    priority?: Priority | undefined;
    correlationId?: string | undefined;
    to?: string | string[] | undefined;
  };
}

const contactOf = { EMAIL: 'email address', SMS: 'phone number', PUSH: 'push token' } as const;

/**
 * Resolves the template-form items with two reads for the whole batch (the templates named, the users
 * without `to`), rendering each as the single request does; an unknown template, an unknown user or one
 * without a contact point for the channel refuses only its item.
 */
export async function prepareTemplateItems(db: Database, items: (TemplateNotificationItem | BatchRefusal)[]): Promise<BatchCandidate[]> {
  const valid = items.filter((i): i is TemplateNotificationItem => 'body' in i);
  const templateIds = [...new Set(valid.map((i) => i.body.templateId))];
  const userIds = [...new Set(valid.filter((i) => i.body.to === undefined).map((i) => i.body.userId))];
  const [templateRows, userRows] = await Promise.all([
    templateIds.length === 0
      ? []
      : db.execute<TemplateRow & Record<string, unknown>>(sql`
          select distinct on (id) id, version, channel, subject, body, format, params,
                 rate_limit_count as "rateLimitCount", rate_limit_window_seconds as "rateLimitWindowSeconds"
            from templates where id in (select jsonb_array_elements_text(${JSON.stringify(templateIds)}::jsonb))
           order by id, version desc`),
    userIds.length === 0
      ? []
      : db.execute<{ user_id: string; email: string | null; phone: string | null; push_tokens: string[] }>(sql`
          select user_id, email, phone, push_tokens from recipients
           where user_id in (select jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb))`),
  ]);
  const templates = new Map<string, TemplateRow>(templateRows.map((t) => [t.id, { ...t, format: t.format === 'html' ? 'html' : 'text' }]));
  const users = new Map(userRows.map((u) => [u.user_id, u]));

  return items.map((item): BatchCandidate => {
    if (!('body' in item)) return { refused: item };
    const { body } = item;
    const template = templates.get(body.templateId);
    if (!template)
      return { refused: { reason: 'unknown_template', detail: `no template ${body.templateId}` }, error: new TemplateNotFoundError(body.templateId) };
    if (template.channel !== body.type) {
      const error = new TemplateChannelError(template.id, template.channel, body.type);
      return { refused: refusedAsValidation('item', [{ path: 'type', message: error.message }]), error };
    }
    let rendered: ReturnType<typeof renderTemplate>;
    try {
      rendered = renderTemplate(template, body.templateParams);
    } catch (error) {
      if (!(error instanceof TemplateParamsError)) throw error;
      return {
        refused: refusedAsValidation('templateParams', [
          ...error.missing.map((name) => ({ path: `templateParams.${name}`, message: 'missing: the template uses this parameter' })),
          ...error.unknown.map((name) => ({ path: `templateParams.${name}`, message: 'unknown: the template does not declare this parameter' })),
        ]),
        error,
      };
    }
    let recipients: string[];
    if (body.to !== undefined) recipients = [body.to].flat();
    else {
      const user = users.get(body.userId);
      // A single request names no unknown user: it is one without a contact point.
      if (!user)
        return {
          refused: { reason: 'unknown_user', detail: `no user ${body.userId} (create it with PUT /v1/users/${body.userId}, or give "to")` },
          error: new ContactMissingError(body.userId, body.type),
        };
      const contacts = body.type === 'EMAIL' ? [user.email] : body.type === 'SMS' ? [user.phone] : user.push_tokens;
      recipients = contacts.filter((c): c is string => Boolean(c));
      if (recipients.length === 0)
        return {
          refused: {
            reason: 'no_contact',
            detail: `user ${body.userId} has no ${contactOf[body.type]} (set it with PUT /v1/users/${body.userId}, or give "to")`,
          },
          error: new ContactMissingError(body.userId, body.type),
        };
    }
    return {
      request: {
        ...(item.idempotencyKey ? { idempotencyKey: item.idempotencyKey } : {}),
        ...templateAdmission(body, template, rendered, recipients, body.priority ?? 'medium'),
      },
    };
  });
}

interface EarlierRequest extends Record<string, unknown> {
  id: string;
  idempotency_key: string;
  request_hash: string | null;
  status: NotificationRow['status'];
  workflow_id: string;
  deadline_ms: number;
  created_ms: number;
  start: unknown;
}

interface Pending {
  index: number;
  request: AdmissionRequest;
  scopedKey: string | null;
  requestHash: string | null;
  limits: RateLimit[];
}

/** Critical first, then by due time: the order the outbox's starts are handed to Temporal. */
const startOrder = (a: StartableNotification, b: StartableNotification) =>
  priorities.indexOf(a.priority) - priorities.indexOf(b.priority) || a.acceptedAt + deadlineMs[a.priority] - (b.acceptedAt + deadlineMs[b.priority]);

/** Admits the candidates of one call for `scope`; answers one result per candidate, in order. */
export async function admitBatch(deps: AdmissionDeps, scope: string, candidates: BatchCandidate[]): Promise<BatchItemResult[]> {
  const { db, config, encryptor } = deps;
  const results: BatchItemResult[] = new Array<BatchItemResult>(candidates.length);
  const pending: Pending[] = [];
  candidates.forEach((candidate, index) => {
    if ('refused' in candidate) {
      results[index] = { index, outcome: 'refused', ...candidate.refused };
      return;
    }
    const request: AdmissionRequest = { ...candidate.request, scope };
    pending.push({
      index,
      request,
      scopedKey: request.idempotencyKey ? `${scope}:${request.idempotencyKey}` : null,
      requestHash: request.idempotencyKey ? fingerprintHash(request.fingerprint) : null,
      limits: rateLimitsFor(config, request),
    });
  });
  if (pending.length === 0) return results;

  const scopedKeys = [...new Set(pending.flatMap((p) => (p.scopedKey ? [p.scopedKey] : [])))];
  const limits = [...new Map(pending.flatMap((p) => p.limits).map((l) => [l.key, l])).values()];
  const lockedKeys = [...new Set([...scopedKeys.map((k) => `idempotency:${k}`), ...limits.map((l) => l.key)])].sort();
  const acceptedAt = new Date();

  const { starts, accepted } = await db.transaction(async (tx) => {
    // Each statement after the first sees everything committed before the locks were granted.
    const [, earlierRows, windowRows] = await Promise.all([
      tx.execute(lockKeysStatement(lockedKeys)),
      scopedKeys.length === 0
        ? Promise.resolve([])
        : tx.execute<EarlierRequest>(sql`
            select n.id, n.idempotency_key, n.request_hash, n.status, n.workflow_id,
                   (extract(epoch from n.deadline_at) * 1000)::float8 as deadline_ms,
                   (extract(epoch from n.created_at) * 1000)::float8 as created_ms,
                   (select s.start from notification_starts s where s.notification_id = n.id) as start
              from notifications n
             where n.idempotency_key in (select jsonb_array_elements_text(${JSON.stringify(scopedKeys)}::jsonb))`),
      tx.execute<RateLimitWindow>(rateLimitWindowsStatement(limits)),
    ]);
    const earlier = new Map(earlierRows.map((r) => [r.idempotency_key, r]));
    const windows = new Map(windowRows.map((w) => [w.key, { count: w.count, ages: [...w.ages] }]));
    /** Keys this batch has already answered with an id: a later item with the key repeats it. */
    const answered = new Map<string, { index: number; requestHash: string | null } & Admitted>();
    const expired = new Set<string>();
    const rows: NotificationRow[] = [];
    const starts: StartableNotification[] = [];
    const hits: string[] = [];

    for (const item of pending) {
      const { index, request, scopedKey, requestHash } = item;
      let id = newId('ntf');
      if (scopedKey) {
        const repeated = answered.get(scopedKey);
        const conflict = (notificationId: string): BatchItemResult => ({
          index,
          outcome: 'refused',
          reason: 'idempotency_conflict',
          detail: `this idempotencyKey was already used with a different request (notification ${notificationId})`,
          notificationId,
        });
        if (repeated) {
          results[index] =
            repeated.requestHash === requestHash
              ? {
                  index,
                  outcome: 'duplicate',
                  duplicateOf: repeated.index,
                  id: repeated.id,
                  status: repeated.status,
                  workflowId: repeated.workflowId,
                  deadlineAt: repeated.deadlineAt,
                }
              : conflict(repeated.id);
          continue;
        }
        const existing = earlier.get(scopedKey);
        if (existing && Date.now() - existing.created_ms < config.IDEMPOTENCY_TTL_HOURS * 3_600_000) {
          if (existing.request_hash !== requestHash) {
            results[index] = conflict(existing.id);
            continue;
          }
          const admitted = { id: existing.id, status: existing.status, workflowId: existing.workflow_id, deadlineAt: new Date(existing.deadline_ms) };
          results[index] = { index, outcome: 'duplicate', ...admitted };
          answered.set(scopedKey, { index, requestHash, ...admitted });
          // Its start never confirmed (a crash, Temporal down): this repeat starts it too, as a single repeat does.
          const unstarted = startableNotification.safeParse(existing.start);
          if (unstarted.success) starts.push(unstarted.data);
          continue;
        }
        if (existing) {
          // The key expired: freed below, and the new id derives from the old one so retries still collapse.
          expired.add(existing.id);
          id = idFromIdempotencyKey(scope, request.idempotencyKey!, existing.id);
        } else id = idFromIdempotencyKey(scope, request.idempotencyKey!);
      }

      // The first limit (in the single path's order) already full refuses the item; otherwise it takes one hit on each.
      const full = item.limits.find((l) => (windows.get(l.key)?.count ?? 0) >= l.limit);
      if (full) {
        const wait = retryAfterSeconds(full, windows.get(full.key)?.ages ?? []);
        results[index] = {
          index,
          outcome: 'refused',
          reason: 'rate_limited',
          detail: `rate limit exceeded: ${full.description}; retry after ${wait} s`,
          retryAfterSeconds: wait,
          limit: full,
        };
        continue;
      }
      for (const l of item.limits) {
        const window = windows.get(l.key) ?? { count: 0, ages: [] };
        windows.set(l.key, { count: window.count + 1, ages: [0, ...window.ages] });
        hits.push(l.key);
      }
      const row = notificationRowFor(encryptor, request, { id, scopedKey, requestHash, acceptedAt });
      rows.push(row);
      starts.push(startableFor(config, request, id, acceptedAt));
      const admitted = { id, status: row.status, workflowId: row.workflowId, deadlineAt: row.deadlineAt };
      results[index] = { index, outcome: 'accepted', ...admitted };
      if (scopedKey) answered.set(scopedKey, { index, requestHash, ...admitted });
    }

    const expiredIds = JSON.stringify([...expired]);
    // Pipelined, in this order on the connection: a freed key before the insert that takes it again.
    // (A drizzle query runs when awaited: each is awaited exactly once, here.)
    const [, , inserted] = await Promise.all([
      expired.size > 0
        ? tx.execute(sql`update notifications set idempotency_key = null where id in (select jsonb_array_elements_text(${expiredIds}::jsonb))`)
        : Promise.resolve(),
      hits.length > 0 ? tx.execute(recordHitsStatement(hits)) : Promise.resolve(),
      rows.length > 0 ? tx.execute<{ id: string }>(insertStatement(rows, starts, acceptedAt)) : Promise.resolve([]),
    ]);
    // Under the locks nothing else can take these ids or keys: a short count is a bug, never a partial batch.
    if (inserted.length !== rows.length) throw new Error(`batch admission stored ${inserted.length} of ${rows.length} notifications`);
    return { starts, accepted: rows };
  });

  for (const row of accepted) notificationMetrics.accepted.inc({ channel: row.channel, priority: row.priority });
  const ordered = [...starts].sort(startOrder);
  if (deps.notificationStarts) for (const start of ordered) await deps.notificationStarts.afterCommit(start);
  else {
    const now = new NotificationStarts(deps, { background: false });
    for (const start of ordered) await now.afterCommit(start);
  }
  return results;
}

/**
 * One statement for every accepted notification, its history row and its outbox row: the rows travel as one
 * JSON parameter (a multi-row VALUES of 1,000 rows would bind some 30,000 parameters).
 */
function insertStatement(rows: NotificationRow[], starts: StartableNotification[], acceptedAt: Date) {
  const startOf = new Map(starts.map((s) => [s.notificationId, s]));
  const input = rows.map((r) => ({
    id: r.id,
    owner: r.owner,
    idempotency_key: r.idempotencyKey,
    request_hash: r.requestHash,
    user_id: r.userId,
    channel: r.channel,
    priority: r.priority,
    template_id: r.templateId,
    template_version: r.templateVersion,
    sender: r.sender,
    recipient: r.recipient,
    recipients: r.recipients,
    subject: r.subject,
    content_sealed: r.contentSealed,
    correlation_id: r.correlationId,
    workflow_id: r.workflowId,
    deadline_at: r.deadlineAt.toISOString(),
    start: startOf.get(r.id),
  }));
  return sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb) as x(
        id text, owner text, idempotency_key text, request_hash text, user_id text, channel text, priority text,
        template_id text, template_version int, sender text, recipient text, recipients jsonb, subject text,
        content_sealed text, correlation_id text, workflow_id text, deadline_at timestamptz, start jsonb)
    ),
    ins as (
      insert into notifications (id, owner, idempotency_key, request_hash, user_id, channel, priority, template_id,
        template_version, sender, recipient, recipients, subject, body, content_sealed, correlation_id, status,
        workflow_id, deadline_at, created_at)
      select id, owner, idempotency_key, request_hash, user_id, channel::notification_channel, priority::notification_priority,
             template_id, template_version, sender, recipient, array(select jsonb_array_elements_text(recipients)), subject, '',
             content_sealed, correlation_id, 'PENDING', workflow_id, deadline_at, ${acceptedAt.toISOString()}::timestamptz
        from input
      on conflict do nothing
      returning id
    ),
    history as (
      insert into notification_status_history (notification_id, from_status, to_status, reason, at)
      select id, null, 'PENDING', 'accepted', ${acceptedAt.toISOString()}::timestamptz from ins
    ),
    outbox as (insert into notification_starts (notification_id, start) select input.id, input.start from input join ins using (id))
    select id from ins`;
}
