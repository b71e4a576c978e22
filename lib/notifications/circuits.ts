// The email failover's circuit breaker lives in each worker's memory; the overview reads it from here. Each
// process records its own state on every change (and closed at start), keyed by the process.
import { hostname } from 'node:os';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Logger } from '../logger.js';
import { CircuitState, FailoverProvider, type NotificationProvider } from './providers/index.js';

const stateNames: Record<CircuitState, string> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

const worker = `${hostname()}:${process.pid}`;

async function record(db: Database, provider: string, state: string): Promise<void> {
  await db.execute(sql`
    insert into provider_circuits (worker, provider, state, changed_at) values (${worker}, ${provider}, ${state}, now())
    on conflict (worker, provider) do update set state = excluded.state, changed_at = excluded.changed_at`);
}

/** Records a failover provider's circuit now and on every change; other providers have no circuit. */
export function reportCircuit(db: Database, provider: NotificationProvider, logger: Logger): void {
  if (!(provider instanceof FailoverProvider)) return;
  const save = (state: CircuitState) =>
    void record(db, provider.name, stateNames[state]).catch((err: unknown) =>
      logger.warn({ err, provider: provider.name }, 'could not record the circuit state'),
    );
  save(provider.breaker.state);
  provider.breaker.onStateChange(save);
}
