// Workers count sends, failures and latency; Prometheus scrapes them here (WORKER_METRICS_PORT).
import { createServer, type Server } from 'node:http';
import type { Config } from '../lib/config.js';
import { registry } from '../lib/metrics.js';

/**
 * Where Temporal's SDK exporter (schedule-to-start latency, slots, sticky cache) listens: its own port, since
 * Core serves it natively; by default WORKER_METRICS_PORT + 100, off when that is off.
 */
export function sdkMetricsBindAddress(config: Pick<Config, 'WORKER_METRICS_PORT' | 'WORKER_METRICS_HOST' | 'WORKER_SDK_METRICS_PORT'>): string | undefined {
  const port = config.WORKER_SDK_METRICS_PORT ?? (config.WORKER_METRICS_PORT ? config.WORKER_METRICS_PORT + 100 : 0);
  if (!port) return undefined;
  const host = config.WORKER_METRICS_HOST.includes(':') ? `[${config.WORKER_METRICS_HOST}]` : config.WORKER_METRICS_HOST;
  return `${host}:${port}`;
}

export async function serveWorkerMetrics(port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
