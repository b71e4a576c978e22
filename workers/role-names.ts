// The worker roles, on their own so that the stack launcher can name them without loading their code.
// delivery: notification workflows (one queue per priority) and schedule firings; email/sms/push: the
// channel send activities (one queue per channel and priority); mailings: CSV mailings; mailbox-sync:
// mailbox sync; webhooks: outbound webhooks (projection and delivery).
export const roles = ['delivery', 'email', 'sms', 'push', 'mailings', 'mailbox-sync', 'webhooks'] as const;
export type Role = (typeof roles)[number];

/** The names these roles had before, still taken in WORKER_ROLES so existing deployments keep working. */
export const formerRoleNames: Record<string, Role> = { mailing: 'mailings', sync: 'mailbox-sync' };
