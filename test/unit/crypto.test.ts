import { describe, expect, it } from 'vitest';
import { Encryptor, generateEncryptionKey } from '../../lib/crypto.js';
import { loadConfig } from '../../lib/config.js';

const keys = (raw: string) => loadConfig({ DATABASE_URL: 'postgres://x/y', ENCRYPTION_KEYS: raw }).ENCRYPTION_KEYS;

describe('Encryptor (AES-256-GCM)', () => {
  const oldKey = generateEncryptionKey('old');
  const newKey = generateEncryptionKey('new');

  it('round-trips and never shows the plaintext', () => {
    const encryptor = new Encryptor(keys(oldKey));
    const sealed = encryptor.encrypt('refresh-token-value', 'row-1');
    expect(sealed).not.toContain('refresh-token-value');
    expect(sealed.startsWith('v1.old.')).toBe(true);
    expect(encryptor.decrypt(sealed, 'row-1')).toBe('refresh-token-value');
  });

  it('uses a fresh IV every time', () => {
    const encryptor = new Encryptor(keys(oldKey));
    expect(encryptor.encrypt('same')).not.toBe(encryptor.encrypt('same'));
  });

  it('refuses a tampered ciphertext or one moved to another owner', () => {
    const encryptor = new Encryptor(keys(oldKey));
    const sealed = encryptor.encrypt('secret', 'row-1');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('x' + Buffer.from(parts[4]!, 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url');
    expect(() => encryptor.decrypt(parts.join('.'), 'row-1')).toThrow();
    expect(() => encryptor.decrypt(sealed, 'row-2')).toThrow();
  });

  it('decrypts with an older key after rotation and flags the value for re-encryption', () => {
    const sealedWithOld = new Encryptor(keys(oldKey)).encrypt('secret');
    const rotated = new Encryptor(keys(`${newKey},${oldKey}`));
    expect(rotated.decrypt(sealedWithOld)).toBe('secret');
    expect(rotated.needsRotation(sealedWithOld)).toBe(true);
    expect(rotated.needsRotation(rotated.encrypt('secret'))).toBe(false);
    expect(() => new Encryptor(keys(newKey)).decrypt(sealedWithOld)).toThrow(/unknown encryption key id old/);
  });
});
