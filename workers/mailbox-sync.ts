// The sync worker role on its own (docker-compose scales it independently).
import { main } from './run.js';

await main(['mailbox-sync']);
