// Worker roles chosen by WORKER_ROLES ("all", or e.g. "delivery,mailing").
import { main } from './run.js';

await main();
