// Stopping and starting the services the scripts manage keeps their data: Temporal history (SQLite
// file) and PostgreSQL rows (cluster directory).
import { platformCheck } from '../../workflows/platform-check.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { Client, Connection } from '@temporalio/client';
import { ensurePostgres } from '../../scripts/services/postgres.js';
import { ensureTemporal } from '../../scripts/services/temporal.js';
import { repoRoot } from '../../scripts/services/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mailflow-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
// The suite's own services run on 17233/15433; these get ports of their own.
const env = { ...process.env, TEMPORAL_ADDRESS: undefined, DATABASE_URL: undefined };

describe('service restarts keep data', () => {
  it('PostgreSQL rows survive a stop and start', async () => {
    const options = { dataDir, port: 25433, database: 'restart', env };
    const first = await ensurePostgres(options);
    expect(first.started).toBe(true);
    let sql = postgres(first.url, { max: 1, onnotice: () => {} });
    await sql`create table kept (v text)`;
    await sql`insert into kept values ('still here')`;
    await sql.end();
    await first.stop();

    const second = await ensurePostgres(options);
    sql = postgres(second.url, { max: 1 });
    const rows = await sql`select v from kept`;
    await sql.end();
    await second.stop();
    expect(rows.map((r) => String(r.v))).toEqual(['still here']);
  }, 120_000);

  it('Temporal history survives a stop and start', async () => {
    const options = { root: repoRoot, dataDir, port: 27233, uiPort: 28233, persistent: true, env };
    const first = await ensureTemporal(options);
    expect(first.started).toBe(true);
    let connection = await Connection.connect({ address: first.address });
    const handle = await new Client({ connection }).workflow.start(platformCheck, {
      taskQueue: 'nobody-polls-this',
      workflowId: 'kept-across-restarts',
      args: [{ requestedBy: 'test' }],
    });
    await handle.terminate('only its history matters');
    await connection.close();
    await first.stop();

    const second = await ensureTemporal(options);
    connection = await Connection.connect({ address: second.address });
    const description = await new Client({ connection }).workflow.getHandle('kept-across-restarts').describe();
    await connection.close();
    await second.stop();
    expect(description.status.name).toBe('TERMINATED');
  }, 180_000);
});
