// The API, the provider simulators and the delivery and email worker roles, in this process: what the
// schedule and tenant tests fire notifications through.
import { startTestApi, type TestApi } from './api.js';
import { testConfig, unique } from './config.js';
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
export const useDeliveryRig = (queuePrefix: string): DeliveryRig => useRig(() => startDeliveryRig(queuePrefix), 60_000);

/** `queuePrefix` names the run's task queues; the user rate limit is raised so firings are not refused. */
export async function startDeliveryRig(queuePrefix: string): Promise<DeliveryRig> {
  const env: Record<string, string> = { TASK_QUEUE_PREFIX: `${unique(queuePrefix)}-`, RATE_LIMIT_USER_COUNT: '1000' };
  const api = await startTestApi(env);
  let sims: ProviderSimulators | undefined;
  let workers: RunningWorkers | undefined;
  try {
    sims = await startProviderSimulators({});
    workers = await startRoleWorkers(testConfig({ ...env, ...sims.env }), ['delivery', 'email']);
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
      workers ??= await startRoleWorkers(config, ['delivery', 'email']);
    },
    async close() {
      await workers?.stop();
      await sims?.close();
      await api.close();
    },
  };
}
