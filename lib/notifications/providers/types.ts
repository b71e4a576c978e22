// The provider port: every channel's provider sends one message and says how a failure should be treated.
export type ProviderChannel = 'EMAIL' | 'SMS' | 'PUSH';

export interface OutboundMessage {
  notificationId: string;
  channel: ProviderChannel;
  /** Email address(es), one E.164 number, or push device tokens. */
  to: string[];
  from?: string;
  subject?: string;
  text: string;
  html?: string;
  attachments?: { filename: string; contentType: string; content: Buffer }[];
  /** Stable across retries of the same notification: the provider dedupes on it. */
  idempotencyKey: string;
}

export interface SendResult {
  provider: string;
  providerMessageId: string;
}

export interface NotificationProvider {
  readonly name: string;
  readonly channel: ProviderChannel;
  send(message: OutboundMessage, signal?: AbortSignal): Promise<SendResult>;
}

/** What every email provider is given: the From of a message that names none, and how long one send may take. */
export interface EmailProviderOptions {
  defaultFrom: string;
  timeoutMs: number;
}

/** The provider refused this message (invalid address, a 4xx): retrying cannot help. */
export class PermanentSendError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PermanentSendError';
  }
}

/** Worth retrying (5xx, 408, 429, network, timeout); retryAfterMs when the provider said when. */
export class TransientSendError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TransientSendError';
  }
}

export class ProviderNotConfiguredError extends TransientSendError {
  constructor(channel: ProviderChannel, variables: string) {
    super(`no ${channel} provider is configured (set ${variables})`);
    this.name = 'ProviderNotConfiguredError';
  }
}
