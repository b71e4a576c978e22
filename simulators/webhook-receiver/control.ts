// The receiver's control API beside the frame's (/_control/ledger?endpoint=<name>, /_control/faults,
// /_control/reset): per endpoint name, its secrets, its own faults, and the events it accepted.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Ledger } from '../lib/ledger.js';
import { jsonControl } from '../lib/server.js';
import type { Endpoints } from './endpoints.js';
import { acceptedEvents, type ReceivedWebhook } from './received.js';

const secretsSchema = z.object({ secrets: z.array(z.string().min(1)).max(10) });

export function controlRoutes(app: Hono, ledger: Ledger<ReceivedWebhook>, endpoints: Endpoints): void {
  app.put(
    '/_control/endpoints/:name/secrets',
    jsonControl('secrets', (body, c) => {
      const name = c.req.param('name') ?? '';
      endpoints.setSecrets(name, secretsSchema.parse(body).secrets);
      return { endpoint: name, secrets: endpoints.secretCount(name) };
    }),
  );
  app.get('/_control/endpoints/:name/faults', (c) => c.json(endpoints.faults(c.req.param('name')).faults));
  app.put(
    '/_control/endpoints/:name/faults',
    jsonControl('faults', (patch, c) => endpoints.faults(c.req.param('name') ?? '').set(patch)),
  );
  app.get('/_control/endpoints/:name/events', (c) => {
    const name = c.req.param('name');
    return c.json(acceptedEvents(ledger.all().filter((e) => e.endpoint === name)));
  });
}
