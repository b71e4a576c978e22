// The admission benchmark's limit: a bare Hono route on the same Node.js server, doing the same database
// write as admission (the notification row and its history row, one statement, pool of 10) and nothing
// else: no key lookup, no template, no locks, no rate limits, no outbox. Run as its own process by the
// bench: BARE_PORT, DATABASE_URL.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import postgres from 'postgres';
import { z } from 'zod';
import { newId } from '../../lib/ids.js';

const sql = postgres(process.env.DATABASE_URL ?? 'postgres://mailflow@127.0.0.1:5433/mailflow', { max: 10, onnotice: () => {} });
const body = z.object({ userId: z.string(), to: z.string(), correlationId: z.string() });
const app = new Hono();
app.post('/bare', async (c) => {
  const parsed = body.safeParse(await c.req.json());
  if (!parsed.success) return c.json({ error: 'bad request' }, 400);
  const id = newId('ntf');
  const now = new Date();
  await sql`
    with ins as (
      insert into notifications (id, owner, user_id, channel, priority, recipient, recipients, body, content_sealed, correlation_id, workflow_id, deadline_at, created_at)
      values (${id}, 'bench-bare', ${parsed.data.userId}, 'SMS', 'medium', ${parsed.data.to}, ${[parsed.data.to]}, '', 'x', ${parsed.data.correlationId},
              ${`notification-${id}`}, ${new Date(now.getTime() + 900_000)}, ${now})
      returning id
    )
    insert into notification_status_history (notification_id, from_status, to_status, reason, at)
    select id, null, 'PENDING', 'accepted', ${now} from ins`;
  return c.json({ id }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.BARE_PORT ?? 3999), hostname: '127.0.0.1' }, () => console.log('bare route listening'));
