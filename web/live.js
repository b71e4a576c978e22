// For the account and mail pages: an account's live feed: a stream cookie (never the key in a URL),
// EventSource with resume from the last event id, and polling while the stream is down.
import { api } from './page.js';

export { api };

export function liveFeed(id, { onEvent, onState, poll, pollMs, showError }) {
  const feed = { source: null, lastId: null, renewTimer: 0, retryTimer: 0, retryMs: 1_000, pollTimer: 0 };
  const eventsPath = `/v1/accounts/${encodeURIComponent(id)}/events`;
  async function openSession() {
    const { expiresAt } = await api(`${eventsPath}/session`, { method: 'POST' });
    const left = Date.parse(expiresAt) - Date.now();
    clearTimeout(feed.renewTimer);
    // The open stream does not need the cookie again, but every reconnect does: renew well before it expires.
    feed.renewTimer = setTimeout(() => openSession().catch(showError), Math.max(left - 5 * 60_000, left / 2, 5_000));
  }
  function startPolling() {
    if (feed.pollTimer) return;
    poll();
    feed.pollTimer = setInterval(poll, pollMs);
  }
  function stopPolling() {
    clearInterval(feed.pollTimer);
    feed.pollTimer = 0;
  }
  function reconnectLater() {
    clearTimeout(feed.retryTimer);
    feed.retryTimer = setTimeout(connect, feed.retryMs);
    feed.retryMs = Math.min(feed.retryMs * 2, 8_000);
  }
  async function connect() {
    clearTimeout(feed.retryTimer);
    feed.source?.close();
    feed.source = null;
    try {
      await openSession();
    } catch (error) {
      showError(error);
      onState('down');
      startPolling();
      return reconnectLater();
    }
    // By hand, the browser sends no Last-Event-ID: the query parameter carries it (an event id, never a secret).
    const source = new EventSource(feed.lastId === null ? eventsPath : `${eventsPath}?lastEventId=${encodeURIComponent(feed.lastId)}`);
    feed.source = source;
    source.onopen = () => {
      if (feed.source !== source) return;
      feed.retryMs = 1_000;
      stopPolling();
      onState('live');
    };
    source.onerror = () => {
      if (feed.source !== source) return;
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 401: the cookie expired) or broken for good: new cookie, reconnect by hand from the last id.
        onState('down');
        reconnectLater();
      } else {
        onState('reconnecting'); // the browser retries by itself, with Last-Event-ID
      }
    };
    for (const type of ['hello', 'messages', 'folders', 'mailbox', 'reload', 'reset']) {
      source.addEventListener(type, (event) => {
        if (feed.source !== source) return;
        if (event.lastEventId) feed.lastId = event.lastEventId;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        onEvent(type, data);
      });
    }
  }
  return {
    connect,
    stop() {
      feed.source?.close();
      feed.source = null;
      clearTimeout(feed.renewTimer);
      clearTimeout(feed.retryTimer);
      stopPolling();
    },
  };
}
