// HTTP plumbing shared by the HTTP providers: a timeout on every request, and one mapping from an
// answer to success, a transient failure (with Retry-After) or a permanent refusal.
import { PermanentSendError, TransientSendError } from './types.js';

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export async function providerFetch(provider: string, url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.any(signals) });
  } catch (error) {
    const reason = error instanceof Error ? (error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : error.message) : String(error);
    throw new TransientSendError(`${provider}: ${reason}`);
  }
  if (response.ok) return response;
  const text = (await response.text().catch(() => '')).slice(0, 500);
  const detail = `${provider} answered ${response.status}${text ? `: ${text}` : ''}`;
  // Credentials and throttling are not the message's fault: retry (and dead-letter if it never recovers).
  if (response.status >= 500 || [401, 403, 408, 409, 425, 429].includes(response.status)) {
    throw new TransientSendError(detail, parseRetryAfter(response.headers.get('retry-after')), response.status);
  }
  throw new PermanentSendError(detail, response.status);
}
