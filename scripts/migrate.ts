// `npm run db:migrate`: apply migrations to DATABASE_URL (the API and workers also do this at boot).
import { runMigrations } from '../db/migrate.js';
import { loadConfigOrExit } from '../lib/config.js';

const config = loadConfigOrExit();
await runMigrations(config.DATABASE_URL);
console.log('migrations applied');
