// What every page shares: the API with the key kept in this browser's local storage, the key field, and
// small DOM helpers for the tables. (web/live.js adds an account's live feed for the account and mail pages.)

export const $ = (id) => document.getElementById(id);

const KEY = 'mailflow.apiKey';

/**
 * The API with the page's key. A string body is JSON; a problem answer becomes an Error carrying its status,
 * the problem, and as its message the fields refused (if any) or the detail. 204 answers null.
 */
export async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${localStorage.getItem(KEY) ?? ''}`);
  if (typeof init.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).join('; ');
    throw Object.assign(new Error(fields || problem.detail || `${response.status} ${response.statusText}`), { status: response.status, problem });
  }
  return response.status === 204 ? null : response.json();
}

/**
 * Fills the page's `<fieldset id="key-field">` with the API key field (#key, #save-key): it shows the stored
 * key; "Use" stores the typed one and calls `onUse`.
 */
export function keyField(onUse) {
  $('key-field').innerHTML = `<legend>API key</legend>
    <input id="key" type="password" size="48" placeholder="Bearer key (stored in this browser)" autocomplete="off">
    <button id="save-key" type="button">Use</button>`;
  const input = $('key');
  input.value = localStorage.getItem(KEY) ?? '';
  $('save-key').onclick = () => {
    localStorage.setItem(KEY, input.value.trim());
    onUse();
  };
}

/** An element with an optional class and text. */
export function el(tag, className, textContent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (textContent !== undefined) node.textContent = textContent;
  return node;
}

export const text = (value) => document.createTextNode(String(value));

/** A table cell with an optional class, holding the given nodes. */
export function cell(className, ...children) {
  const td = el('td', className);
  td.append(...children);
  return td;
}

/** A button that runs `action` and says what went wrong in #error. */
export function actionButton(label, dataAction, action) {
  const button = el('button', '', label);
  button.type = 'button';
  button.dataset.action = dataAction;
  button.onclick = async () => {
    try {
      await action();
    } catch (error) {
      $('error').textContent = error.message;
    }
  };
  return button;
}

/** Runs `load` now and every `ms`, saying in #error what went wrong (and clearing it once it works again). */
export function refreshEvery(ms, load) {
  const run = async () => {
    try {
      await load();
      $('error').textContent = '';
    } catch (error) {
      $('error').textContent = error.message;
    }
  };
  void run();
  setInterval(run, ms);
  return run;
}

export const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

const highlightTimers = new WeakMap();
/** Marks a row changed for `ms` (the yellow that fades), restarting the fade when it changes again. */
export function highlight(tr, ms) {
  tr.classList.remove('changed');
  void tr.offsetWidth; // restart the transition
  tr.classList.add('changed');
  clearTimeout(highlightTimers.get(tr));
  highlightTimers.set(
    tr,
    setTimeout(() => tr.classList.remove('changed'), ms),
  );
}
