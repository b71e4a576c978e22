// How an IMAP mailbox's workflow paces itself. IMAP servers have no request budget like Graph's, but cap
// connections: each request in flight is a connection, and two more are kept for the IDLE watch and a link's
// login. While the watch is up, INBOX arrives by IDLE and every other folder by the watcher's LIST-STATUS
// check, so the workflow's own round is a safety net.
import type { Config } from '../../config.js';

/** The workflow's SyncSettings (activities/mailbox-sync/types.ts), for an IMAP mailbox. */
export function imapSyncSettings(config: Config) {
  return {
    pollIntervalMs: Math.round(config.IMAP_POLL_INTERVAL_SECONDS * 1000),
    pageSize: config.SYNC_PAGE_SIZE,
    pagesPerActivity: config.SYNC_PAGES_PER_ACTIVITY,
    lanes: Math.max(1, config.IMAP_CONNECTIONS_PER_MAILBOX - 2),
    historyEventsPerRun: config.SYNC_HISTORY_EVENTS_PER_RUN,
    pageTimeoutMs: config.IMAP_TIMEOUT_MS * 3 + 30_000,
    heartbeatTimeoutMs: 10_000,
    requestsPerSecond: 50,
    requestBurst: 200,
    push: {
      pollIntervalMs: Math.round(config.IMAP_WATCHED_POLL_INTERVAL_SECONDS * 1000),
      renewBeforeMs: IMAP_WATCH_RENEW_BEFORE_MS,
      retryMs: 30_000,
    },
  };
}

/** A watch lives this long unless the workflow renews it (a paused or ended sync lets it lapse). */
export const IMAP_WATCH_TTL_MS = 60 * 60_000;
export const IMAP_WATCH_RENEW_BEFORE_MS = 15 * 60_000;
