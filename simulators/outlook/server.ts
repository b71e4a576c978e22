// A local stand-in for the Microsoft identity platform (authorize + token, as MSAL uses them) and the
// Graph mail API (folders, per-folder message delta, folder delta, throttling, subscriptions with change
// notifications pushed to webhooks), with a control API under /_control. Links it emits use Graph's
// canonical origin; the engine rewrites the origin to this server.
import { Hono } from 'hono';
import { listen, type RunningSimulator } from '../lib/server.js';
import type { OutlookSimulatorOptions } from './config.js';
import { createContext } from './context.js';
import { subscriptionControlRoutes } from './control-subscriptions.js';
import { controlRoutes } from './control.js';
import { graphRoutes } from './graph.js';
import { identityRoutes } from './identity.js';

export type { ConfigPatch, NotificationSettings, OutlookSimulatorOptions, RequestRecord, RuntimeConfig, StatsView } from './config.js';
export type { OutlookAction } from './control.js';
export type { ChangeType, LifecycleEvent, NotificationRecord, SubscriptionView } from './subscriptions.js';
export { TENANT_ID } from './grants.js';

export interface RunningOutlookSimulator extends RunningSimulator {
  /** The origin of the links in Graph responses (https://graph.microsoft.com unless configured). */
  graphOrigin: string;
}

export async function startOutlookSimulator(options: OutlookSimulatorOptions = {}): Promise<RunningOutlookSimulator> {
  const ctx = createContext(options);
  const app = new Hono();
  controlRoutes(app, ctx);
  subscriptionControlRoutes(app, ctx);
  graphRoutes(app, ctx);
  identityRoutes(app, ctx);
  app.get('/health', (c) => c.json({ status: 'ok' }));
  const running = await listen(app, options.port, options.host);
  return {
    ...running,
    graphOrigin: ctx.graphOrigin,
    // Pending deliveries and retries end with the server.
    close: async () => {
      ctx.notifier.stop();
      await running.close();
    },
  };
}
