// Domain errors as problem details, in one place: services in lib/ throw errors that say what went wrong
// in their own terms, and the app's error handler (api/app.ts) turns each into its HTTP answer here. A
// route maps an error itself only where the same error means something else on it (an unknown template is
// 404 on /v1/templates/{id} but 422 where a notification names it).
import { ScheduleNotFoundError } from '@temporalio/client';
import { AccountExistsError } from '../lib/accounts/accounts.js';
import { InvalidCursorError } from '../lib/mail-index/types.js';
import { ImapLinkError, type ImapLinkFailure } from '../lib/mailbox-sync/imap/link.js';
import { MailingIdempotencyConflictError, MailingStartError } from '../lib/mailings/admission.js';
import { MailingFinishedError, MailingNotFoundError } from '../lib/mailings/service.js';
import { IdempotencyConflictError, NotificationNotFoundError, NotificationStatusError } from '../lib/notifications/admission.js';
import { countRateLimited } from '../lib/notifications/metrics.js';
import { RetryBatchNotFoundError } from '../lib/notifications/retries.js';
import { RateLimitExceededError } from '../lib/notifications/rate-limit.js';
import { ContactMissingError, UserNotFoundError } from '../lib/notifications/recipients.js';
import { TemplateChannelError, TemplateNotFoundError, TemplateParamsError } from '../lib/notifications/templates.js';
import { ScheduleCapError, ScheduleTooFrequentError } from '../lib/schedules/limits.js';
import { ScheduleConflictError, ScheduleValidationError } from '../lib/schedules/service.js';
import { AdminTenantError, TenantNotFoundError } from '../lib/tenants/tenants.js';
import { WebhookEndpointInvalidError, WebhookNotFoundError } from '../lib/webhooks/service.js';
import { AppError, type ErrorCode } from './errors.js';
import type { imapLinkReasons } from './mailboxes/schemas.js';

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;
type Mapping = [ErrorClass<Error>, (error: Error) => AppError];
const map = <E extends Error>(type: ErrorClass<E>, toProblem: (error: E) => AppError): Mapping => [type, toProblem as (error: Error) => AppError];

/** An IMAP link's failures: what the caller sent does not work (422), unless retrying can help. */
const imapLinkCodes: Partial<Record<ImapLinkFailure, ErrorCode>> = {
  timeout: 'gateway_timeout',
  busy: 'unavailable',
  revoked: 'unauthorized',
  unlinking: 'conflict',
  sync_unavailable: 'unavailable',
};
type SnakeCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}_${SnakeCase<Tail>}` : S;
/** The failure as the problem's `reason`, in the API's snake case: `refused_address`, `not_imap`. */
export const imapLinkReason = (failure: ImapLinkFailure) => failure.replaceAll('-', '_') as SnakeCase<ImapLinkFailure>;
// The document lists every reason a link can answer: a new failure kind fails the build until it is documented.
type UndocumentedReason = Exclude<SnakeCase<ImapLinkFailure>, (typeof imapLinkReasons)[number]>;
export const imapLinkReasonsDocumented: [UndocumentedReason] extends [never] ? true : UndocumentedReason = true;

const contactOf = { EMAIL: 'email address', SMS: 'phone number', PUSH: 'push token' } as const;

const mappings: Mapping[] = [
  // Admission of notifications and emails.
  map(RateLimitExceededError, (e) => {
    countRateLimited(e.limit);
    return new AppError('rate_limited', `rate limit exceeded: ${e.limit.description}; retry after ${e.retryAfterSeconds} s`, {
      headers: { 'Retry-After': String(e.retryAfterSeconds) },
      extra: {
        limit: { description: e.limit.description, limit: e.limit.limit, windowSeconds: e.limit.windowSeconds },
        retryAfterSeconds: e.retryAfterSeconds,
      },
    });
  }),
  map(
    IdempotencyConflictError,
    (e) => new AppError('unprocessable', `${e.message} (notification ${e.notificationId})`, { extra: { notificationId: e.notificationId } }),
  ),
  map(TemplateParamsError, (e) => {
    const errors = [
      ...e.missing.map((name) => ({ path: `templateParams.${name}`, message: 'missing: the template uses this parameter' })),
      ...e.unknown.map((name) => ({ path: `templateParams.${name}`, message: 'unknown: the template does not declare this parameter' })),
    ];
    const parts = [e.missing.length ? `missing ${e.missing.join(', ')}` : '', e.unknown.length ? `unknown ${e.unknown.join(', ')}` : ''].filter(Boolean);
    return new AppError('validation', `invalid templateParams: ${parts.join('; ')}`, { errors });
  }),
  map(TemplateNotFoundError, (e) => new AppError('unprocessable', `no template ${e.templateId}`)),
  map(TemplateChannelError, (e) => new AppError('unprocessable', e.message)),
  map(
    ContactMissingError,
    (e) => new AppError('unprocessable', `user ${e.userId} has no ${contactOf[e.channel]} (set it with PUT /v1/users/${e.userId}, or give "to")`),
  ),
  map(NotificationNotFoundError, (e) => new AppError('not_found', e.message)),
  map(NotificationStatusError, (e) => new AppError('conflict', e.message)),
  map(RetryBatchNotFoundError, (e) => new AppError('not_found', e.message)),
  map(UserNotFoundError, (e) => new AppError('not_found', e.message)),
  // Mailings.
  map(MailingNotFoundError, (e) => new AppError('not_found', e.message)),
  map(MailingFinishedError, (e) => new AppError('conflict', e.message)),
  map(MailingIdempotencyConflictError, (e) => new AppError('unprocessable', `${e.message} (mailing ${e.mailingId})`, { extra: { mailingId: e.mailingId } })),
  map(MailingStartError, (e) => new AppError('unavailable', `${e.message}: retry (with the same Idempotency-Key)`)),
  // Schedules.
  map(ScheduleValidationError, (e) => new AppError('validation', e.message, { errors: e.issues })),
  map(ScheduleConflictError, (e) => new AppError('conflict', e.message)),
  map(ScheduleCapError, (e) => new AppError('conflict', e.message, { extra: { limit: { name: 'SCHEDULES_MAX_ACTIVE_PER_TENANT', value: e.limit } } })),
  map(
    ScheduleTooFrequentError,
    (e) =>
      new AppError('unprocessable', e.message, {
        errors: [{ path: e.path, message: e.message }],
        extra: { limit: { name: 'SCHEDULE_MIN_INTERVAL_SECONDS', value: e.minSeconds }, intervalSeconds: e.gapSeconds },
      }),
  ),
  // Deleted behind the API's back (temporal schedule delete): say so rather than fail.
  map(ScheduleNotFoundError, () => new AppError('conflict', 'its Temporal Schedule no longer exists; delete this schedule and create it again')),
  // Accounts and their mail.
  map(AccountExistsError, (e) => new AppError('conflict', 'an account with this email already exists', { extra: { accountId: e.accountId } })),
  map(ImapLinkError, (e) => new AppError(imapLinkCodes[e.failure] ?? 'unprocessable', e.message, { extra: { reason: imapLinkReason(e.failure) } })),
  map(InvalidCursorError, () => new AppError('validation', 'invalid cursor', { errors: [{ path: 'cursor', message: 'not a cursor this API issued' }] })),
  // Tenants.
  map(TenantNotFoundError, (e) => new AppError('not_found', e.message)),
  map(AdminTenantError, (e) => new AppError('conflict', e.message)),
  // Webhook endpoints.
  map(WebhookNotFoundError, (e) => new AppError('not_found', e.message)),
  map(
    WebhookEndpointInvalidError,
    (e) => new AppError('unprocessable', e.message, { errors: [{ path: e.field, message: e.message }], extra: { reason: e.reason } }),
  ),
];

/** The problem a domain error answers with, or undefined for an error that is not one (a 500). */
export function domainProblem(error: unknown): AppError | undefined {
  for (const [type, toProblem] of mappings) if (error instanceof type) return toProblem(error);
  return undefined;
}
