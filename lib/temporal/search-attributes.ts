// Custom search attributes, registered on the dev server at start and by the production setup. One list,
// so workflows, the Web UI filters in docs/operations.md and the server agree. (SQLite visibility: 10 Keyword slots.)
export const searchAttributeNames = [
  'NotificationChannel',
  'NotificationPriority',
  'UserId',
  'CorrelationId',
  'MailingId',
  'MailboxId',
  'AccountId',
  'ScheduleId',
] as const;

export type SearchAttributeName = (typeof searchAttributeNames)[number];
