// Worker specs for CSV mailings: the mailing workflows and their bookkeeping on one queue, and the
// provider sends on their own queue. Every request to the provider first takes a slot and passes the gate of
// one pacer in PostgreSQL shared by every worker (lib/pacing/gcra.ts), so adding workers never exceeds the
// provider's limit.
import { createMailingActivities } from '../activities/mailings.js';
import type { ActivityDeps } from '../activities/deps.js';
import { countingSendOutcomes } from '../lib/mailings/metrics.js';
import { ProviderUnavailableError, type MailingProvider } from '../lib/mailings/provider.js';
import { Seed004Provider } from '../lib/mailings/seed004-provider.js';
import { mailingSendQueue, mailingWorkflowQueue } from '../lib/mailings/start-workflow.js';
import { GcraPacer } from '../lib/pacing/gcra.js';
import type { WorkerSpec } from './worker-spec.js';

function providerFor(deps: ActivityDeps): () => MailingProvider {
  const { SEED004_API_URL: apiUrl, SEED004_USERNAME: username, SEED004_PASSWORD: password, SEED004_TIMEOUT_MS: timeoutMs } = deps.config;
  if (!apiUrl || !username || !password) {
    return () => ({
      name: 'none',
      send: () =>
        Promise.reject(new ProviderUnavailableError('no mailing provider is configured (set SEED004_API_URL, SEED004_USERNAME, SEED004_PASSWORD)', 'not-sent')),
    });
  }
  const provider = new Seed004Provider({
    apiUrl,
    username,
    password,
    timeoutMs,
    secrets: deps.secrets,
    paceTokenRequests: deps.config.SEED004_PACE_TOKEN_REQUESTS,
  });
  return () => provider;
}

/** One pacer per provider account: every worker of the fleet reserving on the same row. */
function pacerFor(deps: ActivityDeps): GcraPacer | undefined {
  const {
    SEED004_API_URL: apiUrl,
    SEED004_USERNAME: username,
    SEED004_RATE_PER_SECOND: rate,
    SEED004_RATE_WINDOW_SECONDS: window,
    SEED004_PACING_MARGIN_MS: marginMs,
    SEED004_TIMEOUT_MS: requestTimeoutMs,
  } = deps.config;
  if (!apiUrl || !username) return undefined;
  return new GcraPacer(
    deps.db,
    `seed004:${apiUrl}:${username}`,
    { requests: Math.max(1, rate * window), windowMs: window * 1000, marginMs },
    { requestTimeoutMs },
  );
}

export function mailingSpecs(deps: ActivityDeps): WorkerSpec[] {
  const a = createMailingActivities(deps, providerFor(deps), pacerFor(deps));
  return [
    {
      taskQueue: mailingWorkflowQueue(deps.config),
      workflows: true,
      maxConcurrentActivityTaskExecutions: 4,
      activities: {
        parseMailing: a.parseMailing.bind(a),
        sliceRecipients: a.sliceRecipients.bind(a),
        setMailingStatus: a.setMailingStatus.bind(a),
        cancelUnsent: a.cancelUnsent.bind(a),
      },
    },
    {
      taskQueue: mailingSendQueue(deps.config),
      workflows: false,
      activities: { sendToRecipient: countingSendOutcomes(a.sendToRecipient.bind(a)) },
      // Sends mostly sleep until their slot: enough of them at once that the pacer, not the slots, sets the pace.
      maxConcurrentActivityTaskExecutions: 32,
    },
  ];
}
