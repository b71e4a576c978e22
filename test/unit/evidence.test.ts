// The evidence report's own checks: the ledger check fails on a duplicate, a missing recipient or a
// shared token, and the log reader keeps only this run's lines, allow-listed fields and no secret.
import { mkdtempSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyLines, logOffsets, readRunLogs } from '../../scripts/evidence/logs.js';
import { checkLedger, type MailingResult } from '../../scripts/evidence/scenario.js';
import { describeServices, parseEndpoints } from '../../scripts/evidence/stack.js';

const token = (i: number) => `tok${String(i).padStart(21, '0')}`;
function result(n: number, edit: (sends: MailingResult['ledger']['sends']) => void = () => {}): MailingResult {
  const emails = Array.from({ length: n }, (_, i) => `r${i}@example.com`);
  const sends = emails.map((to, i) => ({
    message_id: `m${i}`,
    to,
    subject: 'Complete your registration',
    body: `Hi, verify your token ${token(i)} to continue.`,
    acceptedAt: '',
  }));
  edit(sends);
  const seen = new Map<string, number>();
  for (const s of sends) seen.set(s.to, (seen.get(s.to) ?? 0) + 1);
  return {
    view: {
      id: 'mlg_x',
      status: 'COMPLETED',
      workflowId: 'mailing-mlg_x',
      failureReason: null,
      counts: {},
      createdAt: '',
      sendingStartedAt: null,
      finishedAt: null,
    },
    uploadMs: 1,
    samples: [],
    sentRecipients: emails,
    invalidRecipients: [],
    ledger: { sends, duplicates: [...seen].filter(([, c]) => c > 1).map(([to, count]) => ({ to, count })) },
    stats: { byStatus: {}, tokensIssued: 1 },
  };
}

describe('evidence: ledger check', () => {
  it('passes when each recipient is in the ledger once with a token of its own', () => {
    expect(checkLedger(result(5), 5)).toMatchObject({ ok: true, ledgerSends: 5, distinctTokens: 5, shortestToken: 24 });
  });

  it('fails on a recipient sent twice, a recipient missing, a shared token, or the wrong total', () => {
    expect(
      checkLedger(
        result(5, (s) => {
          s.push({ ...s[0]!, message_id: 'again' });
        }),
        5,
      ),
    ).toMatchObject({ ok: false, duplicates: [{ to: 'r0@example.com', count: 2 }] });
    expect(
      checkLedger(
        result(5, (s) => {
          s.pop();
        }),
        5,
      ),
    ).toMatchObject({ ok: false, missing: ['r4@example.com'] });
    expect(
      checkLedger(
        result(5, (s) => {
          s[1]!.body = s[0]!.body;
        }),
        5,
      ),
    ).toMatchObject({ ok: false, distinctTokens: 4 });
    expect(checkLedger(result(4), 5).ok).toBe(false);
  });
});

describe('evidence: run logs', () => {
  it('reads only what was written after the offsets, keeps allow-listed fields and replaces secrets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'evidence-logs-'));
    const line = (o: Record<string, unknown>) => `${JSON.stringify({ level: 30, time: '2026-01-01T00:00:00.000Z', service: 'api', ...o })}\n`;
    writeFileSync(join(dir, 'api.log'), line({ msg: 'before the run' }));
    const before = logOffsets(dir);
    appendFileSync(
      join(dir, 'api.log'),
      line({ msg: 'request', method: 'POST', route: '/v1/mailings', status: 202, authorization: 'Bearer abc', body: 'secret body' }),
    );
    appendFileSync(
      join(dir, 'api.log'),
      line({ level: 40, msg: 'send failed with key mf_abcdefghijklmnopqrstuvwxyz012345 and s3cr3t-value-123', error: 'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl' }),
    );
    writeFileSync(join(dir, 'temporal.log'), 'time=… level=WARN msg="text line"\n');
    const logs = readRunLogs(dir, before, ['s3cr3t-value-123']);
    expect(logs.lines.map((l) => l.msg)).toEqual(['request', 'send failed with key [api key] and [secret]']);
    expect(logs.lines[0]!.fields).toEqual({ method: 'POST', route: '/v1/mailings', status: 202 });
    expect(logs.lines[1]!.fields).toEqual({ error: '[jwt]' });
    expect(logs.otherLines).toEqual({ 'temporal.log': 1 });
    expect(JSON.stringify(logs)).not.toMatch(/secret body|Bearer abc|s3cr3t/);
    expect(keyLines(logs)).toHaveLength(2); // a write to the API and a warning
    expect(logs.byMessage.map((m) => m.msg)).toContain('POST /v1/mailings → 202');
  });
});

describe("evidence: the launcher's output", () => {
  const output = [
    '[mailflow] starting services (Temporal, PostgreSQL, Elasticsearch)…',
    'Mailflow is running.',
    '  API              http://127.0.0.1:3000',
    '  Temporal Web UI  http://127.0.0.1:8233   (platform check: platform-check-2026-01-01T00-00-00-000Z)',
    '  Temporal         127.0.0.1:7233   e.g. temporal workflow list --address 127.0.0.1:7233',
    '  PostgreSQL       postgres://mailflow:pw@127.0.0.1:5433/mailflow',
    '  Mail index       Elasticsearch http://127.0.0.1:9200',
    '  Simulators       Mailgun http://127.0.0.1:4010  SMS http://127.0.0.1:4011  push http://127.0.0.1:4012',
    '                   SMTP 127.0.0.1:2525 (control http://127.0.0.1:4013)  seed-004 API http://127.0.0.1:4020',
    '[mailflow] ready',
  ].join('\n');

  it('finds the addresses it printed, and describes the services without credentials', () => {
    expect(parseEndpoints(output)).toEqual({
      api: 'http://127.0.0.1:3000',
      temporalUi: 'http://127.0.0.1:8233',
      seed004: 'http://127.0.0.1:4020',
      mailgun: 'http://127.0.0.1:4010',
      sms: 'http://127.0.0.1:4011',
      push: 'http://127.0.0.1:4012',
      platformCheck: 'platform-check-2026-01-01T00-00-00-000Z',
    });
    expect(describeServices(output)).toEqual([
      'Temporal 127.0.0.1:7233',
      'PostgreSQL postgres://127.0.0.1:5433/mailflow',
      'Mail index Elasticsearch http://127.0.0.1:9200',
    ]);
  });
});
