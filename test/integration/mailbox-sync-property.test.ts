// Mailbox sync as a property: for each seed, a random sequence of user actions and Graph faults during and
// after an initial sync, then the index must equal the simulator's mailbox (test/helpers/sync-property.ts).
// A few small seeds here; `npx tsx scripts/sync-property.ts --seeds 200` runs many. A failure names its seed:
// `npx tsx scripts/sync-property.ts --seed <n>` replays the same actions.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { imapTestEnv } from '../helpers/imap.js';
import { startSyncRig, type SyncRig } from '../helpers/mailbox-sync.js';
import { runSyncScenario, type ScenarioOptions } from '../helpers/sync-property.js';
import { runImapSyncScenario } from '../helpers/sync-property-imap.js';

/** SYNC_PROPERTY_SEED: one seed; SYNC_PROPERTY_SEEDS: how many, from SYNC_PROPERTY_FIRST (1). */
function seeds(): number[] {
  const one = process.env.SYNC_PROPERTY_SEED;
  if (one) return [Number(one)];
  const first = Number(process.env.SYNC_PROPERTY_FIRST ?? 1);
  return Array.from({ length: Number(process.env.SYNC_PROPERTY_SEEDS ?? 3) }, (_, i) => first + i);
}
const options: ScenarioOptions = {
  messages: Number(process.env.SYNC_PROPERTY_MESSAGES ?? 300),
  actions: Number(process.env.SYNC_PROPERTY_ACTIONS ?? 40),
};

/** SYNC_PROPERTY_PROVIDER: outlook, imap, or both (the default). */
const providers = (process.env.SYNC_PROPERTY_PROVIDER ?? 'both').split(',').flatMap((p) => (p === 'both' ? ['outlook', 'imap'] : [p]));

let rig: SyncRig;
beforeAll(async () => {
  // Push on, with a short safety poll: a dropped notification is healed by it. IMAP's watch checks every
  // folder each half second, and its safety poll is as short.
  rig = await startSyncRig({
    workers: false,
    env: {
      SYNC_POLL_INTERVAL_SECONDS: '1',
      SYNC_PUSH_POLL_INTERVAL_SECONDS: '3',
      ...imapTestEnv(),
      IMAP_FOLDER_CHECK_SECONDS: '0.5',
      IMAP_WATCHED_POLL_INTERVAL_SECONDS: '3',
    },
  });
  await rig.startWorkers({ GRAPH_NOTIFICATION_URL: `${rig.api.url}/v1/webhooks/graph` });
}, 60_000);
afterAll(async () => {
  await rig?.close();
});

/** Each provider's scenario, how its failure names the seed, and the replay command's provider flag. */
const scenarios = [
  { provider: 'outlook', title: 'Outlook', run: runSyncScenario, seedLabel: 'seed', replayFlags: '' },
  { provider: 'imap', title: 'IMAP on Dovecot', run: runImapSyncScenario, seedLabel: 'IMAP seed', replayFlags: '--provider imap ' },
];

for (const { provider, title, run, seedLabel, replayFlags } of scenarios) {
  describe.runIf(providers.includes(provider))(`mailbox sync under random actions and faults (${title})`, () => {
    for (const seed of seeds()) {
      it(`ends with the index equal to the mailbox (seed ${seed})`, async () => {
        const steps: string[] = [];
        try {
          await run(rig, seed, options, (line) => steps.push(line));
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          throw new Error(
            `${seedLabel} ${seed} (${options.messages} messages, ${options.actions} actions) failed: ${message}\n` +
              `replay: npx tsx scripts/sync-property.ts ${replayFlags}--seed ${seed} --messages ${options.messages} --actions ${options.actions}\n` +
              `steps:\n  ${steps.join('\n  ')}`,
          );
        }
      }, 240_000);
    }
  });
}
