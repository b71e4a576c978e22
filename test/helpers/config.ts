import { inject } from 'vitest';
import { loadConfig, type Config } from '../../lib/config.js';
import { testIndexPrefix } from './index-prefix.js';

/** Fixed test-only secrets: never used outside the test suite. */
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const TEST_ENCRYPTION_KEYS = 'k2:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=,k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=';

export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const services = inject('services');
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: services.DATABASE_URL,
    TEMPORAL_ADDRESS: services.TEMPORAL_ADDRESS,
    ELASTICSEARCH_URL: services.ELASTICSEARCH_URL || undefined,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    API_PORT: '0',
    TASK_QUEUE_PREFIX: `t${services.TEST_RUN_ID}-`,
    ELASTICSEARCH_INDEX_PREFIX: testIndexPrefix(services.TEST_RUN_ID),
    WORKER_SHUTDOWN_GRACE_MS: '20000',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides));
}

/** A unique name per call, so tests sharing the server never collide (task queues, ids). */
export function unique(prefix: string): string {
  return `${prefix}-${inject('services').TEST_RUN_ID}-${Math.random().toString(36).slice(2, 10)}`;
}
