// Domain errors as problem details, in one place: services in lib/ throw errors that say what went wrong
// in their own terms, and the app's error handler (api/app.ts) turns each into its HTTP answer here. A
// route maps an error itself only where the same error means something else on it.
import { MailingIdempotencyConflictError, MailingStartError } from '../lib/mailings/admission.js';
import { MailingFinishedError, MailingNotFoundError } from '../lib/mailings/service.js';
import { NotificationNotFoundError, NotificationNotRetryableError } from '../lib/notifications/admission.js';
import { UserNotFoundError } from '../lib/notifications/recipients.js';
import { AdminTenantError, TenantNotFoundError } from '../lib/tenants/tenants.js';
import { AppError } from './errors.js';

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;
type Mapping<E extends Error = Error> = [ErrorClass<E>, (error: E) => AppError];
const map = <E extends Error>(type: ErrorClass<E>, toProblem: (error: E) => AppError): Mapping => [type, toProblem as (error: Error) => AppError];

const mappings: Mapping[] = [
  map(MailingNotFoundError, (e) => new AppError('not_found', e.message)),
  map(MailingFinishedError, (e) => new AppError('conflict', e.message)),
  map(MailingIdempotencyConflictError, (e) => new AppError('unprocessable', `${e.message} (mailing ${e.mailingId})`, { extra: { mailingId: e.mailingId } })),
  map(MailingStartError, (e) => new AppError('unavailable', `${e.message}: retry (with the same Idempotency-Key)`)),
  map(NotificationNotFoundError, (e) => new AppError('not_found', e.message)),
  map(NotificationNotRetryableError, (e) => new AppError('conflict', e.message)),
  map(UserNotFoundError, (e) => new AppError('not_found', e.message)),
  map(TenantNotFoundError, (e) => new AppError('not_found', e.message)),
  map(AdminTenantError, (e) => new AppError('conflict', e.message)),
];

/** The problem a domain error answers with, or undefined for an error that is not one (a 500). */
export function domainProblem(error: unknown): AppError | undefined {
  for (const [type, toProblem] of mappings) if (error instanceof type) return toProblem(error);
  return undefined;
}
