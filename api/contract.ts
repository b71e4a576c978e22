// The OpenAPI document as a contract the server keeps, generated from the route table so a new route
// cannot slip past it: every route that validates input documents its 400; a route with a required body
// refuses a request without one (415) instead of treating it as empty; a method a path does not have is
// 405 with Allow; and no string that PostgreSQL cannot store (NUL) gets past the edge.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context.js';
import { AppError, errorResponses } from './errors.js';

interface RouteDefinition {
  type: string;
  route?: {
    method: string;
    path: string;
    responses?: Record<string, { description?: string; content?: Record<string, unknown> } | undefined>;
    request?: { params?: unknown; query?: unknown; headers?: unknown; body?: { required?: boolean; content?: Record<string, unknown> } };
  };
}

/** Every route that validates a parameter, a header or a body can answer 400: say so. */
export function documentValidationResponses(registered: readonly object[]): void {
  for (const d of registered as readonly RouteDefinition[]) {
    const route = d.route;
    if (d.type !== 'route' || !route?.responses || !route.request) continue;
    const { params, query, headers, body } = route.request;
    if (params || query || headers || body) route.responses[400] ??= errorResponses[400];
    if (body?.required) route.responses[415] ??= unsupportedMediaType;
    // Node's HTTP parser refuses a request line and headers past 16 KiB before any route runs.
    if (query) route.responses[431] ??= headersTooLarge;
  }
}

const headersTooLarge = { description: 'The URL (with its query) and headers exceed 16 KiB; refused by the HTTP server, no body' };

const unsupportedMediaType = errorResponses[415];

/** `/v1/mailings/{id}/pause` → a regular expression matching its concrete paths. */
function pathPattern(path: string): RegExp {
  const escaped = path.replaceAll(/[.*+?^$()|[\]\\]/g, '\\$&').replaceAll(/\\?\{[^}]+\\?\}|\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

/** `answersHtml`: a browser's route (its 400 is a page), which validates its own query and renders the error. */
interface RouteShape {
  pattern: RegExp;
  params: number;
  method: string;
  requiredBody: string[] | null;
  answersHtml: boolean;
}

function routeShapes(registered: readonly object[]): RouteShape[] {
  return (registered as readonly RouteDefinition[])
    .flatMap((d) =>
      d.type === 'route' && d.route
        ? [
            {
              pattern: pathPattern(d.route.path),
              params: d.route.path.split('{').length - 1,
              method: d.route.method.toUpperCase(),
              requiredBody: d.route.request?.body?.required ? Object.keys(d.route.request.body.content ?? {}) : null,
              answersHtml: Boolean(d.route.responses?.[400]?.content?.['text/html']),
            },
          ]
        : [],
    )
    .sort((a, b) => a.params - b.params); // the most specific first, as routing prefers
}

/** The methods the document declares for this path (HEAD with GET), or none if the path is unknown. */
export function allowedMethods(definitions: () => readonly object[]): (path: string) => string[] {
  let shapes: RouteShape[] | undefined;
  return (path) => {
    shapes ??= routeShapes(definitions());
    // The most specific paths win, as in routing: /v1/schedules/preview is not /v1/schedules/{id}.
    const matching = shapes.filter((s) => s.pattern.test(path));
    const fewest = Math.min(...matching.map((s) => s.params));
    const methods = new Set(matching.filter((s) => s.params === fewest).map((s) => s.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

const hasNul = (value: unknown): boolean => {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v));
  return false;
};

const isJson = (contentType: string) => /^application\/([\w.+-]+\+)?json\b/i.test(contentType.trim());

/**
 * Refuses what the routes' schemas cannot: a missing body where one is required (415, naming the media
 * types), and a NUL character in the query or a JSON body (400: PostgreSQL text cannot hold one).
 */
export function enforceContract(definitions: () => readonly object[]) {
  let shapes: RouteShape[] | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    shapes ??= routeShapes(definitions());
    const shape = shapes.find((s) => s.method === c.req.method && s.pattern.test(c.req.path));
    if (!shape?.answersHtml && c.req.url.includes('%00') && hasNul(c.req.queries())) throw nulError('query');
    const contentType = c.req.header('content-type') ?? '';
    if (/^multipart\//i.test(contentType.trim()) && !/;\s*boundary=/i.test(contentType)) {
      throw new AppError('validation', 'a multipart body needs its boundary in Content-Type (multipart/form-data; boundary=…)', {
        errors: [{ path: 'content-type', message: 'no boundary' }],
      });
    }
    if (shape?.requiredBody && !shape.requiredBody.some((type) => mediaTypeMatches(contentType, type))) {
      throw new AppError('unsupported_media_type', `send a body of type ${shape.requiredBody.join(' or ')}`);
    }
    if (isJson(contentType) && (await jsonHasNul(c))) throw nulError('body');
    return next();
  });
}

function mediaTypeMatches(contentType: string, declared: string): boolean {
  const actual = contentType.split(';')[0]!.trim().toLowerCase();
  if (!actual) return false;
  return declared === '*/*' || actual === declared.toLowerCase() || (declared === 'application/json' && isJson(actual));
}

/** Reads the JSON body once (hono caches it for the route's own validator); malformed JSON is the validator's to report. */
async function jsonHasNul(c: Context<AppEnv>): Promise<boolean> {
  const text = await c.req.text();
  if (!text.includes('\\u0000') && !text.includes('\u0000')) return false;
  try {
    return hasNul(JSON.parse(text));
  } catch {
    return false;
  }
}

const nulError = (where: string) =>
  new AppError('validation', `invalid ${where}: text may not contain the NUL character (\\u0000)`, {
    errors: [{ path: '(root)', message: 'contains \\u0000' }],
  });
