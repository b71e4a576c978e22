// One webhook request to a URL a tenant gave: the address is checked when the connection is made (after DNS,
// so a name that resolves to a private address a second later is still refused), no redirect is followed,
// the answer is read only up to a bound, and the whole exchange has a deadline.
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
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

// Keep-alive pools shared by every endpoint: a busy endpoint reuses its connections.
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }) };

export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; allowHosts: readonly string[]; signal?: AbortSignal | undefined },
): Promise<PostAnswer> {
  const target = new URL(url);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An address written in the URL is never looked up: check it here.
  if (isIP(host))
    await resolveAllowedAddress(host, options.allowHosts).catch((error: Error) => Promise.reject(new WebhookRequestError(error.message, 'refused', elapsed())));
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<PostAnswer>((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Mailflow-Webhooks/1' },
        agent: agents[target.protocol as 'http:' | 'https:'],
        lookup: guardedLookup(options.allowHosts),
        signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]) : AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let read = 0;
        const finish = () =>
          resolve({
            status: response.statusCode ?? 0,
            durationMs: elapsed(),
            retryAfterMs: retryAfterMs(response.headers['retry-after']),
            body: Buffer.concat(chunks).toString('utf8').slice(0, KEPT_BODY_BYTES),
          });
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read <= MAX_READ_BYTES) chunks.push(chunk);
          else {
            response.destroy();
            finish();
          }
        });
        response.on('end', finish);
        response.on('error', () => finish());
      },
    );
    request.on('error', (error: Error & { code?: string }) => {
      // Called off (the worker is stopping): not an attempt that failed, so nothing is recorded for it.
      if (options.signal?.aborted) reject(options.signal.reason instanceof Error ? options.signal.reason : new Error('the request was called off'));
      else if (error.name === 'AddressRefusedError') reject(new WebhookRequestError(error.message, 'refused', elapsed()));
      else if (error.name === 'AbortError' || error.name === 'TimeoutError')
        reject(new WebhookRequestError(`no answer within ${options.timeoutMs} ms`, 'timeout', elapsed()));
      else reject(new WebhookRequestError(error.code ? `${error.code}: ${error.message}` : error.message, 'network', elapsed()));
    });
    request.end(body);
  });
}
