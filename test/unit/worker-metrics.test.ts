// The worker metrics endpoint has no authentication, so it must not be reachable from outside the pod:
// loopback by default, in the process and in docker-compose.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { serveWorkerMetrics } from '../../workers/metrics-server.js';

const env = { DATABASE_URL: 'postgres://x@localhost/x', ENCRYPTION_KEYS: 'k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=' };

describe('worker metrics', () => {
  it('listen on loopback unless WORKER_METRICS_HOST says otherwise, whatever API_HOST is', () => {
    expect(loadConfig({ ...env, API_HOST: '0.0.0.0' }).WORKER_METRICS_HOST).toBe('127.0.0.1');
    expect(loadConfig({ ...env, WORKER_METRICS_HOST: '10.0.0.5' }).WORKER_METRICS_HOST).toBe('10.0.0.5');
  });

  it('bind the host they are given', async () => {
    const server = await serveWorkerMetrics(0, '127.0.0.1');
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(response.status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('are loopback-only in docker-compose unless the operator opts in, and never published', () => {
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    const workers = compose.split('\n').filter((line) => line.includes('WORKER_METRICS_PORT'));
    expect(workers.length).toBeGreaterThan(0);
    for (const line of workers) {
      expect(line).toContain('WORKER_METRICS_HOST: "${WORKER_METRICS_HOST:-127.0.0.1}"');
      expect(line).not.toContain('0.0.0.0');
    }
    expect(compose).not.toMatch(/ports:.*9464/);
  });
});
