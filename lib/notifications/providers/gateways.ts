// SMS and push over HTTP gateways: JSON, Bearer key, Idempotency-Key, 202 {id}.
import { providerFetch } from './http.js';
import type { NotificationProvider, OutboundMessage, SendResult } from './types.js';

export interface GatewayOptions {
  apiUrl: string;
  apiKey: string;
  timeoutMs: number;
}

async function post(provider: string, options: GatewayOptions, path: string, m: OutboundMessage, body: unknown, signal?: AbortSignal): Promise<SendResult> {
  const response = await providerFetch(
    provider,
    `${options.apiUrl.replace(/\/$/, '')}${path}`,
    {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', 'idempotency-key': m.idempotencyKey },
    },
    options.timeoutMs,
    signal,
  );
  const answer = (await response.json()) as { id?: string };
  return { provider, providerMessageId: answer.id ?? '' };
}

export class SmsGatewayProvider implements NotificationProvider {
  readonly name = 'sms-gateway';
  readonly channel = 'SMS' as const;
  constructor(private readonly options: GatewayOptions) {}
  send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    return post(this.name, this.options, '/v1/messages', m, { to: m.to[0], body: m.text, ...(m.from ? { from: m.from } : {}) }, signal);
  }
}

export class PushGatewayProvider implements NotificationProvider {
  readonly name = 'push-gateway';
  readonly channel = 'PUSH' as const;
  constructor(private readonly options: GatewayOptions) {}
  send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    return post(
      this.name,
      this.options,
      '/v1/push',
      m,
      { tokens: m.to, title: m.subject ?? 'Notification', body: m.text, data: { notificationId: m.notificationId } },
      signal,
    );
  }
}
