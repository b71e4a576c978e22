// Runs the mailbox-sync property test (test/integration/mailbox-sync-property.test.ts) over many seeds, or
// replays one: `npx tsx scripts/sync-property.ts --seeds 200 [--first 1000] [--messages 300] [--actions 40] [--provider outlook|imap|both]`,
// `npx tsx scripts/sync-property.ts --seed 1234`. Uses the same test services as `npm test`.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '200' },
    first: { type: 'string', default: '1' },
    seed: { type: 'string' },
    messages: { type: 'string' },
    actions: { type: 'string' },
    provider: { type: 'string', default: 'both' },
  },
});
const number = (name: string, value: string | undefined) => {
  if (value !== undefined && !/^\d+$/.test(value)) {
    console.error(`--${name} must be a whole number, not ${value}`);
    process.exit(2);
  }
  return value;
};
const env: Record<string, string | undefined> = {
  ...process.env,
  SYNC_PROPERTY_SEEDS: number('seeds', values.seeds),
  SYNC_PROPERTY_FIRST: number('first', values.first),
  SYNC_PROPERTY_SEED: number('seed', values.seed),
  SYNC_PROPERTY_MESSAGES: number('messages', values.messages),
  SYNC_PROPERTY_ACTIONS: number('actions', values.actions),
  SYNC_PROPERTY_PROVIDER: values.provider,
};
const child = spawn('npx', ['vitest', 'run', 'test/integration/mailbox-sync-property.test.ts'], { stdio: 'inherit', env });
child.on('exit', (code) => process.exit(code ?? 1));
