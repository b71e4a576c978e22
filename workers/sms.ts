// The sms channel's send workers on their own (docker-compose scales each channel independently).
import { main } from './run.js';

await main(['sms']);
