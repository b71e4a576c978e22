// One webhook request to a URL a tenant gave: the address is checked when the connection is made (after DNS,
// so a name that resolves to a private address a second later is still refused), no redirect is followed,
// the answer is read only up to a bound, and the whole exchange has a deadline.
import { isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import { resolveAllowedAddress } from '../net/address-guard.js';

/** The part of an answer kept: enough to show the tenant why it failed. */
const KEPT_BODY_BYTES = 1_024;
/** Read no further than this; the connection is dropped past it. */
const MAX_READ_BYTES = 64 * 1_024;

export interface PostAnswer {
  status: number;
  durationMs: number;
  /** From Retry-After (seconds or a date), when the answer had one. */
  retryAfterMs: number | undefined;
  /** The start of the answer's body, for the delivery's record. */
  body: string;
}

/** The request never got an answer: refused address, timeout, connection or TLS trouble. */
export class WebhookRequestError extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'timeout' | 'network',
    readonly durationMs: number,
  ) {
    super(message);
    this.name = 'WebhookRequestError';
  }
}

function guardedLookup(allowHosts: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    resolveAllowedAddress(hostname, allowHosts).then(
      (address) => {
        const family = isIP(address);
        if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

// One keep-alive pool per allow-list (one per process in practice), shared by every endpoint: a busy
// endpoint reuses its connections. undici rather than node:http: half the CPU per request, and a request
// is what a webhooks worker spends its time on. Its connector passes `lookup` on to net/tls.connect, so
// every address a connection is made to is the one checked.
const agents = new Map<string, Agent>();
function agentFor(allowHosts: readonly string[]): Agent {
  const key = allowHosts.join(',');
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connections: 64, connect: { lookup: guardedLookup(allowHosts) } });
    agents.set(key, agent);
  }
  return agent;
}

export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Posts `body` to `url` (parsed once by the caller, which sends many to it). */
export async function postWebhook(
  target: URL,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; allowHosts: readonly string[]; signal?: AbortSignal | undefined },
): Promise<PostAnswer> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An address written in the URL is never looked up: check it here.
  if (isIP(host))
    await resolveAllowedAddress(host, options.allowHosts).catch((error: Error) => Promise.reject(new WebhookRequestError(error.message, 'refused', elapsed())));
  const calledOff = (signal: AbortSignal) => (signal.reason instanceof Error ? signal.reason : new Error('the request was called off'));
  if (options.signal?.aborted) throw calledOff(options.signal);
  // The deadline covers the whole exchange, the body read included: one timer aborting one controller.
  const deadline = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort();
  }, options.timeoutMs);
  const callOff = () => deadline.abort();
  options.signal?.addEventListener('abort', callOff, { once: true });
  try {
    // No redirect is followed: undici's request follows none unless told to.
    const response = await agentFor(options.allowHosts).request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: 'POST',
      headers: { ...headers, 'user-agent': 'Mailflow-Webhooks/1' },
      body,
      signal: deadline.signal,
    });
    const retryAfter = response.headers['retry-after'];
    const answer = { status: response.statusCode, retryAfterMs: retryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) };
    // A success's body is not kept: read it (to reuse the connection) no further than the bound.
    if (answer.status >= 200 && answer.status < 300) {
      await response.body.dump({ limit: MAX_READ_BYTES });
      return { ...answer, durationMs: elapsed(), body: '' };
    }
    const chunks: Buffer[] = [];
    let read = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > MAX_READ_BYTES) {
        response.body.destroy();
        break;
      }
      chunks.push(chunk);
    }
    return {
      ...answer,
      durationMs: elapsed(),
      body: Buffer.concat(chunks).toString('utf8').slice(0, KEPT_BODY_BYTES),
    };
  } catch (caught) {
    const error = caught as Error & { code?: string; cause?: Error };
    // Called off (the worker is stopping): not an attempt that failed, so nothing is recorded for it.
    if (options.signal?.aborted) throw calledOff(options.signal);
    if (timedOut) throw new WebhookRequestError(`no answer within ${options.timeoutMs} ms`, 'timeout', elapsed());
    const refusal = [error, error.cause].find((e) => e?.name === 'AddressRefusedError');
    if (refusal) throw new WebhookRequestError(refusal.message, 'refused', elapsed());
    throw new WebhookRequestError(error.code ? `${error.code}: ${error.message}` : error.message, 'network', elapsed());
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', callOff);
  }
}
