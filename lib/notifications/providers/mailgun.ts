// Email over a Mailgun-style HTTP API (POST /v3/{domain}/messages, HTTP Basic api:<key>).
import { providerFetch } from './http.js';
import type { EmailProviderOptions, NotificationProvider, OutboundMessage, SendResult } from './types.js';

export interface MailgunOptions extends EmailProviderOptions {
  apiUrl: string;
  apiKey: string;
  domain: string;
}

export class MailgunProvider implements NotificationProvider {
  readonly name = 'mailgun';
  readonly channel = 'EMAIL' as const;
  constructor(private readonly options: MailgunOptions) {}

  async send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    const form = new FormData();
    form.set('from', m.from ?? this.options.defaultFrom);
    for (const to of m.to) form.append('to', to);
    form.set('subject', m.subject ?? '');
    form.set('text', m.text);
    if (m.html) form.set('html', m.html);
    form.set('v:notification-id', m.notificationId);
    for (const a of m.attachments ?? []) form.append('attachment', new Blob([new Uint8Array(a.content)], { type: a.contentType }), a.filename);
    const response = await providerFetch(
      this.name,
      `${this.options.apiUrl.replace(/\/$/, '')}/v3/${encodeURIComponent(this.options.domain)}/messages`,
      {
        method: 'POST',
        body: form,
        headers: { authorization: `Basic ${Buffer.from(`api:${this.options.apiKey}`).toString('base64')}`, 'idempotency-key': m.idempotencyKey },
      },
      this.options.timeoutMs,
      signal,
    );
    const body = (await response.json()) as { id?: string };
    // Webhooks carry the id without angle brackets: store it that way so they find the notification.
    return { provider: this.name, providerMessageId: (body.id ?? '').replace(/^<|>$/g, '') };
  }
}
