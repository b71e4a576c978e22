// Everything the console shows about one notification: the request (parameters with secret ones masked),
// every status change, each delivery attempt, the provider's events, the deadline's margin, the suppression
// that stopped it, and where its run is in the Temporal Web UI.
import { asc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notificationAttempts, webhookEvents } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { openContent } from './content.js';
import { notificationWithHistory, type NotificationRow, type StatusChange } from './list.js';
import { findSuppression, type SuppressionRow } from './suppressions.js';

export type AttemptRow = typeof notificationAttempts.$inferSelect;

export interface ProviderEvent {
  provider: string;
  event: string;
  occurredAt: Date | null;
  receivedAt: Date;
}

export interface DeadlineOutcome {
  at: Date;
  /** Whether it was sent by the deadline; null while it is not sent and the deadline has not passed. */
  met: boolean | null;
  /** Deadline minus the send time (or minus now while unsent): positive is the time to spare, negative how late. */
  marginMs: number;
}

export interface NotificationDetail {
  notification: NotificationRow;
  history: StatusChange[];
  /** The template parameters as requested, secret ones masked; null for a request without a template. */
  params: Record<string, unknown> | null;
  attempts: AttemptRow[];
  events: ProviderEvent[];
  deadline: DeadlineOutcome;
  suppression: SuppressionRow | null;
  temporalUrl: string | null;
}

/** Parameters whose names say they carry a secret (a reset link, a sign-in code): shown as a mask. */
const SECRET_PARAM = /(password|passcode|secret|token|code|otp|pin|url|link|key)/i;
export const MASK = '••••••';

export function maskParams(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, SECRET_PARAM.test(name) ? MASK : value]));
}

export function deadlineOutcome(n: Pick<NotificationRow, 'deadlineAt' | 'sentAt'>, now: Date): DeadlineOutcome {
  const at = n.deadlineAt;
  const marginMs = at.getTime() - (n.sentAt ?? now).getTime();
  return { at, met: n.sentAt ? marginMs >= 0 : marginMs < 0 ? false : null, marginMs };
}

export function temporalRunUrl(config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>, workflowId: string): string | null {
  if (!config.TEMPORAL_UI_URL) return null;
  const base = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}

export async function notificationDetail(
  deps: { db: Database; encryptor: Encryptor; config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'> },
  tenant: string,
  id: string,
): Promise<NotificationDetail | undefined> {
  const { db } = deps;
  const found = await notificationWithHistory(db, tenant, id);
  if (!found) return undefined;
  const n = found.notification;
  const [attempts, events] = await Promise.all([
    db.select().from(notificationAttempts).where(eq(notificationAttempts.notificationId, id)).orderBy(asc(notificationAttempts.id)),
    db
      .select({ provider: webhookEvents.provider, event: webhookEvents.event, occurredAt: webhookEvents.occurredAt, receivedAt: webhookEvents.receivedAt })
      .from(webhookEvents)
      .where(eq(webhookEvents.notificationId, id))
      .orderBy(asc(webhookEvents.receivedAt)),
  ]);
  const opened = n.contentSealed || n.templateParams ? openContent(deps.encryptor, n).params : null;
  const params = opened ?? n.templateParams;
  const stoppedBySuppression = found.history.some((h) => h.reason?.startsWith('suppressed'));
  const suppression = stoppedBySuppression && n.channel === 'EMAIL' ? await findSuppression(db, tenant, n.recipients ?? [n.recipient]) : undefined;
  return {
    notification: n,
    history: found.history,
    params: params ? maskParams(params) : null,
    attempts,
    events,
    deadline: deadlineOutcome(n, new Date()),
    suppression: suppression ?? null,
    temporalUrl: temporalRunUrl(deps.config, n.workflowId),
  };
}
