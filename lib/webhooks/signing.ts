// Standard Webhooks (https://www.standardwebhooks.com): the body is signed with each secret in force and the
// signatures go space-separated in one header, so a receiver verifies with the `standardwebhooks` library
// (or its ports) during a rotation whichever secret it holds.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new signing secret in the format the libraries take: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function signedHeaders(secrets: readonly string[], id: string, timestamp: Date, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(' '),
  };
}
