// Every resource's routes, mounted by api/app.ts. One module per resource.
import { healthRoutes } from './health.js';
import { accountEventRoutes } from './v1/account-events.js';
import { accountRoutes } from './v1/accounts.js';
import { apiKeyRoutes } from './v1/api-keys.js';
import { tenantRoutes } from './v1/tenants.js';
import { emailRoutes } from './v1/emails.js';
import { graphWebhookRoutes } from './v1/graph-webhook.js';
import { mailboxRoutes } from './v1/mailboxes.js';
import { mailingRoutes } from './v1/mailings.js';
import { notificationBatchRoutes } from './v1/notifications-batch.js';
import { notificationConsoleRoutes } from './v1/notifications-console.js';
import { notificationRoutes } from './v1/notifications.js';
import { oauthRoutes } from './v1/oauth.js';
import { scheduleRoutes } from './v1/schedules.js';
import { suppressionRoutes } from './v1/suppressions.js';
import { templateRoutes } from './v1/templates.js';
import { userRoutes } from './v1/users.js';
import { webhookEndpointRoutes } from './v1/webhook-endpoints.js';
import { webhookRoutes } from './v1/webhooks.js';

export const routers = [
  healthRoutes,
  tenantRoutes,
  apiKeyRoutes,
  userRoutes,
  templateRoutes,
  // Before the notification routes: its fixed paths (/v1/notifications/counts …) are not notification ids.
  notificationConsoleRoutes,
  notificationRoutes,
  notificationBatchRoutes,
  suppressionRoutes,
  emailRoutes,
  webhookRoutes,
  graphWebhookRoutes,
  mailingRoutes,
  scheduleRoutes,
  accountRoutes,
  accountEventRoutes,
  mailboxRoutes,
  oauthRoutes,
  webhookEndpointRoutes,
];
