// Mailgun-format delivery events, signed as Mailgun signs them: HMAC-SHA256(signingKey, timestamp + token).
import { createHmac, randomBytes } from 'node:crypto';

export type MailgunEvent = 'delivered' | 'opened' | 'failed' | 'complained';

export interface EventTarget {
  messageId: string;
  recipient: string;
  userVariables: Record<string, string>;
}

export function signedEvent(signingKey: string, target: EventTarget, event: MailgunEvent, extra: Record<string, unknown> = {}) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  return {
    signature: {
      timestamp,
      token,
      signature: createHmac('sha256', signingKey)
        .update(timestamp + token)
        .digest('hex'),
    },
    'event-data': {
      id: randomBytes(16).toString('base64url'),
      event,
      timestamp: Date.now() / 1000,
      recipient: target.recipient,
      message: { headers: { 'message-id': target.messageId.replace(/^<|>$/g, '') } },
      'user-variables': target.userVariables,
      ...(event === 'failed'
        ? {
            severity: 'permanent',
            reason: 'bounce',
            'delivery-status': { code: 550, message: 'mailbox does not exist', description: '550 5.1.1 mailbox does not exist' },
          }
        : {}),
      ...extra,
    },
  };
}
