// Email over SMTP (nodemailer). The Message-ID is derived from the idempotency key, so a resend after a
// crash carries the same id and the receiving side can drop the duplicate.
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import {
  PermanentSendError,
  TransientSendError,
  type EmailProviderOptions,
  type NotificationProvider,
  type OutboundMessage,
  type SendResult,
} from './types.js';

export interface SmtpOptions extends EmailProviderOptions {
  url: string;
}

export class SmtpProvider implements NotificationProvider {
  readonly name = 'smtp';
  readonly channel = 'EMAIL' as const;
  private readonly transport: nodemailer.Transporter<SMTPTransport.SentMessageInfo>;

  constructor(private readonly options: SmtpOptions) {
    this.transport = nodemailer.createTransport({
      url: options.url,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    } as SMTPTransport.Options);
  }

  async send(m: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    const messageId = `<${m.idempotencyKey}@mailflow>`;
    try {
      signal?.throwIfAborted();
      // nodemailer cannot abort a send: the attempt stops waiting for it (its outcome is then unknown, as a
      // timeout's is, and the retry carries the same Message-ID).
      await abortable(
        this.transport.sendMail({
          messageId,
          from: m.from ?? this.options.defaultFrom,
          to: m.to,
          subject: m.subject ?? '',
          text: m.text,
          ...(m.html ? { html: m.html } : {}),
          attachments: (m.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
          headers: { 'X-Mailflow-Notification-Id': m.notificationId },
        }),
        signal,
      );
    } catch (error) {
      const code = (error as { responseCode?: number }).responseCode;
      const reason = `smtp: ${error instanceof Error ? error.message : String(error)}`;
      if (code !== undefined && code >= 500) throw new PermanentSendError(reason, code);
      throw new TransientSendError(reason, undefined, code);
    }
    return { provider: this.name, providerMessageId: messageId.replace(/^<|>$/g, '') };
  }
}

function abortable<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(`abandoned: ${signal.reason instanceof Error ? signal.reason.message : 'aborted'}`));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
