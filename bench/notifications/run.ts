// Notification benchmarks against the running stack (npm start), each figure printed beside its limit
// measured in the same run:
//   admission — open loop at BENCH_RATE (100)/s for BENCH_SECONDS (60) while the workers drain a backlog,
//               latency from each request's due time; the limit: a bare Hono route doing the same write;
//   drain     — notifications completed per second; the limit: the dev server completing an empty workflow
//               with one no-op activity (BENCH_BACKLOG, BENCH_MEASURE_SECONDS);
//   day       — seed 001's mix at its own rates for BENCH_DAY_MINUTES (10) with a burst of BENCH_BURST (5,000)
//               MEDIUM in one second: deadlines missed, critical end-to-end p99;
//   burst     — that burst as 5,000 single requests and as 50 bulk calls of 100 on top of the day's stream,
//               answer times from due time; the limits: a bare Hono route, one unnest statement;
//   console   — the console's read routes (list per filter, counts, detail, overview) over 1,000,000 generated
//               notifications at 20/s open loop; the limit: the same SQL run bare through postgres.js.
// Usage: npx tsx bench/notifications/run.ts [admission|drain|day|burst|console|all]   (all: admission, then drain)
import { admissionBench } from './admission.js';
import { burstBench } from './burst.js';
import { consoleBench } from './console.js';
import { dayBench } from './day.js';
import { drainBench } from './drain.js';
import { closeStack } from './stack.js';

const which = process.argv[2] ?? 'all';
if (which === 'admission' || which === 'all') await admissionBench();
if (which === 'drain' || which === 'all') await drainBench();
if (which === 'day') await dayBench();
if (which === 'burst') await burstBench();
if (which === 'console') await consoleBench();
await closeStack();
process.exit(0);
