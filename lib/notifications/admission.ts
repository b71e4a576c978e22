// Admission: the one path by which a notification enters the system, for both the template form
// (POST /v1/notifications) and the direct email form (POST /v1/emails). In one transaction it takes
// the idempotency and rate-limit locks, answers a duplicate with the notification it already made,
// consumes the rate limits, stores the notification and starts its workflow; if Temporal refuses the
// start nothing is committed, so no notification is ever stored without a workflow to deliver it.
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notificationAttachments, notifications, notificationStatusHistory } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { sealContent } from './content.js';
import { newId } from '../ids.js';
import { deadlineMs, retryScheduleFor } from './policy.js';
import { consumeRateLimits, lockKeys, type RateLimit } from './rate-limit.js';
import { channelActivityQueue, notificationWorkflowId, startNotificationWorkflow, type Channel, type Priority } from './start-workflow.js';

export type NotificationRow = typeof notifications.$inferSelect;

export interface StoredAttachment { blobId: string; filename: string; contentType: string; size: number; sha256: string }

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

export class IdempotencyConflictError extends Error {
  constructor(readonly notificationId: string) {
    super('this Idempotency-Key was already used with a different request body');
    this.name = 'IdempotencyConflictError';
  }
}

export interface AdmissionResult { notification: NotificationRow; created: boolean }

/** Canonical JSON (sorted keys) so a reordered body still counts as the same request. */
export function fingerprintHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
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
  const limits: RateLimit[] = [{
    key: `user:${subject}`, limit: config.RATE_LIMIT_USER_COUNT, windowSeconds: config.RATE_LIMIT_USER_WINDOW_SECONDS,
    description: `${config.RATE_LIMIT_USER_COUNT} notifications per ${config.RATE_LIMIT_USER_WINDOW_SECONDS} s per user`,
  }];
  if (request.templateId && request.templateLimit) {
    limits.push({
      key: `user-template:${subject}:${request.templateId}`, limit: request.templateLimit.count, windowSeconds: request.templateLimit.windowSeconds,
      description: `${request.templateLimit.count} ${request.templateId} per ${request.templateLimit.windowSeconds} s per user`,
    });
  }
  return limits;
}

export interface AdmissionDeps { db: Database; temporal: Client; config: Config; encryptor: Encryptor }

export async function admitNotification({ db, temporal, config, encryptor }: AdmissionDeps, request: AdmissionRequest): Promise<AdmissionResult> {
  const scopedKey = request.idempotencyKey ? `${request.scope}:${request.idempotencyKey}` : null;
  const requestHash = request.idempotencyKey ? fingerprintHash(request.fingerprint) : null;
  const limits = rateLimitsFor(config, request);

  return db.transaction(async (tx) => {
    await lockKeys(tx, [...(scopedKey ? [`idempotency:${scopedKey}`] : []), ...limits.map((l) => l.key)]);

    let id = newId('ntf');
    if (scopedKey) {
      const [existing] = await tx.select().from(notifications).where(eq(notifications.idempotencyKey, scopedKey));
      const ttlMs = config.IDEMPOTENCY_TTL_HOURS * 3_600_000;
      if (existing && Date.now() - existing.createdAt.getTime() < ttlMs) {
        if (existing.requestHash !== requestHash) throw new IdempotencyConflictError(existing.id);
        return { notification: existing, created: false };
      }
      if (existing) {
        // The key expired: free it, and derive the new id from the old one so retries still collapse.
        await tx.update(notifications).set({ idempotencyKey: null }).where(eq(notifications.id, existing.id));
      }
      id = idFromIdempotencyKey(request.scope, request.idempotencyKey!, existing?.id ?? '');
    }

    await consumeRateLimits(tx, limits);

    const acceptedAt = new Date();
    const [row] = await tx.insert(notifications).values({
      id, owner: request.scope, idempotencyKey: scopedKey, requestHash,
      userId: request.userId, channel: request.channel, priority: request.priority,
      templateId: request.templateId ?? null, templateVersion: request.templateVersion ?? null,
      sender: request.sender ?? null, recipient: request.recipients.join(', '), recipients: request.recipients,
      // Content and parameters only sealed: `body` stays empty, `template_params` null.
      subject: request.subject ?? null, body: '', bodyHtml: null,
      contentSealed: sealContent(encryptor, id, { text: request.text, html: request.html ?? null, params: request.templateParams ?? null }),
      correlationId: request.correlationId ?? null,
      workflowId: notificationWorkflowId(id),
      deadlineAt: new Date(acceptedAt.getTime() + deadlineMs[request.priority]),
      createdAt: acceptedAt,
    }).returning();
    await tx.insert(notificationStatusHistory).values({ notificationId: id, fromStatus: null, toStatus: 'PENDING', reason: 'accepted', at: acceptedAt });
    if (request.attachments?.length) {
      await tx.insert(notificationAttachments).values(request.attachments.map((a, position) => ({ notificationId: id, position, ...a })));
    }

    await startNotificationWorkflow(temporal, config, {
      notificationId: id, channel: request.channel, priority: request.priority, acceptedAt: acceptedAt.getTime(),
      sendTaskQueue: channelActivityQueue(config, request.channel, request.priority),
      retry: retryScheduleFor(config, request.priority),
      userId: request.userId, correlationId: request.correlationId ?? null, scheduleId: request.scheduleId ?? null,
    });
    return { notification: row!, created: true };
  });
}

/**
 * Puts a failed or dead-lettered notification back: PENDING, a fresh deadline, exactly one new workflow run.
 * The row lock and the conditional update make concurrent retries one (the others see PENDING: 409); the
 * start replaces any run still closing, and a refused start rolls the row back.
 */
export type RetryResult = { retried: true; notification: NotificationRow } | { retried: false; notification: NotificationRow };

export async function retryNotification(db: Database, temporal: Client, config: Config, id: string): Promise<RetryResult | undefined> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(notifications).where(eq(notifications.id, id)).for('update');
    if (!current) return undefined;
    // A concurrent retry that got the lock first already made it PENDING: this one is refused, not joined.
    if (current.status !== 'DEAD_LETTERED' && current.status !== 'FAILED') return { retried: false, notification: current };
    const acceptedAt = new Date();
    const [row] = await tx.update(notifications).set({
      status: 'PENDING', errorMessage: null, deadlineAt: new Date(acceptedAt.getTime() + deadlineMs[current.priority]), late: false,
    }).where(and(eq(notifications.id, id), sql`status in ('DEAD_LETTERED', 'FAILED')`)).returning();
    await tx.insert(notificationStatusHistory).values({ notificationId: id, fromStatus: current.status, toStatus: 'PENDING', reason: 'retry requested', at: acceptedAt });
    await startNotificationWorkflow(temporal, config, {
      notificationId: id, channel: current.channel, priority: current.priority, acceptedAt: acceptedAt.getTime(),
      sendTaskQueue: channelActivityQueue(config, current.channel, current.priority),
      retry: retryScheduleFor(config, current.priority),
      userId: current.userId, correlationId: current.correlationId,
    }, 'retry');
    return { retried: true, notification: row! };
  });
}
