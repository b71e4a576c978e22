// Which connection pool a notification request uses: CRITICAL ones have the API's small pool of their own
// (DATABASE_CRITICAL_POOL_SIZE), so a burst of other priorities queued for the main pool never delays one.
import type { Database } from '../../db/client.js';
import type { Priority } from '../../lib/notifications/start-workflow.js';
import type { AppDeps } from '../context.js';

export function databaseFor(deps: Pick<AppDeps, 'db' | 'criticalDb'>, priority: Priority): Database {
  return priority === 'critical' ? deps.criticalDb : deps.db;
}
