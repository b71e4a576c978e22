// Which task queues each worker role polls. A role is a unit of scaling: docker-compose runs each as
// its own service, and `all` runs every role in one process for development.
import type { ActivityDeps } from '../activities/deps.js';
import { createPlatformActivities } from '../activities/platform.js';
import { PLATFORM_QUEUE, taskQueue } from '../lib/temporal/task-queues.js';
import { formerRoleNames, roles, type Role } from './role-names.js';
import type { BackgroundService, WorkerSpec } from './worker-spec.js';

export { roles, type Role, type WorkerSpec };

type SpecFactory = (deps: ActivityDeps) => WorkerSpec[];

// Loaded when the role is selected: a process running one role does not hold the others' code and
// libraries in memory (about 50 MB less for a mailing-only worker).
const roleSpecs: Record<Role, () => Promise<SpecFactory>> = {
  // Schedule firings admit notifications: they scale with the notification workflows.
  delivery: async () => {
    const [{ deliverySpecs, retrySpecs }, { scheduleSpecs }] = await Promise.all([import('./notifications-workers.js'), import('./schedules-workers.js')]);
    return (deps) => [...deliverySpecs(deps), ...retrySpecs(deps), ...scheduleSpecs(deps)];
  },
  email: async () => (await import('./notifications-workers.js')).channelSpecs('EMAIL'),
  sms: async () => (await import('./notifications-workers.js')).channelSpecs('SMS'),
  push: async () => (await import('./notifications-workers.js')).channelSpecs('PUSH'),
  mailings: async () => (await import('./mailings-workers.js')).mailingSpecs,
  'mailbox-sync': async () => (await import('./mailbox-sync-workers.js')).mailboxSyncSpecs,
  webhooks: async () => (await import('./webhooks-workers.js')).webhookSpecs,
};

/** Every role process also answers the platform check, so any single role proves its own health. */
const platformSpec: SpecFactory = (deps) => [
  {
    taskQueue: taskQueue(deps.config, PLATFORM_QUEUE),
    workflows: true,
    activities: createPlatformActivities(deps),
    maxConcurrentActivityTaskExecutions: 4,
  },
];

export function parseRoles(value: string): Role[] {
  if (value.trim() === 'all') return [...roles];
  const names = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => formerRoleNames[r] ?? r);
  const unknown = names.filter((name) => !(roles as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`WORKER_ROLES: unknown role(s) ${unknown.join(', ') || '(none)'}; expected "all" or a list of ${roles.join(', ')}`);
  }
  return names as Role[];
}

export async function workerSpecs(selected: Role[], deps: ActivityDeps): Promise<WorkerSpec[]> {
  const factories = await Promise.all(selected.map((role) => roleSpecs[role]()));
  return [...platformSpec(deps), ...factories.flatMap((specs) => specs(deps))];
}

/** What the selected roles run beside their workers: the IMAP IDLE watcher for mailbox sync, the webhook projector. */
export async function startBackgroundServices(selected: Role[], deps: ActivityDeps): Promise<BackgroundService[]> {
  const services: BackgroundService[] = [];
  if (selected.includes('mailbox-sync')) {
    const { imapWatcherService } = await import('./mailbox-sync-workers.js');
    const watcher = await imapWatcherService(deps);
    if (watcher) services.push(watcher);
  }
  if (selected.includes('webhooks')) services.push(await (await import('./webhooks-workers.js')).webhookProjectorService(deps));
  return services;
}
