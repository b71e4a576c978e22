// The overview: per priority, whether deadlines hold (backlog, the oldest waiting against its deadline, sends and
// late ones in the last hour, drawn a minute at a time); per provider, sends, failures, 429s and the circuit;
// mailings in progress, the next schedule firings and the linked mailboxes. Refreshed every few seconds.
import { $, api, cell, el, keyField, localTime, refreshEvery, text } from './page.js';

const REFRESH_MS = 3_000;
const seconds = (ms) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(
    ...rows.map(({ id, cells }) => {
      const tr = el('tr');
      if (id) tr.id = id;
      tr.append(...cells.map((c) => (c instanceof Node ? c : cell('', text(c ?? '—')))));
      return tr;
    }),
  );
}

/** The last hour of one priority: sends a minute (bars, late ones red) and the mean latency against the deadline. */
function chart(priority, points, deadlineMs, at) {
  const width = 300;
  const height = 90;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  const end = Date.parse(at);
  const x = (minute) => ((Date.parse(minute) - (end - 3_600_000)) / 3_600_000) * width;
  const most = Math.max(1, ...points.map((p) => p.sent));
  const slowest = Math.max(deadlineMs * 1.2, ...points.map((p) => p.meanLatencyMs));
  const y = (ms) => height - (ms / slowest) * height;
  const shape = (name, attrs) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
    return node;
  };
  for (const p of points) {
    const h = (p.sent / most) * height;
    shape('rect', { class: 'sent', x: x(p.minute), y: height - h, width: width / 60 - 1, height: h });
    const lateH = (p.late / most) * height;
    if (lateH > 0) shape('rect', { class: 'late', x: x(p.minute), y: height - lateH, width: width / 60 - 1, height: lateH });
  }
  shape('line', { class: 'deadline', x1: 0, x2: width, y1: y(deadlineMs), y2: y(deadlineMs) });
  if (points.length > 1) shape('polyline', { class: 'latency', points: points.map((p) => `${x(p.minute)},${y(p.meanLatencyMs)}`).join(' ') });
  const box = el('div', 'chart');
  box.id = `chart-${priority}`;
  box.append(el('h3', '', `${priority}: sends a minute, late in red; mean latency (line) against the deadline (dashed)`), svg);
  return box;
}

async function load() {
  const [o, schedules] = await Promise.all([api('/v1/overview'), api('/v1/schedules?status=ACTIVE&limit=20').catch(() => ({ data: [] }))]);
  const shown = (n) => (n > o.countCap ? `${o.countCap.toLocaleString()}+` : n.toLocaleString());
  fill(
    'priorities',
    o.priorities.map((p) => ({
      id: `priority-${p.priority}`,
      cells: [
        p.priority,
        seconds(p.deadlineMs),
        shown(p.backlog),
        p.oldestWaitingMs === null ? cell('', text('—')) : cell(p.oldestWaitingMs > p.deadlineMs ? 'over' : '', text(seconds(p.oldestWaitingMs))),
        p.sentLastHour,
        Object.assign(cell(p.lateLastHour > 0 ? 'over' : '', text(p.lateLastHour)), { id: `late-${p.priority}` }),
      ],
    })),
  );
  $('charts').replaceChildren(...o.priorities.map((p) => chart(p.priority, o.series[p.priority] ?? [], p.deadlineMs, o.at)));
  fill(
    'providers',
    o.providers.map((p) => ({
      cells: [
        p.channel,
        p.provider,
        p.sentPerMinute,
        p.sentLastHour,
        p.failedLastHour,
        p.throttledLastHour,
        p.circuit ? `${p.circuit.state} (${p.circuit.workers} worker${p.circuit.workers === 1 ? '' : 's'}, since ${localTime(p.circuit.since)})` : '—',
      ],
    })),
  );
  fill(
    'mailings',
    o.mailings.map((m) => ({
      cells: [
        m.name ?? m.id,
        m.status,
        `${m.counts.sent} of ${m.counts.total}`,
        m.sendRatePerMinute,
        m.etaSeconds === null ? '—' : seconds(m.etaSeconds * 1000),
      ],
    })),
  );
  const firings = schedules.data
    .flatMap((s) => s.nextRunTimes.slice(0, 1).map((at) => ({ at, name: s.name ?? s.id })))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
    .slice(0, 10);
  fill(
    'firings',
    firings.map((f) => ({ cells: [localTime(f.at), f.name] })),
  );
  const boxes = Object.entries(o.mailboxes);
  $('mailboxes').textContent = boxes.length ? boxes.map(([status, n]) => `${status} ${n}`).join(' · ') : 'none linked';
}

const refresh = refreshEvery(REFRESH_MS, load);
keyField(() => void refresh());
