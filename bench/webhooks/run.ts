// Outbound webhook benchmarks against the running stack (npm start), each figure beside its limit measured in
// the same run; the receiver is a bare node:http server in a process of its own (bench/webhooks/receiver.ts):
//   throughput  — BENCH_EVENTS (20,000) notification events over BENCH_LANES (64) lanes, from the outbox
//                 commit until the receiver has counted them all; the limit: a bare client posting signed
//                 bodies of the same size over as many keep-alive connections as an endpoint's lanes;
//   propagation — BENCH_ACTIONS (40) Outlook simulator actions (a new message in the inbox, a move) in a
//                 linked mailbox with push, one at a time: the action's answer to its webhook's arrival,
//                 p50/p95/p99 beside the limit 2 s.
// Usage: npx tsx bench/webhooks/run.ts [throughput|propagation|all]   (DATABASE_URL: the stack's database;
// OUTLOOK_SIM_URL: its Outlook simulator)
import { propagationBench } from './propagation.js';
import { database } from './stack.js';
import { throughputBench } from './throughput.js';

const which = process.argv[2] ?? 'all';
if (!['throughput', 'propagation', 'all'].includes(which)) throw new Error(`unknown mode ${which}: expected throughput, propagation or all`);
if (which === 'throughput' || which === 'all') await throughputBench();
if (which === 'propagation' || which === 'all') await propagationBench();
await database.end({ timeout: 1 });
process.exit(0);
