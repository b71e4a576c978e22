// Builds each channel's provider from config. Email: the primary behind a circuit breaker, failing over
// to the secondary; a channel with nothing configured fails its sends with ProviderNotConfiguredError
// (transient: configure it and the retries go through, or they end in the dead-letter state).
import { createHmac } from 'node:crypto';
import type { Config } from '../../config.js';
import { constantTimeEqual } from '../../crypto.js';
import { FailoverProvider } from './failover.js';
import { PushGatewayProvider, SmsGatewayProvider } from './gateways.js';
import { MailgunProvider } from './mailgun.js';
import { SmtpProvider } from './smtp.js';
import { ProviderNotConfiguredError, type NotificationProvider, type ProviderChannel } from './types.js';

export * from './types.js';
export { CircuitState, FailoverProvider } from './failover.js';
export { parseRetryAfter } from './http.js';

class Unconfigured implements NotificationProvider {
  readonly name = 'none';
  constructor(
    readonly channel: ProviderChannel,
    private readonly variables: string,
  ) {}
  send(): Promise<never> {
    return Promise.reject(new ProviderNotConfiguredError(this.channel, this.variables));
  }
}

export function createProviders(config: Config): { email: NotificationProvider; sms: NotificationProvider; push: NotificationProvider } {
  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  const emailProviders: Record<'mailgun' | 'smtp', NotificationProvider | undefined> = {
    mailgun:
      config.MAILGUN_API_URL && config.MAILGUN_API_KEY && config.MAILGUN_DOMAIN
        ? new MailgunProvider({
            apiUrl: config.MAILGUN_API_URL,
            apiKey: config.MAILGUN_API_KEY,
            domain: config.MAILGUN_DOMAIN,
            defaultFrom: config.EMAIL_FROM,
            timeoutMs,
          })
        : undefined,
    smtp: config.SMTP_URL ? new SmtpProvider({ url: config.SMTP_URL, defaultFrom: config.EMAIL_FROM, timeoutMs }) : undefined,
  };
  const primary = emailProviders[config.EMAIL_PROVIDER_PRIMARY];
  const secondary =
    config.EMAIL_PROVIDER_SECONDARY === 'none' || config.EMAIL_PROVIDER_SECONDARY === config.EMAIL_PROVIDER_PRIMARY
      ? undefined
      : emailProviders[config.EMAIL_PROVIDER_SECONDARY];
  const email =
    primary && secondary
      ? new FailoverProvider(primary, secondary, { failureThreshold: config.EMAIL_CIRCUIT_FAILURES, cooldownMs: config.EMAIL_CIRCUIT_COOLDOWN_MS })
      : (primary ?? secondary ?? new Unconfigured('EMAIL', 'MAILGUN_API_URL, MAILGUN_API_KEY and MAILGUN_DOMAIN, or SMTP_URL'));
  return {
    email,
    sms:
      config.SMS_API_URL && config.SMS_API_KEY
        ? new SmsGatewayProvider({ apiUrl: config.SMS_API_URL, apiKey: config.SMS_API_KEY, timeoutMs })
        : new Unconfigured('SMS', 'SMS_API_URL and SMS_API_KEY'),
    push:
      config.PUSH_API_URL && config.PUSH_API_KEY
        ? new PushGatewayProvider({ apiUrl: config.PUSH_API_URL, apiKey: config.PUSH_API_KEY, timeoutMs })
        : new Unconfigured('PUSH', 'PUSH_API_URL and PUSH_API_KEY'),
  };
}

/** Mailgun's webhook signature: hex HMAC-SHA256 of timestamp + token with the webhook signing key. */
export function verifyMailgunSignature(s: { timestamp: string; token: string; signature: string }, signingKey: string): boolean {
  const expected = createHmac('sha256', signingKey)
    .update(s.timestamp + s.token)
    .digest('hex');
  return constantTimeEqual(expected, s.signature.toLowerCase());
}
