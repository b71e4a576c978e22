// Scheduled mail: what to send (request), when (spec), the Temporal Schedule (temporal), firings (fire), verbs (service).
export { scheduledEmailSchema, scheduledNotificationSchema, type ScheduledRequest } from './request.js';
export { whenSchema, type When } from './spec.js';
