// The notifications page: the tenant's notifications with filters and per-status counts, kept live by the
// server-sent change feed (falling back to polling while the feed is down), a notification's whole story,
// and the actions: retry, cancel, and retry every failed one that matches the filter.
import { $, actionButton, api, cell, el, highlight, keyField, localTime, text } from './page.js';

const PAGE = 50;
const POLL_MS = 2_000;
const rows = new Map(); // notification id → its <tr>
let nextCursor = null;
let shownId = new URLSearchParams(location.search).get('id');

/** The filter as the API's query parameters ("late" is a status in the form, a flag in the API). */
function filterParams() {
  const params = new URLSearchParams();
  for (const input of $('filters').querySelectorAll('[name]')) {
    const value = input.value.trim();
    if (!value) continue;
    if (input.name === 'status' && value === 'late') params.set('late', 'true');
    else if (input.name === 'since' || input.name === 'until') params.set(input.name, new Date(value).toISOString());
    else params.set(input.name, value);
  }
  return params;
}

/** Whether a notification the feed announced belongs in the list as filtered. */
function matches(n) {
  const f = Object.fromEntries(filterParams());
  const created = Date.parse(n.createdAt);
  return (
    (!f.status || n.status === f.status) &&
    (!f.late || n.late) &&
    (!f.type || n.type === f.type) &&
    (!f.priority || n.priority === f.priority) &&
    (!f.templateId || n.templateId === f.templateId) &&
    (!f.userId || n.userId === f.userId) &&
    (!f.correlationId || n.correlationId === f.correlationId) &&
    (!f.recipient || n.recipient === f.recipient) &&
    (!f.since || created >= Date.parse(f.since)) &&
    (!f.until || created < Date.parse(f.until))
  );
}

function deadlineCell(n) {
  if (n.sentAt) return n.late ? cell('late', text('late')) : cell('met', text('met'));
  return Date.now() > Date.parse(n.deadlineAt) ? cell('late', text('missed')) : cell('muted', text(`by ${localTime(n.deadlineAt)}`));
}

/** Retry for a failed one, cancel for one still waiting. */
function actions(n) {
  if (n.status === 'FAILED' || n.status === 'DEAD_LETTERED')
    return [actionButton('Retry', 'retry', () => api(`/v1/notifications/${n.id}/retry`, { method: 'POST' }).then(() => refresh(n.id)))];
  if (n.status === 'PENDING' || n.status === 'RETRYING')
    return [actionButton('Cancel', 'cancel', () => api(`/v1/notifications/${n.id}/cancel`, { method: 'POST' }).then(() => refresh(n.id)))];
  return [];
}

function renderRow(n) {
  const tr = rows.get(n.id) ?? el('tr');
  tr.dataset.id = n.id;
  tr.dataset.status = n.status;
  tr.replaceChildren(
    cell('', text(localTime(n.createdAt))),
    cell('recipient', text(n.recipient)),
    cell('', text(n.type)),
    cell('', text(n.priority)),
    cell('', text(n.templateId ?? '—')),
    cell('status', text(n.status)),
    cell('', text(localTime(n.sentAt))),
    cell('', text(localTime(n.deliveredAt))),
    deadlineCell(n),
    cell('', ...actions(n)),
  );
  tr.onclick = (event) => {
    if (event.target.tagName !== 'BUTTON') void showDetail(n.id);
  };
  rows.set(n.id, tr);
  return tr;
}

async function loadPage(reset) {
  const params = filterParams();
  params.set('limit', String(PAGE));
  if (!reset && nextCursor) params.set('cursor', nextCursor);
  const page = await api(`/v1/notifications?${params}`);
  const body = $('list').tBodies[0];
  if (reset) {
    rows.clear();
    body.replaceChildren();
  }
  for (const n of page.data) body.append(renderRow(n));
  nextCursor = page.nextCursor;
  $('more').hidden = !nextCursor;
}

async function loadCounts() {
  const { counts, capped, cap } = await api(`/v1/notifications/counts?${filterParams()}`);
  $('counts').replaceChildren(
    ...(capped ? [el('span', '', `more than ${cap.toLocaleString()} match; the newest:`)] : []),
    ...Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([status, n]) => Object.assign(el('span', '', `${status} ${n.toLocaleString()}`), { id: `count-${status}` })),
  );
  const retryable = (counts.FAILED ?? 0) + (counts.DEAD_LETTERED ?? 0);
  $('retry-all').hidden = retryable === 0;
  $('retry-all').textContent = `Retry all ${retryable.toLocaleString()}${capped ? '+' : ''} failed or dead-lettered`;
}

async function reload() {
  await Promise.all([loadPage(true), loadCounts()]);
  if (shownId) await showDetail(shownId);
}

/** One notification changed: its row (and the open detail) show it now. */
async function refresh(id) {
  const n = await api(`/v1/notifications/${id}`);
  if (rows.has(id)) highlight(renderRow(n), 1500);
  if (shownId === id) renderDetail(n);
  void loadCounts();
}

function applyChanges(changes) {
  const body = $('list').tBodies[0];
  for (const { notification: n } of changes) {
    const known = rows.has(n.id);
    if (!known && !matches(n)) continue;
    const tr = renderRow(n);
    if (!known) body.prepend(tr);
    highlight(tr, 1500);
    if (shownId === n.id) void showDetail(n.id);
  }
  void loadCounts();
}

function section(title, ...children) {
  return [el('h3', '', title), ...children];
}

function table(headers, items) {
  const t = el('table');
  t.append(el('tr'));
  t.rows[0].append(...headers.map((h) => el('th', '', h)));
  for (const item of items) {
    const tr = el('tr');
    tr.append(...item.map((v) => cell('', text(v ?? '—'))));
    t.append(tr);
  }
  return t;
}

function renderDetail(d) {
  const box = $('detail');
  box.hidden = false;
  const margin = Math.round(Math.abs(d.deadline.marginMs) / 1000);
  const deadline = d.deadline.met === true ? `met with ${margin} s to spare` : d.deadline.met === false ? `missed by ${margin} s` : `${margin} s left`;
  const run = d.temporalUrl
    ? Object.assign(el('a', '', 'its run in the Temporal Web UI'), { href: d.temporalUrl, target: '_blank', id: 'temporal-link' })
    : text(d.workflowId);
  box.replaceChildren(
    el('h2', '', `${d.id}`),
    Object.assign(el('p', 'status', d.status), { id: 'detail-status' }),
    el('p', '', `${d.type} to ${d.recipient}, ${d.priority}; template ${d.templateId ?? '—'} v${d.templateVersion ?? '—'}; user ${d.userId ?? '—'}`),
    Object.assign(el('p', '', `Deadline ${localTime(d.deadline.at)}: ${deadline}`), { id: 'detail-deadline' }),
    el('p', '', ''),
    ...section('Parameters', Object.assign(el('pre', '', JSON.stringify(d.params ?? {}, null, 2)), { id: 'detail-params' })),
    ...section(
      'Status history',
      Object.assign(
        table(
          ['at', 'from', 'to', 'why'],
          d.history.map((h) => [localTime(h.at), h.from, h.to, h.reason]),
        ),
        { id: 'detail-history' },
      ),
    ),
    ...section(
      'Delivery attempts',
      table(
        ['attempt', 'provider', 'outcome', 'latency', 'error'],
        d.deliveryAttempts.map((a) => [a.attempt, a.provider, a.outcome, `${a.latencyMs} ms`, a.error]),
      ),
    ),
    ...section(
      'Provider events',
      table(
        ['received', 'provider', 'event'],
        d.providerEvents.map((e) => [localTime(e.receivedAt), e.provider, e.event]),
      ),
    ),
    ...(d.suppression
      ? section('Suppressed', el('p', '', `${d.suppression.address}: ${d.suppression.reason} since ${localTime(d.suppression.createdAt)}`))
      : []),
    el('p', '', ''),
  );
  box.lastChild.append(run, ' ', ...actions(d));
}

async function showDetail(id) {
  shownId = id;
  history.replaceState(null, '', `?id=${encodeURIComponent(id)}`);
  renderDetail(await api(`/v1/notifications/${id}`));
}

async function retryAll() {
  const params = Object.fromEntries(filterParams());
  const body = { ...params, ...(params.late ? { late: true } : {}) };
  if (body.status !== 'FAILED' && body.status !== 'DEAD_LETTERED') delete body.status;
  let batch = await api('/v1/notifications/retries', { method: 'POST', body: JSON.stringify(body) });
  const progress = $('retry-progress');
  while (!batch.done) {
    progress.textContent = `retrying: ${batch.retried} of ${batch.total ?? '…'}`;
    await new Promise((resolve) => setTimeout(resolve, 500));
    batch = await api(`/v1/notifications/retries/${batch.id}`);
  }
  progress.textContent = `retried ${batch.retried} of ${batch.total}${batch.skipped ? ` (${batch.skipped} no longer failed)` : ''}`;
  await reload();
}

/** The change feed; while it is down, the list is polled instead. */
let source;
let poller;
async function follow() {
  source?.close();
  const feed = $('feed');
  try {
    await api('/v1/notifications/events/session', { method: 'POST' });
  } catch (error) {
    feed.dataset.state = 'down';
    feed.textContent = `live updates unavailable (${error.message}); polling`;
    poller ??= setInterval(() => void reload().catch(() => {}), POLL_MS);
    return;
  }
  source = new EventSource('/v1/notifications/events');
  source.addEventListener('hello', () => {
    clearInterval(poller);
    poller = undefined;
    feed.dataset.state = 'live';
    feed.textContent = 'live';
    void reload().catch((error) => ($('error').textContent = error.message));
  });
  source.addEventListener('changes', (event) => applyChanges(JSON.parse(event.data)));
  source.addEventListener('revoked', () => {
    source.close();
    feed.dataset.state = 'down';
    feed.textContent = 'the key was revoked';
  });
  source.onerror = () => {
    feed.dataset.state = 'reconnecting';
    feed.textContent = 'reconnecting… (polling meanwhile)';
    poller ??= setInterval(() => void reload().catch(() => {}), POLL_MS);
  };
}

$('filters').onsubmit = (event) => {
  event.preventDefault();
  void reload().catch((error) => ($('error').textContent = error.message));
};
$('more').onclick = () => void loadPage(false).catch((error) => ($('error').textContent = error.message));
$('retry-all').onclick = () => void retryAll().catch((error) => ($('error').textContent = error.message));
keyField(() => void follow());
void follow();
