// The API, the provider simulators and the delivery worker roles, in this process: what the schedule and
// tenant tests fire notifications through, and the notification tests send them through.
import type { Role } from '../../workers/roles.js';
import { startTestApi, type TestApi } from './api.js';
import { testConfig, unique } from './config.js';
import { WEBHOOK_SIGNING_KEY } from './notifications.js';
import { startProviderSimulators, type ProviderSimulators } from './simulators.js';
import { useRig } from './rig.js';
import { startRoleWorkers, type RunningWorkers } from './workers.js';

export interface DeliveryRig {
  api: TestApi;
  sims: ProviderSimulators;
  /** Every worker gone (a fleet outage), and back. */
  stopWorkers(): Promise<void>;
  startWorkers(): Promise<void>;
  close(): Promise<void>;
}

/** The file's one rig: started before its first test, closed after its last. */
export const useDeliveryRig = (queuePrefix: string, options: DeliveryRigOptions = {}): DeliveryRig =>
  useRig(() => startDeliveryRig(queuePrefix, options), 60_000);

export interface DeliveryRigOptions {
  /** Settings beside the queue prefix and the raised user rate limit. */
  env?: Record<string, string>;
  /** The worker roles: delivery and email unless given. */
  roles?: Role[];
  /** The simulators sign their webhooks with WEBHOOK_SIGNING_KEY and send them to this API, which checks them. */
  webhooks?: boolean;
}

/** `queuePrefix` names the run's task queues; the user rate limit is raised so firings are not refused. */
export async function startDeliveryRig(queuePrefix: string, options: DeliveryRigOptions = {}): Promise<DeliveryRig> {
  const roles = options.roles ?? ['delivery', 'email'];
  const env: Record<string, string> = {
    TASK_QUEUE_PREFIX: `${unique(queuePrefix)}-`,
    RATE_LIMIT_USER_COUNT: '1000',
    ...(options.webhooks ? { MAILGUN_WEBHOOK_SIGNING_KEY: WEBHOOK_SIGNING_KEY } : {}),
    ...options.env,
  };
  const api = await startTestApi(env);
  let sims: ProviderSimulators | undefined;
  let workers: RunningWorkers | undefined;
  try {
    sims = await startProviderSimulators(options.webhooks ? { webhookUrl: `${api.url}/v1/webhooks/mailgun`, webhookSigningKey: WEBHOOK_SIGNING_KEY } : {});
    workers = await startRoleWorkers(testConfig({ ...env, ...sims.env }), roles);
  } catch (error) {
    await sims?.close();
    await api.close();
    throw error;
  }
  const config = testConfig({ ...env, ...sims.env });
  return {
    api,
    sims,
    async stopWorkers() {
      await workers?.stop();
      workers = undefined;
    },
    async startWorkers() {
      workers ??= await startRoleWorkers(config, roles);
    },
    async close() {
      await workers?.stop();
      await sims?.close();
      await api.close();
    },
  };
}
