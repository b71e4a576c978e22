// The webhooks page: the tenant's endpoints (URL, event types, enabled or why not, failing since), registering
// one (its signing secret shown once), and per endpoint a test event, a new secret, disable or enable, delete;
// the chosen endpoint's deliveries (attempts, last answer, next retry) with a replay of one event or of every
// event since a time. Refreshed every few seconds.
import { $, actionButton, api, cell, el, keyField, localTime, refreshEvery, text } from './page.js';

const REFRESH_MS = 2_000;
let selected = null; // the endpoint whose deliveries are shown
let generation = 0; // a newer load outdates the answers of the one before

const endpointPath = (id, rest = '') => `/v1/webhook-endpoints/${encodeURIComponent(id)}${rest}`;
const post = (path, body) => api(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** The event-type checkboxes, from the API's own list (the OpenAPI document's WebhookEventType). */
async function eventTypeBoxes() {
  const response = await fetch('/openapi.json');
  if (!response.ok) throw new Error(`the event types: ${response.status} ${response.statusText}`);
  const types = (await response.json()).components.schemas.WebhookEventType.enum;
  $('event-types').replaceChildren(
    ...types.map((type) => {
      const box = el('input');
      box.type = 'checkbox';
      box.value = type;
      const label = el('label');
      label.append(box, text(` ${type}`));
      return label;
    }),
  );
}

/** A secret the API showed this once (registering, rotating): on the page until hidden, never in the URL. */
function showSecret(endpoint) {
  $('secret-url').textContent = endpoint.url;
  $('secret').textContent = endpoint.secret;
  $('secret-box').hidden = false;
}
function hideSecret() {
  $('secret').textContent = '';
  $('secret-box').hidden = true;
}

function endpointRow(e) {
  const tr = el('tr', e.id === selected ? 'selected' : '');
  tr.dataset.id = e.id;
  tr.dataset.enabled = String(e.enabled);
  const url = cell('url', text(e.url));
  if (e.mailboxId) url.append(el('div', 'muted', `mailbox ${e.mailboxId} only`));
  tr.append(
    url,
    cell('types', text(e.eventTypes.join(', '))),
    cell('state', text(e.enabled ? 'enabled' : `disabled: ${e.disabledReason ?? 'no reason recorded'}`)),
    cell('failing', text(localTime(e.failingSince))),
    cell(
      '',
      actionButton('Deliveries', 'deliveries', () => select(e.id)),
      actionButton('Send test', 'test', async () => {
        const delivery = await post(endpointPath(e.id, '/test'));
        $('result').textContent = `test event ${delivery.eventId} queued`;
        await select(e.id);
      }),
      actionButton('Rotate secret', 'rotate', async () => {
        if (!confirm(`A new signing secret for ${e.url}? The current one keeps signing beside it for a day.`)) return;
        showSecret(await post(endpointPath(e.id, '/secret/rotate'), {}));
        $('result').textContent = 'secret rotated';
      }),
      actionButton(e.enabled ? 'Disable' : 'Enable', e.enabled ? 'disable' : 'enable', async () => {
        await api(endpointPath(e.id), { method: 'PATCH', body: JSON.stringify({ enabled: !e.enabled }) });
        $('result').textContent = e.enabled ? 'disabled' : 'enabled';
        await refresh();
      }),
      actionButton('Delete', 'delete', async () => {
        if (!confirm(`Delete the endpoint ${e.url} and its deliveries? Nothing is sent to it after this.`)) return;
        await api(endpointPath(e.id), { method: 'DELETE' });
        $('result').textContent = 'deleted';
        await refresh();
      }),
    ),
  );
  return tr;
}

function deliveryRow(d) {
  const tr = el('tr');
  Object.assign(tr.dataset, { id: d.id, eventId: d.eventId, status: d.status });
  const event = cell('event', text(d.eventType));
  event.append(el('div', 'event-id muted', d.eventId));
  // A pending one is still being sent: a replay is for one delivered or given up.
  const replay =
    d.status === 'PENDING'
      ? []
      : [
          actionButton('Replay', 'replay', async () => {
            await post(endpointPath(selected, `/deliveries/${encodeURIComponent(d.id)}/replay`));
            $('replay-result').textContent = `${d.eventType} ${d.eventId} queued again`;
            await refresh();
          }),
        ];
  tr.append(
    event,
    cell('status', text(d.status)),
    cell('attempts', text(d.attempts)),
    cell('http-status', text(d.lastStatus ?? '—')),
    cell('duration', text(d.lastDurationMs === null ? '—' : `${d.lastDurationMs} ms`)),
    cell('last-attempt', text(localTime(d.lastAttemptAt))),
    cell('next-retry', text(localTime(d.nextAttemptAt))),
    cell('last-error', text(d.lastError ?? '—')),
    cell('', ...replay),
  );
  return tr;
}

async function load() {
  const turn = ++generation;
  const endpoints = (await api('/v1/webhook-endpoints?limit=100')).data;
  const endpoint = endpoints.find((e) => e.id === selected);
  const deliveries = endpoint ? (await api(endpointPath(endpoint.id, '/deliveries?limit=50'))).data : [];
  if (turn !== generation) return;
  if (!endpoint) selected = null;
  $('endpoints').replaceChildren(...endpoints.map(endpointRow));
  $('endpoint').hidden = !endpoint;
  $('endpoint').dataset.id = endpoint?.id ?? '';
  $('endpoint-url').textContent = endpoint?.url ?? '';
  $('deliveries').replaceChildren(...deliveries.map(deliveryRow));
}

async function select(id) {
  if (selected !== id) {
    selected = id;
    $('deliveries').replaceChildren();
    $('replay-result').textContent = '';
  }
  await refresh();
}

$('register').onsubmit = async (event) => {
  event.preventDefault();
  const eventTypes = [...document.querySelectorAll('#event-types input:checked')].map((box) => box.value);
  const mailboxId = $('mailbox-id').value.trim();
  try {
    const created = await post('/v1/webhook-endpoints', { url: $('url').value.trim(), eventTypes, ...(mailboxId ? { mailboxId } : {}) });
    $('register-result').textContent = `registered ${created.id}`;
    showSecret(created);
    await select(created.id);
  } catch (error) {
    $('register-result').textContent = `refused: ${error.message}`;
  }
};

$('replay-since').onsubmit = async (event) => {
  event.preventDefault();
  try {
    const { queued } = await post(endpointPath(selected, '/replay'), { since: new Date($('since').value).toISOString() });
    $('replay-result').textContent = `${queued} event${queued === 1 ? '' : 's'} queued again`;
    await refresh();
  } catch (error) {
    $('replay-result').textContent = `refused: ${error.message}`;
  }
};

$('secret-hide').onclick = hideSecret;
$('refresh').onclick = () => void refresh();
eventTypeBoxes().catch((error) => ($('register-result').textContent = error.message));
const refresh = refreshEvery(REFRESH_MS, load);
keyField(() => {
  hideSecret();
  selected = null;
  void refresh();
});
