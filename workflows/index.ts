// Every workflow type, for the worker bundle. Workflow code is deterministic: no I/O imports here.
export { platformCheck } from './platform-check.js';
export { notification } from './notification.js';
export { mailing, mailingSlice } from './mailings.js';
export { mailboxSync } from './mailbox-sync.js';
export { scheduledFiring } from './schedules.js';
export { tenantState } from './tenant-state.js';
export { notificationRetries } from './notification-retries.js';
export { webhookEndpoint } from './webhook-endpoint.js';
