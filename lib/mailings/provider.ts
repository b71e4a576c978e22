// The mailing provider port. The seed-004 API is one adapter; another provider is another adapter.
export interface MailingMessage {
  to: string;
  subject: string;
  body: string;
}
export interface MailingSendResult {
  messageId: string;
}

/**
 * Awaited right before each request the provider counts against its rate limit: resolves when the
 * request may leave (the fleet-wide pacer's gate), rejects when the send is withdrawn meanwhile. The
 * request leaves at once, and `answered()` is called when its answer came or it failed, whatever the outcome.
 */
export type Pace = () => Promise<{ answered(): Promise<void> }>;

export interface MailingProvider {
  readonly name: string;
  send(message: MailingMessage, signal?: AbortSignal, pace?: Pace): Promise<MailingSendResult>;
}

/** The provider refused this recipient (400/422): mark it FAILED with the reason, go on with the rest. */
export class RecipientRefusedError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'RecipientRefusedError';
  }
}

/** Over the provider's limit: try again after retryAfterMs. */
export class ProviderRateLimitedError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`rate limited; retry after ${retryAfterMs} ms`);
    this.name = 'ProviderRateLimitedError';
  }
}

/** 5xx, timeouts, network: retry with backoff. `sent` is "unknown" when the request may have gone out. */
export class ProviderUnavailableError extends Error {
  constructor(
    message: string,
    readonly outcome: 'not-sent' | 'unknown',
  ) {
    super(message);
    this.name = 'ProviderUnavailableError';
  }
}
