// The run's key log lines: only what the stack's processes wrote during this run (each log file is read
// from where it ended before the run), only JSON lines from Mailflow's own processes, only an allow-list
// of fields, and every known secret replaced. Message contents are never logged by Mailflow; the allow-list
// keeps it that way here whatever a line carries.
import { existsSync, openSync, readdirSync, readSync, statSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export type LogOffsets = Record<string, number>;

const MAILFLOW_LOGS = ['api.log', 'workers.log', 'sync-worker.log', 'simulators.log'];

export function logOffsets(dir: string): LogOffsets {
  const offsets: LogOffsets = {};
  if (!existsSync(dir)) return offsets;
  for (const name of readdirSync(dir)) if (name.endsWith('.log')) offsets[name] = statSync(join(dir, name)).size;
  return offsets;
}

function readFrom(path: string, offset: number): string {
  const size = statSync(path).size;
  if (size <= offset) return '';
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface LogLine {
  file: string;
  time: string;
  level: string;
  service: string;
  msg: string;
  fields: Record<string, unknown>;
}

const asText = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : v === undefined || v === null ? fallback : JSON.stringify(v));
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
// Identifiers, outcomes and timings only: never bodies, addresses of API callers, keys or tokens.
const SAFE_FIELDS = [
  'method',
  'route',
  'status',
  'durationMs',
  'principal',
  'mailingId',
  'notificationId',
  'workflowId',
  'workflowType',
  'activityType',
  'attempt',
  'channel',
  'priority',
  'provider',
  'providerMessageId',
  'messageId',
  'late',
  'valid',
  'invalid',
  'duplicate',
  'total',
  'rows',
  'row',
  'totalRows',
  'validRows',
  'invalidRows',
  'duplicateRows',
  'resumeFromRow',
  'retryAfterMs',
  'retryInMs',
  'reason',
  'error',
  'roles',
  'signal',
  'requestedBy',
  'backend',
  'port',
];

export interface RunLogs {
  lines: LogLine[];
  otherLines: Record<string, number>;
  byMessage: { service: string; msg: string; level: string; count: number }[];
}

export function readRunLogs(dir: string, before: LogOffsets, secrets: readonly string[]): RunLogs {
  const scrub = (text: string) => {
    let out = text;
    for (const s of secrets) if (s.length >= 8) out = out.split(s).join('[secret]');
    return out
      .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '[jwt]')
      .replace(/mf_[\w-]{20,}/g, '[api key]')
      .replace(/Bearer \S+/gi, 'Bearer [secret]');
  };
  const lines: LogLine[] = [];
  const otherLines: Record<string, number> = {};
  for (const file of existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()
    : []) {
    const text = readFrom(join(dir, file), before[file] ?? 0);
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      let parsed: Record<string, unknown> | undefined;
      if (MAILFLOW_LOGS.includes(file) && raw.startsWith('{')) {
        try {
          parsed = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
      }
      if (!parsed) {
        otherLines[file] = (otherLines[file] ?? 0) + 1;
        continue;
      }
      const fields: Record<string, unknown> = {};
      for (const key of SAFE_FIELDS) {
        const value = parsed[key];
        if (value === undefined) continue;
        fields[key] = typeof value === 'string' ? scrub(value).slice(0, 160) : value;
      }
      lines.push({
        file,
        time: asText(parsed.time),
        level: LEVELS[Number(parsed.level)] ?? String(parsed.level),
        service: asText(parsed.service, file.replace(/\.log$/, '')),
        msg: scrub(asText(parsed.msg)),
        fields,
      });
    }
  }
  lines.sort((a, b) => a.time.localeCompare(b.time));
  const counts = new Map<string, { service: string; msg: string; level: string; count: number }>();
  for (const l of lines) {
    const label = l.msg === 'request' ? `${String(l.fields.method)} ${String(l.fields.route)} → ${String(l.fields.status)}` : l.msg;
    const key = `${l.service}\u0000${l.level}\u0000${label}`;
    const entry = counts.get(key) ?? { service: l.service, msg: label, level: l.level, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return { lines, otherLines, byMessage: [...counts.values()].sort((a, b) => b.count - a.count) };
}

/** The lines worth reading in full: every warning and error, each write to the API, and the milestones. */
export function keyLines(logs: RunLogs, max = 80): LogLine[] {
  const milestone =
    /^(api listening|workers running|workers stopped|api stopping|mailing list parsed|parsing mailing list|mailing status|notification (started|sent)|platform check recorded|mailing cancelled)/;
  const picked = logs.lines.filter(
    (l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal' || (l.msg === 'request' && l.fields.method !== 'GET') || milestone.test(l.msg),
  );
  return picked.slice(0, max);
}
