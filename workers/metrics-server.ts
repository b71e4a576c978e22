// Workers count sends, failures and latency; Prometheus scrapes them here (WORKER_METRICS_PORT).
import { createServer, type Server } from 'node:http';
import { registry } from '../lib/metrics.js';

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
