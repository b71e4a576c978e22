// `npm run services -- [stack|test]`: start (or find) the backing services and hold them until Ctrl-C.
// Handy while developing: test runs and `npm start` reuse services that are already up.
import { ensureServices, profiles } from './index.js';

const name = (process.argv[2] ?? 'stack') as keyof typeof profiles;
const profile = profiles[name];
if (!profile) {
  console.error(`unknown profile ${name}: expected ${Object.keys(profiles).join(' or ')}`);
  process.exit(2);
}
const services = await ensureServices(profile);
console.log(
  JSON.stringify(
    {
      profile: name,
      TEMPORAL_ADDRESS: services.temporalAddress,
      TEMPORAL_UI: services.temporalUiUrl,
      DATABASE_URL: services.databaseUrl,
      ELASTICSEARCH_URL: services.elasticsearchUrl ?? null,
      IMAP: services.imap
        ? { host: services.imap.host, ...services.imap.ports, caFile: services.imap.caFile, passwdDir: services.imap.passwdDir }
        : (services.imapNote ?? null),
      started: services.startedSummary,
    },
    null,
    2,
  ),
);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  services.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
