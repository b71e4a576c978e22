// Local secrets for the one-command stack, made on first start and kept under .data/ so the data
// encrypted with them stays readable across restarts. Production passes them in the environment.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateApiKey } from '../api/auth/api-keys.js';
import { generateEncryptionKey } from '../lib/crypto.js';

export interface DevSecrets {
  ADMIN_API_KEY: string;
  ENCRYPTION_KEYS: string;
  MAILGUN_WEBHOOK_SIGNING_KEY: string;
  PROVIDER_API_KEY: string;
  /** The local Outlook simulator's client secret (added to older files on load). */
  OUTLOOK_CLIENT_SECRET: string;
}

export function loadOrCreateDevSecrets(path: string): DevSecrets {
  if (existsSync(path)) {
    const existing = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevSecrets>;
    if (existing.OUTLOOK_CLIENT_SECRET) return existing as DevSecrets;
    // A file from before the Outlook simulator: keep every secret it has, add the missing one.
    const upgraded = { ...existing, OUTLOOK_CLIENT_SECRET: randomBytes(24).toString('base64url') } as DevSecrets;
    writeFileSync(path, JSON.stringify(upgraded, null, 2), { mode: 0o600 });
    return upgraded;
  }
  const secrets: DevSecrets = {
    ADMIN_API_KEY: generateApiKey(),
    ENCRYPTION_KEYS: generateEncryptionKey('k1'),
    MAILGUN_WEBHOOK_SIGNING_KEY: randomBytes(24).toString('hex'),
    PROVIDER_API_KEY: randomBytes(16).toString('hex'),
    OUTLOOK_CLIENT_SECRET: randomBytes(24).toString('base64url'),
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
