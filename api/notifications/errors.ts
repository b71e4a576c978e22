// Domain errors of admission, as problem details.
import { IdempotencyConflictError } from '../../lib/notifications/admission.js';
import { RateLimitExceededError } from '../../lib/notifications/rate-limit.js';
import { notificationMetrics } from '../../lib/notifications/metrics.js';
import { ContactMissingError } from '../../lib/notifications/recipients.js';
import { TemplateNotFoundError, TemplateParamsError } from '../../lib/notifications/templates.js';
import { AppError } from '../errors.js';

export function admissionProblem(error: unknown): unknown {
  if (error instanceof RateLimitExceededError) {
    notificationMetrics.rateLimited.inc({ limit: error.limit.key.split(':')[0] });
    return new AppError('rate_limited', `rate limit exceeded: ${error.limit.description}; retry after ${error.retryAfterSeconds} s`, {
      headers: { 'Retry-After': String(error.retryAfterSeconds) },
      extra: { limit: { description: error.limit.description, limit: error.limit.limit, windowSeconds: error.limit.windowSeconds }, retryAfterSeconds: error.retryAfterSeconds },
    });
  }
  if (error instanceof IdempotencyConflictError) {
    return new AppError('unprocessable', `${error.message} (notification ${error.notificationId})`, { extra: { notificationId: error.notificationId } });
  }
  if (error instanceof TemplateParamsError) {
    const errors = [
      ...error.missing.map((name) => ({ path: `templateParams.${name}`, message: 'missing: the template uses this parameter' })),
      ...error.unknown.map((name) => ({ path: `templateParams.${name}`, message: 'unknown: the template does not declare this parameter' })),
    ];
    const parts = [error.missing.length ? `missing ${error.missing.join(', ')}` : '', error.unknown.length ? `unknown ${error.unknown.join(', ')}` : ''].filter(Boolean);
    return new AppError('validation', `invalid templateParams: ${parts.join('; ')}`, { errors });
  }
  if (error instanceof TemplateNotFoundError) return new AppError('unprocessable', `no template ${error.templateId}`);
  if (error instanceof ContactMissingError) {
    return new AppError('unprocessable', `user ${error.userId} has no ${error.channel === 'EMAIL' ? 'email address' : error.channel === 'SMS' ? 'phone number' : 'push token'} (set it with PUT /v1/users/${error.userId}, or give "to")`);
  }
  return error;
}
