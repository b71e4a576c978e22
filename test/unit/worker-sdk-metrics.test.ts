// Where a worker serves Temporal's SDK metrics: its own port beside Mailflow's, on the same interface.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { sdkMetricsBindAddress } from '../../workers/metrics-server.js';

const env = { DATABASE_URL: 'postgres://x@localhost/x', ENCRYPTION_KEYS: 'k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=' };

describe('worker SDK metrics address', () => {
  it('defaults to the worker metrics port + 100 on WORKER_METRICS_HOST, and is off when worker metrics are', () => {
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464' }))).toBe('127.0.0.1:9564');
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '0.0.0.0' }))).toBe('0.0.0.0:9564');
    expect(sdkMetricsBindAddress(loadConfig(env))).toBeUndefined();
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_SDK_METRICS_PORT: '' }))).toBeUndefined();
  });

  it('takes its own port, or 0 for off', () => {
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_SDK_METRICS_PORT: '9000' }))).toBe('127.0.0.1:9000');
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_SDK_METRICS_PORT: '9000' }))).toBe('127.0.0.1:9000');
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_METRICS_PORT: '9464', WORKER_SDK_METRICS_PORT: '0' }))).toBeUndefined();
    expect(sdkMetricsBindAddress(loadConfig({ ...env, WORKER_METRICS_HOST: '::1', WORKER_SDK_METRICS_PORT: '9000' }))).toBe('[::1]:9000');
  });
});
