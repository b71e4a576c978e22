// Worker specs for CSV mailings: the mailing workflows and their bookkeeping on one queue, and the
// provider sends on their own queue whose rate limit the Temporal server enforces for every worker
// together (maxTaskQueueActivitiesPerSecond), so adding workers never exceeds the provider's limit.
import { createMailingActivities } from '../activities/mailings.js';
import type { ActivityDeps } from '../activities/deps.js';
import { ProviderUnavailableError, type MailingProvider } from '../lib/mailings/provider.js';
import { Seed004Provider } from '../lib/mailings/seed004-provider.js';
import { mailingSendQueue, mailingWorkflowQueue } from '../lib/mailings/start-workflow.js';
import type { WorkerSpec } from './roles.js';

function providerFor(deps: ActivityDeps): () => MailingProvider {
  const { SEED004_API_URL: apiUrl, SEED004_USERNAME: username, SEED004_PASSWORD: password, SEED004_TIMEOUT_MS: timeoutMs } = deps.config;
  if (!apiUrl || !username || !password) {
    return () => ({ name: 'none', send: () => Promise.reject(new ProviderUnavailableError('no mailing provider is configured (set SEED004_API_URL, SEED004_USERNAME, SEED004_PASSWORD)', 'not-sent')) });
  }
  const provider = new Seed004Provider({ apiUrl, username, password, timeoutMs, secrets: deps.secrets });
  return () => provider;
}

export const SEND_RATE_MARGIN = 0.95;

export function mailingSpecs(deps: ActivityDeps): WorkerSpec[] {
  const a = createMailingActivities(deps, providerFor(deps));
  return [
    {
      taskQueue: mailingWorkflowQueue(deps.config), workflows: true, maxConcurrentActivityTaskExecutions: 4,
      activities: {
        parseMailing: a.parseMailing.bind(a), sliceRecipients: a.sliceRecipients.bind(a),
        setMailingStatus: a.setMailingStatus.bind(a), cancelUnsent: a.cancelUnsent.bind(a),
      },
    },
    {
      taskQueue: mailingSendQueue(deps.config), workflows: false,
      activities: { sendToRecipient: a.sendToRecipient.bind(a) },
      // 95% of the provider's limit: the time from dispatch to the request reaching the provider varies by
      // a few hundred milliseconds, and without the margin two requests can land inside one window (a 429
      // that costs a whole slot). One per 10.5 s against "1 per 10 s".
      maxTaskQueueActivitiesPerSecond: deps.config.SEED004_RATE_PER_SECOND * SEND_RATE_MARGIN,
      maxConcurrentActivityTaskExecutions: 10,
    },
  ];
}
