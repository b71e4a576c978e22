import { describe, expect, it } from 'vitest';
import { ConfigError, indexBackend, loadConfig } from '../../lib/config.js';
import { generateEncryptionKey } from '../../lib/crypto.js';

const base = { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', ENCRYPTION_KEYS: generateEncryptionKey() };

function problemsOf(env: Record<string, string>): { name: string; problem: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).variables;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies defaults to a minimal environment', () => {
    const config = loadConfig(base);
    expect(config.API_PORT).toBe(3000);
    expect(config.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.ENCRYPTION_KEYS[0]!.key).toHaveLength(32);
    expect(indexBackend(config)).toBe('postgres');
    expect(indexBackend(loadConfig({ ...base, ELASTICSEARCH_URL: 'http://127.0.0.1:9200' }))).toBe('elasticsearch');
  });

  it('names a missing variable', () => {
    expect(problemsOf({ ENCRYPTION_KEYS: base.ENCRYPTION_KEYS }).map((p) => p.name)).toEqual(['DATABASE_URL']);
  });

  it('names every malformed variable with the reason', () => {
    const problems = problemsOf({ ...base, API_PORT: 'eighty', ENCRYPTION_KEYS: 'k1:short', ADMIN_API_KEY: 'tiny', DATABASE_URL: 'mysql://x' });
    expect(problems.map((p) => p.name).sort()).toEqual(['ADMIN_API_KEY', 'API_PORT', 'DATABASE_URL', 'ENCRYPTION_KEYS']);
    expect(problems.find((p) => p.name === 'ENCRYPTION_KEYS')!.problem).toMatch(/32 bytes/);
    expect(problems.find((p) => p.name === 'ADMIN_API_KEY')!.problem).toMatch(/24 characters/);
  });

  it("refuses a mailbox request budget that could exceed Outlook's 10,000 requests in 10 minutes", () => {
    expect(loadConfig(base).SYNC_REQUEST_BURST + loadConfig(base).SYNC_REQUESTS_PER_10_MINUTES).toBeLessThanOrEqual(10_000);
    const [problem] = problemsOf({ ...base, SYNC_REQUESTS_PER_10_MINUTES: '9500', SYNC_REQUEST_BURST: '600' });
    expect(problem).toMatchObject({ name: 'SYNC_REQUEST_BURST' });
    expect(problem!.problem).toMatch(/10,?100 requests in 10 minutes; Outlook allows 10,?000/);
    expect(loadConfig({ ...base, SYNC_REQUESTS_PER_10_MINUTES: '9500', SYNC_REQUEST_BURST: '500' }).SYNC_REQUEST_BURST).toBe(500);
  });

  it('keeps every rotation key, the first one active', () => {
    const config = loadConfig({ ...base, ENCRYPTION_KEYS: `${generateEncryptionKey('new')},${generateEncryptionKey('old')}` });
    expect(config.ENCRYPTION_KEYS.map((k) => k.id)).toEqual(['new', 'old']);
  });
});
