// Admission: the one path by which a notification enters the system, for the template form
// (POST /v1/notifications), the direct email form (POST /v1/emails) and schedule firings. In one short
// transaction it takes the idempotency and rate-limit locks, answers a duplicate with the notification it
// already made, consumes the rate limits and stores the notification with an outbox row; the workflow is
// started after commit (starts.ts), and the outbox row makes sure it is, even if this process dies first.
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notificationAttachments, notifications, notificationStatusHistory } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { sealContent } from './content.js';
import { newId } from '../ids.js';
import { deadlineMs, retryScheduleFor } from './policy.js';
import { checkRateLimits, lockKeysStatement, rateLimitStatement, type RateLimit, type RateLimitCount } from './rate-limit.js';
import { startableNotification, NotificationStarts } from './starts.js';
import type { TemplateRow } from './templates.js';
import {
  channelActivityQueue,
  notificationWorkflowId,
  startNotificationWorkflow,
  type Channel,
  type Priority,
  type StartableNotification,
} from './start-workflow.js';

export type NotificationRow = typeof notifications.$inferSelect;

export interface StoredAttachment {
  blobId: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
}

export interface AdmissionRequest {
  /** Who asked (an API key id, or "admin"): idempotency keys are scoped by it. */
  scope: string;
  idempotencyKey?: string;
  /** The request as the client sent it: same key + a different body is refused. */
  fingerprint: unknown;
  userId: string | null;
  channel: Channel;
  priority: Priority;
  templateId?: string;
  templateVersion?: number;
  templateParams?: Record<string, unknown>;
  /** Per user-and-template limit from the template, if it has one. */
  templateLimit?: { count: number; windowSeconds: number } | null;
  sender?: string;
  recipients: string[];
  subject?: string | null;
  text: string;
  html?: string | null;
  correlationId?: string | null;
  attachments?: StoredAttachment[];
  /** Set when a schedule's firing admits it. */
  scheduleId?: string;
}

/** A template-form request (POST /v1/notifications, or a batch item) as admission takes it, once rendered and addressed. */
export function templateAdmission(
  body: { userId: string; type: Channel; templateParams: Record<string, unknown>; correlationId?: string | undefined },
  template: TemplateRow,
  rendered: { subject: string | null; text: string; html: string | null },
  recipients: string[],
  priority: Priority,
): Omit<AdmissionRequest, 'scope'> {
  return {
    fingerprint: body,
    userId: body.userId,
    channel: body.type,
    priority,
    templateId: template.id,
    templateVersion: template.version,
    templateParams: body.templateParams,
    templateLimit:
      template.rateLimitCount && template.rateLimitWindowSeconds ? { count: template.rateLimitCount, windowSeconds: template.rateLimitWindowSeconds } : null,
    recipients,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    correlationId: body.correlationId ?? null,
  };
}

export class IdempotencyConflictError extends Error {
  constructor(readonly notificationId: string) {
    super('this Idempotency-Key was already used with a different request body');
    this.name = 'IdempotencyConflictError';
  }
}

export interface AdmissionResult {
  notification: NotificationRow;
  created: boolean;
}

/** Canonical JSON (sorted keys) so a reordered body still counts as the same request. */
export function fingerprintHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, canonical(x)]),
      );
    return v;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}

const base32 = '0123456789abcdefghjkmnpqrstvwxyz';
/** The notification id of an idempotent request: a function of (scope, key, generation), so duplicates collapse. */
export function idFromIdempotencyKey(scope: string, key: string, generation = ''): string {
  const digest = createHash('sha256').update(`${scope}\0${key}\0${generation}`).digest();
  let out = '';
  for (let i = 0; i < 26; i++) out += base32[digest[i]! % 32];
  return `ntf_${out}`;
}

export function rateLimitsFor(config: Config, request: Pick<AdmissionRequest, 'userId' | 'recipients' | 'templateId' | 'templateLimit'>): RateLimit[] {
  // The seed-001 form names no user: its receiver is the one being protected from floods.
  const subject = request.userId ?? `to:${request.recipients.join(',').toLowerCase()}`;
  const limits: RateLimit[] = [
    {
      key: `user:${subject}`,
      limit: config.RATE_LIMIT_USER_COUNT,
      windowSeconds: config.RATE_LIMIT_USER_WINDOW_SECONDS,
      description: `${config.RATE_LIMIT_USER_COUNT} notifications per ${config.RATE_LIMIT_USER_WINDOW_SECONDS} s per user`,
    },
  ];
  if (request.templateId && request.templateLimit) {
    limits.push({
      key: `user-template:${subject}:${request.templateId}`,
      limit: request.templateLimit.count,
      windowSeconds: request.templateLimit.windowSeconds,
      description: `${request.templateLimit.count} ${request.templateId} per ${request.templateLimit.windowSeconds} s per user`,
    });
  }
  return limits;
}

/** The notification row admission stores for `request` (content sealed, bound to the id). */
export function notificationRowFor(
  encryptor: Encryptor,
  request: AdmissionRequest,
  at: { id: string; scopedKey: string | null; requestHash: string | null; acceptedAt: Date },
): NotificationRow {
  const { id, scopedKey, requestHash, acceptedAt } = at;
  return {
    id,
    owner: request.scope,
    idempotencyKey: scopedKey,
    requestHash,
    userId: request.userId,
    channel: request.channel,
    priority: request.priority,
    templateId: request.templateId ?? null,
    templateVersion: request.templateVersion ?? null,
    templateParams: null,
    sender: request.sender ?? null,
    recipient: request.recipients.join(', '),
    recipients: request.recipients,
    // Content and parameters only sealed: `body` stays empty, `template_params` null.
    subject: request.subject ?? null,
    body: '',
    bodyHtml: null,
    contentSealed: sealContent(encryptor, id, { text: request.text, html: request.html ?? null, params: request.templateParams ?? null }),
    correlationId: request.correlationId ?? null,
    status: 'PENDING',
    deliveryAttempts: 0,
    lastAttemptedAt: null,
    errorMessage: null,
    provider: null,
    providerMessageId: null,
    workflowId: notificationWorkflowId(id),
    deadlineAt: new Date(acceptedAt.getTime() + deadlineMs[request.priority]),
    late: false,
    createdAt: acceptedAt,
    sentAt: null,
    deliveredAt: null,
    openedAt: null,
    failedAt: null,
    deadLetteredAt: null,
  };
}

/** The workflow start admission stores in the outbox for `request`. */
export function startableFor(config: Config, request: AdmissionRequest, id: string, acceptedAt: Date): StartableNotification {
  return {
    notificationId: id,
    channel: request.channel,
    priority: request.priority,
    acceptedAt: acceptedAt.getTime(),
    sendTaskQueue: channelActivityQueue(config, request.channel, request.priority),
    retry: retryScheduleFor(config, request.priority),
    userId: request.userId,
    correlationId: request.correlationId ?? null,
    scheduleId: request.scheduleId ?? null,
  };
}

export interface AdmissionDeps {
  db: Database;
  temporal: Client;
  config: Config;
  encryptor: Encryptor;
  /** Starts workflows after commit (the API's, in the background); without it the start is awaited here. */
  notificationStarts?: NotificationStarts;
}

interface ExistingRequest extends Record<string, unknown> {
  id: string;
  request_hash: string | null;
  created_ms: number;
  start: unknown;
}

/**
 * Admission in one transaction of three round trips (begin, one pipelined batch, commit) that never waits
 * on Temporal: the batch locks the idempotency and rate-limit keys (one statement), then, each statement
 * seeing everything committed before the locks, reads an earlier request with the same key, checks and
 * consumes the limits (unless it is a duplicate), and inserts the notification with its history and outbox
 * rows. A refused limit throws and rolls the insert back. The workflow starts after commit.
 */
export async function admitNotification(deps: AdmissionDeps, request: AdmissionRequest): Promise<AdmissionResult> {
  const { db, config, encryptor } = deps;
  const scopedKey = request.idempotencyKey ? `${request.scope}:${request.idempotencyKey}` : null;
  const requestHash = request.idempotencyKey ? fingerprintHash(request.fingerprint) : null;
  const limits = rateLimitsFor(config, request);
  const lockedKeys = [...new Set([...(scopedKey ? [`idempotency:${scopedKey}`] : []), ...limits.map((l) => l.key)])].sort();
  const acceptedAt = new Date();

  const rowFor = (id: string) => notificationRowFor(encryptor, request, { id, scopedKey, requestHash, acceptedAt });
  const startFor = (id: string) => startableFor(config, request, id, acceptedAt);

  const outcome = await db.transaction(async (tx): Promise<AdmissionResult & { start: StartableNotification | null }> => {
    const insert = (row: NotificationRow, start: StartableNotification) =>
      tx.execute<{ id: string }>(sql`
      with ins as ${tx.insert(notifications).values(row).onConflictDoNothing().returning({ id: notifications.id })},
      history as (
        insert into notification_status_history (notification_id, from_status, to_status, reason, at)
        select id, null, 'PENDING', 'accepted', ${acceptedAt.toISOString()}::timestamptz from ins
      ),
      outbox as (insert into notification_starts (notification_id, start) select id, ${JSON.stringify(start)}::jsonb from ins)
      select id from ins`);
    const consume = (unless?: SQL) => (limits.length > 0 ? tx.execute<RateLimitCount>(rateLimitStatement(limits, unless)) : Promise.resolve([]));
    const duplicate = scopedKey ? sql`exists (select 1 from notifications where idempotency_key = ${scopedKey})` : undefined;

    let row = rowFor(scopedKey ? idFromIdempotencyKey(request.scope, request.idempotencyKey!) : newId('ntf'));
    let start = startFor(row.id);
    const [, earlier, counts, inserted] = await Promise.all([
      tx.execute(lockKeysStatement(lockedKeys)),
      scopedKey
        ? tx.execute<ExistingRequest>(sql`
        select n.id, n.request_hash, (extract(epoch from n.created_at) * 1000)::float8 as created_ms,
               (select s.start from notification_starts s where s.notification_id = n.id) as start
          from notifications n where n.idempotency_key = ${scopedKey}`)
        : Promise.resolve([]),
      consume(duplicate),
      // On conflict (a duplicate, or an expired key still on its row) nothing is inserted.
      insert(row, start),
    ]);

    let created = inserted.length > 0;
    const existing = earlier[0];
    if (existing && Date.now() - existing.created_ms < config.IDEMPOTENCY_TTL_HOURS * 3_600_000) {
      if (existing.request_hash !== requestHash) throw new IdempotencyConflictError(existing.id);
      const [stored] = await tx.select().from(notifications).where(eq(notifications.id, existing.id));
      // Its start never confirmed (a crash, Temporal down): this repeat starts it too.
      const unstarted = startableNotification.safeParse(existing.start);
      return { notification: stored!, created: false, start: unstarted.success ? unstarted.data : null };
    }
    if (existing) {
      // The key expired: free it, and derive the new id from the old one so retries still collapse.
      await tx.update(notifications).set({ idempotencyKey: null }).where(eq(notifications.id, existing.id));
      row = rowFor(idFromIdempotencyKey(request.scope, request.idempotencyKey!, existing.id));
      start = startFor(row.id);
      const [again, reinserted] = await Promise.all([consume(), insert(row, start)]);
      checkRateLimits(limits, again);
      created = reinserted.length > 0;
    } else {
      checkRateLimits(limits, counts);
    }
    if (!created) throw new Error(`notification ${row.id} was not stored (its id or key is taken)`);
    if (request.attachments?.length) {
      await tx.insert(notificationAttachments).values(request.attachments.map((a, position) => ({ notificationId: row.id, position, ...a })));
    }
    return { notification: row, created: true, start };
  });

  if (outcome.start) {
    if (deps.notificationStarts) await deps.notificationStarts.afterCommit(outcome.start);
    else await new NotificationStarts(deps, { background: false }).afterCommit(outcome.start);
  }
  return { notification: outcome.notification, created: outcome.created };
}

export class NotificationNotFoundError extends Error {
  constructor(readonly notificationId: string) {
    super(`no notification ${notificationId}`);
    this.name = 'NotificationNotFoundError';
  }
}

/** The notification's status does not allow the action: only DEAD_LETTERED or FAILED can be retried, only PENDING or RETRYING cancelled. */
export class NotificationStatusError extends Error {
  constructor(
    readonly notificationId: string,
    readonly status: string,
    readonly action: 'retried' | 'cancelled',
  ) {
    super(
      `notification ${notificationId} is ${status}; only ${action === 'retried' ? 'DEAD_LETTERED or FAILED' : 'PENDING or RETRYING'} notifications can be ${action}`,
    );
    this.name = 'NotificationStatusError';
  }
}

/**
 * Puts a failed or dead-lettered notification of the tenant back: PENDING, a fresh deadline, exactly one new
 * workflow run. The row lock and the conditional update make concurrent retries one (the others see
 * PENDING: NotificationStatusError); the start replaces any run still closing, and a refused start
 * rolls the row back. `db` may be a transaction (a batch retry counts the retry in it): the retry is then
 * a savepoint of it.
 */
export async function retryNotification(
  db: Pick<Database, 'transaction'>,
  temporal: Client,
  config: Config,
  tenant: string,
  id: string,
): Promise<NotificationRow> {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.owner, tenant)))
      .for('update');
    if (!current) throw new NotificationNotFoundError(id);
    if (current.status !== 'DEAD_LETTERED' && current.status !== 'FAILED') throw new NotificationStatusError(id, current.status, 'retried');
    const acceptedAt = new Date();
    const [row] = await tx
      .update(notifications)
      .set({
        status: 'PENDING',
        errorMessage: null,
        deadlineAt: new Date(acceptedAt.getTime() + deadlineMs[current.priority]),
        late: false,
      })
      .where(and(eq(notifications.id, id), sql`status in ('DEAD_LETTERED', 'FAILED')`))
      .returning();
    await tx
      .insert(notificationStatusHistory)
      .values({ notificationId: id, fromStatus: current.status, toStatus: 'PENDING', reason: 'retry requested', at: acceptedAt });
    await startNotificationWorkflow(
      temporal,
      config,
      {
        notificationId: id,
        channel: current.channel,
        priority: current.priority,
        acceptedAt: acceptedAt.getTime(),
        sendTaskQueue: channelActivityQueue(config, current.channel, current.priority),
        retry: retryScheduleFor(config, current.priority),
        userId: current.userId,
        correlationId: current.correlationId,
      },
      'retry',
    );
    return row!;
  });
}
