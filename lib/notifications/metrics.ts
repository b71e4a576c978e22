// Notification metrics, registered on the process registry (API: accepted; workers: the rest).
import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics.js';

const labelNames = ['channel', 'priority'] as const;
const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [registry] });

export const notificationMetrics = {
  accepted: counter('mailflow_notifications_accepted_total', 'Notifications admitted by the API.'),
  rateLimited: new Counter({
    name: 'mailflow_notifications_rate_limited_total',
    help: 'Requests refused by an admission rate limit.',
    labelNames: ['limit'] as const,
    registers: [registry],
  }),
  sent: counter('mailflow_notifications_sent_total', 'Notifications accepted by a provider.'),
  failed: counter('mailflow_notifications_failed_total', 'Notifications failed permanently (no retry).'),
  retried: counter('mailflow_notifications_retried_total', 'Send attempts that failed transiently and will be retried.'),
  deadLettered: counter('mailflow_notifications_dead_lettered_total', 'Notifications that exhausted their retries.'),
  late: counter('mailflow_notifications_late_total', 'Notifications sent after their priority deadline.'),
  endToEnd: new Histogram({
    name: 'mailflow_notification_end_to_end_seconds',
    help: 'From acceptance to the provider accepting the send, by priority.',
    labelNames: ['priority'] as const,
    registers: [registry],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 300, 900, 1800, 3600, 7200],
  }),
};

/** One request (or batch item) refused by `limit`, counted by the kind of limit (user, user-template, to, …). */
export function countRateLimited(limit: { key: string }): void {
  notificationMetrics.rateLimited.inc({ limit: limit.key.split(':')[0] });
}
