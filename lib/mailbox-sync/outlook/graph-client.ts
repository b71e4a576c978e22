// The Microsoft Graph client with a middleware chain of our choosing: authentication, then a retry
// handler that never retries (Temporal owns retries, so a 429 becomes the activity's next retry delay
// and the worker slot is not held while waiting), redirects, telemetry, and a fetch transport with a
// timeout. URLs stay canonical (https://graph.microsoft.com, as delta links are); a different
// OUTLOOK_GRAPH_URL (a local simulator) is reached by rewriting the origin in the transport only.
import {
  AuthenticationHandler,
  AuthenticationHandlerOptions,
  Client,
  RedirectHandler,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
  type Context,
  type GraphRequest,
  type Middleware,
} from '@microsoft/microsoft-graph-client';

export const GRAPH_ORIGIN = 'https://graph.microsoft.com';

class FetchTransport implements Middleware {
  constructor(
    private readonly target: string,
    private readonly timeoutMs: number,
  ) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const rewritten = this.target === GRAPH_ORIGIN || !url.startsWith(GRAPH_ORIGIN) ? url : this.target + url.slice(GRAPH_ORIGIN.length);
    const options = (context.options ?? {}) as RequestInit;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    context.response = await fetch(rewritten, { ...options, signal });
  }
}

/**
 * Tokens are fetched by the caller and attached per request (withToken): a token failure (a revoked
 * grant) then reaches the caller as itself, not wrapped in a GraphError by the client.
 */
const noDefaultToken = { getAccessToken: () => Promise.reject(new Error('a Graph request was sent without a token')) };

export function withToken(request: GraphRequest, accessToken: string): GraphRequest {
  return request.middlewareOptions([new AuthenticationHandlerOptions({ getAccessToken: () => Promise.resolve(accessToken) })]);
}

export function createGraphClient(options: { graphUrl: string; timeoutMs: number }): Client {
  const chain: Middleware[] = [
    new AuthenticationHandler(noDefaultToken),
    new RetryHandler(new RetryHandlerOptions(0, 0)),
    new RedirectHandler(),
    new TelemetryHandler(),
    new FetchTransport(options.graphUrl.replace(/\/$/, ''), options.timeoutMs),
  ];
  for (let i = 0; i < chain.length - 1; i++) chain[i]!.setNext?.(chain[i + 1]!);
  return Client.initWithMiddleware({ middleware: chain[0], defaultVersion: 'v1.0', baseUrl: `${GRAPH_ORIGIN}/` });
}
