// Every worker role in one process, for development and the one-command stack.
import { main } from './run.js';

await main(['delivery', 'mailing', 'sync']);
