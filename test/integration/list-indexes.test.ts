// Every list endpoint's query reads an index in its own sort order: no sequential scan of the table and no
// sort of the matching rows, however many there are. The plans are the ones PostgreSQL really ran for the
// lib functions the routes call (auto_explain on this test's own connection, reported as notices), over
// tables seeded with enough rows that a wrong plan would be visible, then analysed.
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/client.js';
import * as schema from '../../db/schema/index.js';
import { listAccounts } from '../../lib/accounts/accounts.js';
import { eventsAfter } from '../../lib/mailbox-sync/events.js';
import { listNotifications } from '../../lib/notifications/list.js';
import { listSuppressions } from '../../lib/notifications/suppressions.js';
import { listSchedules, type ScheduleDeps } from '../../lib/schedules/service.js';
import { testConfig, unique } from '../helpers/config.js';
import { listMailings, listRecipients } from '../../lib/mailings/service.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

const notices: string[] = [];
// One connection, so the session's auto_explain settings hold for every query.
const client = postgres(testConfig().DATABASE_URL, {
  max: 1,
  onnotice: (n) => {
    notices.push(n.message ?? '');
  },
});
const db: Database = drizzle(client, { schema, casing: 'snake_case' });
const owner = unique('owner');
const other = unique('other');
const account = unique('acc');
const mailing = unique('mlg');

afterAll(async () => {
  await client.end({ timeout: 5 });
});

beforeAll(async () => {
  await client`
    insert into notifications (id, owner, user_id, channel, priority, recipient, body, workflow_id, deadline_at, status, correlation_id, created_at,
                               template_id, late)
      select 'ntf_' || o.owner || '_' || g, o.owner, 'u' || (g % 200), 'EMAIL',
             (array['critical','medium','low'])[1 + g % 3]::notification_priority, 'x' || (g % 5) || '@example.com', '', 'wf' || g, now(),
             (array['PENDING','RETRYING','SENT','DELIVERED','OPENED','FAILED','DEAD_LETTERED'])[1 + g % 7]::notification_status,
             'c' || (g % 20), now() - make_interval(secs => g / 4), 'T' || (g % 50), g % 100 = 0
        from generate_series(1, 20000) g, (values (${owner}), (${other})) o(owner)`;
  // Three entries per second: pages end inside runs of equal created_at.
  await client`
    insert into email_suppressions (owner, address, reason, created_at)
      select o.owner, 'a' || g || '@example.com', 'bounced', now() - make_interval(secs => g / 3)
        from generate_series(1, 5000) g, (values (${owner}), (${other})) o(owner)`;
  await client`
    insert into schedules (id, owner, status, kind, request_sealed, spec, catchup_window_seconds, temporal_schedule_id)
      select 'sch_' || o.owner || '_' || lpad(g::text, 5, '0'), o.owner, (array['ACTIVE','PAUSED','ARCHIVED'])[1 + g % 3]::schedule_status,
             'notification', '', '{}', 60, 't' || o.owner || g
        from generate_series(1, 5000) g, (values (${owner}), (${other})) o(owner)`;
  await client`
    insert into accounts (id, owner, email)
      select 'acc_' || o.owner || '_' || lpad(g::text, 5, '0'), o.owner, 'a' || g || '@example.com'
        from generate_series(1, 5000) g, (values (${owner}), (${other})) o(owner)`;
  await client`
    insert into mailbox_events (account_id, seq, mailbox_id, type, data)
      select case when g % 200 = 0 then ${account} else ${other} || (g % 200) end, g, 'mbx', 'x', '{}' from generate_series(1, 100000) g`;
  await client`insert into blobs (id, kind, content_type) values (${mailing}, 'csv', 'text/csv')`;
  await client`
    insert into mailings (id, owner, blob_id, options, workflow_id, created_at)
      select ${mailing} || '_' || o.owner || '_' || g, o.owner, ${mailing}, '{}', 'wf', now() - make_interval(secs => g)
        from generate_series(1, 5000) g, (values (${owner}), (${other})) o(owner)`;
  await client`
    insert into mailing_recipients (mailing_id, row_number, email, status)
      select ${mailing} || '_' || ${owner} || '_1', g, 'r' || g || '@example.com', (array['QUEUED','SENT','FAILED','INVALID'])[1 + g % 4]::mailing_recipient_status
        from generate_series(1, 20000) g`;
  // Every mailing whose list was read has its counters row (the triggers made one for the mailing above).
  await client`
    insert into mailing_counts (mailing_id, count_queued) select id, 1 from mailings where id like ${`${mailing}_%`}
      on conflict (mailing_id) do nothing`;
  await client`analyze notifications, email_suppressions, schedules, accounts, mailbox_events, mailings, mailing_recipients, mailing_counts`;
  await client`load 'auto_explain'`;
  await client`set auto_explain.log_min_duration = 0`;
  await client`set auto_explain.log_format = 'json'`;
  await client`set auto_explain.log_level = 'notice'`;
}, 120_000);

/** Runs `query` and returns the plan nodes of the statements PostgreSQL executed for it. */
async function plannedBy(query: () => Promise<unknown>): Promise<PlanNode[]> {
  notices.length = 0;
  await query();
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode): void => {
    nodes.push(node);
    node.Plans?.forEach(walk);
  };
  for (const notice of notices) {
    const json = notice.slice(notice.indexOf('{'));
    walk((JSON.parse(json) as { Plan: PlanNode }).Plan);
  }
  expect(nodes.length).toBeGreaterThan(0);
  return nodes;
}

/** Reads `index` in the list's order: no sequential scan, no sort. Returns the index scan node. */
async function expectIndexOrder(query: () => Promise<unknown>, index: string): Promise<PlanNode> {
  const nodes = await plannedBy(query);
  expect(nodes.map((n) => n['Node Type'])).not.toContain('Seq Scan');
  expect(nodes.map((n) => n['Node Type'])).not.toContain('Sort');
  expect(nodes.map((n) => n['Node Type'])).not.toContain('Incremental Sort');
  const scan = nodes.find((n) => n['Index Name'] === index);
  expect(scan, `${index} in ${JSON.stringify(nodes.map((n) => [n['Node Type'], n['Index Name']]))}`).toBeDefined();
  return scan!;
}

describe('list queries read an index in their sort order', () => {
  it('GET /v1/notifications, unfiltered and with each indexed filter, from the first page and from a cursor', async () => {
    const first = await listNotifications(db, owner, {}, 50);
    const after = first.next!;
    await expectIndexOrder(() => listNotifications(db, owner, {}, 50), 'notifications_owner_created_idx');
    // The cursor is an index condition: a deep page starts at the cursor instead of reading every row before it.
    const paged = await expectIndexOrder(() => listNotifications(db, owner, {}, 50, after), 'notifications_owner_created_idx');
    expect(paged['Index Cond']).toContain('created_at');
    await expectIndexOrder(() => listNotifications(db, owner, { status: 'FAILED' }, 50, after), 'notifications_owner_status_created_idx');
    await expectIndexOrder(() => listNotifications(db, owner, { userId: 'u7' }, 50, after), 'notifications_owner_user_created_idx');
    const correlated = await expectIndexOrder(
      () => listNotifications(db, owner, { correlationId: 'c3' }, 200, after),
      'notifications_owner_correlation_created_idx',
    );
    expect(correlated['Index Cond']).toContain('created_at');
    // The console's filters: a template, an address, the late ones (a partial index: they are few).
    await expectIndexOrder(() => listNotifications(db, owner, { templateId: 'T7' }, 50, after), 'notifications_owner_template_created_idx');
    await expectIndexOrder(() => listNotifications(db, owner, { recipient: 'x2@example.com' }, 50, after), 'notifications_owner_recipient_created_idx');
    await expectIndexOrder(() => listNotifications(db, owner, { late: true }, 50), 'notifications_owner_late_created_idx');
    // Priority and channel have a handful of values: the owner's index in list order, filtered, is enough.
    await expectIndexOrder(() => listNotifications(db, owner, { priority: 'low', channel: 'EMAIL' }, 50), 'notifications_owner_created_idx');
  });

  it('GET /v1/suppressions, GET /v1/schedules, GET /v1/accounts and the account event stream', async () => {
    const first = await listSuppressions(db, owner, 50);
    const scan = await expectIndexOrder(() => listSuppressions(db, owner, 50, first.next!), 'email_suppressions_owner_created_idx');
    expect(scan['Index Cond']).toContain('created_at');
    const deps = { db } as ScheduleDeps;
    await expectIndexOrder(() => listSchedules(deps, owner, { view: 'all', status: 'PAUSED', limit: 50 }), 'schedules_owner_status_idx');
    await expectIndexOrder(() => listSchedules(deps, owner, { view: 'active', limit: 50 }), 'schedules_owner_idx');
    await expectIndexOrder(() => listAccounts(db, owner, { limit: 50, cursor: `acc_${owner}_04000` }), 'accounts_owner_id_idx');
    await expectIndexOrder(() => eventsAfter(db, account, 0, 100), 'mailbox_events_account_seq_idx');
  });

  it('GET /v1/mailings and /v1/mailings/{id}/recipients (lib/mailings/service.ts)', async () => {
    // The page with each mailing's progress, in one statement.
    await expectIndexOrder(() => listMailings(db, owner, 50), 'mailings_owner_created_idx');
    const recipients = (status?: 'FAILED') => listRecipients(db, owner, `${mailing}_${owner}_1`, { cursor: 5000, limit: 100, status });
    await expectIndexOrder(() => recipients(), 'mailing_recipients_mailing_id_row_number_pk');
    await expectIndexOrder(() => recipients('FAILED'), 'mailing_recipients_status_idx');
  });
});

describe('cursor paging through runs of equal created_at', () => {
  it('returns every notification and suppression exactly once, in list order', async () => {
    // Four notifications and three suppressions share each created_at, microseconds included: a page that
    // ends inside such a run must resume inside it.
    const ids: string[] = [];
    let after: Awaited<ReturnType<typeof listNotifications>>['next'] | undefined;
    do {
      const page = await listNotifications(db, owner, {}, 150, after ?? undefined);
      ids.push(...page.rows.map((r) => r.id));
      after = page.next;
    } while (after);
    expect(ids).toHaveLength(20_000);
    expect(new Set(ids).size).toBe(20_000);

    const addresses: string[] = [];
    let next: Awaited<ReturnType<typeof listSuppressions>>['next'] | undefined;
    do {
      const page = await listSuppressions(db, owner, 37, next ?? undefined);
      addresses.push(...page.rows.map((r) => r.address));
      next = page.next;
    } while (next);
    expect(addresses).toHaveLength(5000);
    expect(new Set(addresses).size).toBe(5000);
  });
});
