// One application error type, rendered as RFC 7807 problem details by the global handler.
import { z } from '@hono/zod-openapi';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorCode =
  | 'bad_request'
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'rate_limited'
  | 'internal'
  | 'unavailable'
  | 'gateway_timeout';

export function statusOf(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'bad_request':
      return 400;
    case 'validation':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'unprocessable':
      return 422;
    case 'rate_limited':
      return 429;
    case 'internal':
      return 500;
    case 'unavailable':
      return 503;
    case 'gateway_timeout':
      return 504;
  }
}

const titles: Record<ErrorCode, string> = {
  bad_request: 'Bad request',
  validation: 'Invalid request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unprocessable: 'Unprocessable request',
  rate_limited: 'Too many requests',
  internal: 'Internal server error',
  unavailable: 'Service unavailable',
  gateway_timeout: 'Gateway timeout',
};

export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

export function validationError(issues: readonly { path: readonly PropertyKey[]; message: string }[], where = 'request'): AppError {
  const errors = issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', message: issue.message }));
  const first = errors[0];
  return new AppError('validation', first ? `invalid ${where}: ${first.path}: ${first.message}` : `invalid ${where}`, { errors });
}

export const problemSchema = z
  .object({
    type: z.string().openapi({ example: 'urn:mailflow:problem:validation' }),
    title: z.string().openapi({ example: 'Invalid request' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: 'invalid body: priority: Invalid option' }),
    requestId: z.string().openapi({ example: 'req_01jd9z…' }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .passthrough()
  .openapi('Problem');

export type Problem = z.infer<typeof problemSchema>;

export function problemBody(error: AppError, requestId: string): Problem {
  return {
    type: `urn:mailflow:problem:${error.code}`,
    title: titles[error.code],
    status: statusOf(error.code),
    detail: error.detail,
    requestId,
    ...(error.options.errors ? { errors: error.options.errors } : {}),
    ...error.options.extra,
  };
}

const problemContent = { 'application/problem+json': { schema: problemSchema } };

/** The error responses every route shares, for the OpenAPI document. */
export const errorResponses = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'Missing or invalid API key', content: problemContent },
  403: { description: 'The API key may not do this', content: problemContent },
  404: { description: 'Not found', content: problemContent },
  409: { description: 'Conflicts with the resource as it is', content: problemContent },
  413: { description: 'The request body is too large', content: problemContent },
  415: { description: 'The body is missing or not of a declared media type', content: problemContent },
  422: { description: 'Unprocessable', content: problemContent },
  429: { description: 'Rate limited', content: problemContent },
  500: { description: 'Internal server error', content: problemContent },
  503: { description: 'A service it depends on is unavailable; retry', content: problemContent },
  504: { description: 'A server it had to reach did not answer in time', content: problemContent },
} as const;

/** A shared error response with the route's own description of when it happens. */
export const errorResponse = (status: keyof typeof errorResponses, description: string) => ({ description, content: errorResponses[status].content });
