// Standard Webhooks (https://www.standardwebhooks.com): the body is signed with each secret in force and the
// signatures go space-separated in one header, so a receiver verifies with the `standardwebhooks` library
// (or its ports) during a rotation whichever secret it holds.
import { createHmac, randomBytes } from 'node:crypto';

/** A new signing secret in the format the libraries take: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The key a secret stands for, as the libraries read it: the base64 after `whsec_`. */
const keyOf = (secret: string) => Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');

export type Signer = (id: string, timestamp: Date, body: string) => Record<string, string>;

/**
 * Signs with the secrets in force: the scheme's `v1` signature, HMAC-SHA256 over `id.timestamp.body`, made
 * with node:crypto: the library's own `sign` hashes in JavaScript, which took a tenth of each delivery's CPU
 * (the tests verify with it). The keys are decoded once, for every delivery a round signs.
 */
export function signerFor(secrets: readonly string[]): Signer {
  const keys = secrets.map(keyOf);
  return (id, timestamp, body) => {
    const seconds = Math.floor(timestamp.getTime() / 1000);
    const content = `${id}.${seconds}.${body}`;
    return {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(seconds),
      'webhook-signature': keys.map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`).join(' '),
    };
  };
}
