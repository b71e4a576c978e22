// A Temporal client for activities that start or steer other workflows (schedule firings, tenant state,
// batch retries). One per process, connected on first use, so a worker that never needs it opens nothing.
import { Client, Connection } from '@temporalio/client';
import type { ActivityDeps } from '../activities/deps.js';

const clients = new WeakMap<ActivityDeps, Client>();

export function clientFor(deps: ActivityDeps): Client {
  let client = clients.get(deps);
  if (!client) {
    client = new Client({ connection: Connection.lazy({ address: deps.config.TEMPORAL_ADDRESS }), namespace: deps.config.TEMPORAL_NAMESPACE });
    clients.set(deps, client);
  }
  return client;
}
