// The API process: migrate, serve, and on SIGTERM/SIGINT stop accepting, finish in-flight requests,
// close connections and exit 0.
import { serve } from '@hono/node-server';
import { runMigrations } from '../db/migrate.js';
import { loadConfigOrExit } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { createApp } from './app.js';
import { buildAppDeps } from './deps.js';
import { runStartRecovery } from '../lib/notifications/starts.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
if (!config.ADMIN_API_KEY) logger.warn('ADMIN_API_KEY is not set: only API keys already in the database can call the API');

await runMigrations(config.DATABASE_URL);
const { deps, close } = buildAppDeps(config, logger);
// Indices and mappings exist before the first request; /ready reports the index if this fails.
await deps.mailIndex.ensureReady().catch((error: unknown) => logger.error({ err: error }, 'the mail index is not ready'));
const app = createApp(deps);
// Workflows of notifications committed but never started (a process died in between, Temporal refused).
const startRecovery = runStartRecovery({ ...deps, logger }, deps.notificationStarts, config.NOTIFICATION_START_RECOVERY_SECONDS);
const server = serve({ fetch: app.fetch, port: config.API_PORT, hostname: config.API_HOST }, (info) => {
  logger.info({ url: `http://${config.API_HOST}:${info.port}` }, 'api listening');
});
// Idle keep-alive connections outlive the clients' and load balancers' own idle timeouts (undici 4 s, most
// balancers 60 s), so the client closes them: a server closing one just as a client reuses it (a busy
// client's timer runs late) fails that request with a socket error.
Object.assign(server, { keepAliveTimeout: 65_000, headersTimeout: 66_000 });

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'api stopping');
  server.close(() => {
    startRecovery
      .stop()
      .then(close)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error while closing');
          process.exit(1);
        },
      );
  });
  // Keep-alive connections would hold close() open: end idle ones now, the rest after a grace period.
  (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  setTimeout(() => (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(), 10_000).unref();
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
