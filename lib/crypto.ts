// AES-256-GCM for every secret at rest. Ciphertexts name their key id, so keys rotate by adding a new
// key in front of ENCRYPTION_KEYS and keeping the old ones until everything is re-encrypted.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

const VERSION = 'v1';

export class Encryptor {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: EncryptionKey[]) {
    if (keys.length === 0) throw new Error('at least one encryption key is required');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get activeKeyId(): string {
    return this.keys[0]!.id;
  }

  /** `aad` binds a ciphertext to its owner (e.g. a row id) so it cannot be moved to another row. */
  encrypt(plaintext: string, aad = ''): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  decrypt(sealed: string, aad = ''): string {
    const [version, id, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !id || !iv || !tag || body === undefined) throw new Error('not a sealed value');
    const key = this.byId.get(id);
    if (!key) throw new Error(`unknown encryption key id ${id}`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** True when a value was sealed with an older key and should be re-encrypted. */
  needsRotation(sealed: string): boolean {
    return sealed.split('.')[1] !== this.activeKeyId;
  }
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function generateEncryptionKey(id = 'k1'): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
