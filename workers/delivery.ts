// The delivery worker role on its own: notification workflows (docker-compose scales it independently).
import { main } from './run.js';

await main(['delivery']);
