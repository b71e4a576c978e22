// The worker roles, on their own so that the stack launcher can name them without loading their code.
// delivery: notification workflows (one queue per priority); email/sms/push: the channel send
// activities (one queue per channel and priority); mailing: CSV mailings; sync: mailbox sync.
export const roles = ['delivery', 'email', 'sms', 'push', 'mailing', 'sync'] as const;
export type Role = (typeof roles)[number];
