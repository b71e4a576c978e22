// Every worker role in one process, for development and the one-command stack.
import { roles } from './roles.js';
import { main } from './run.js';

await main([...roles]);
