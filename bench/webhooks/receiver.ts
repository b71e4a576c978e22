// The fast receiver the webhook benches post to: a bare node:http server answering 204, in a process of its
// own (forked by bench/webhooks/run.ts, told what to watch over IPC) so that its work competes neither with
// the bare client nor with the bench. It answers first, then counts: distinct webhook-ids, duplicates (at
// least once allows them), and events that overtook an earlier one of their lane (never allowed).
import http from 'node:http';

/** From the bench: start counting afresh; say when `target` distinct ids arrived; forward each arrival or not. */
export interface ReceiverCommand {
  type: 'reset';
  target: number;
  forward: boolean;
}
export type ReceiverMessage =
  | { type: 'listening'; port: number }
  /** Epoch milliseconds (performance.timeOrigin + now(): sub-millisecond, comparable across processes). */
  | { type: 'reached'; arrivals: number[]; duplicates: number; outOfOrder: number }
  | { type: 'arrival'; at: number; id: string; body: string };

const now = () => performance.timeOrigin + performance.now();
const send = (message: ReceiverMessage) => process.send!(message);

let target = Number.POSITIVE_INFINITY;
let forward = false;
let seen = new Set<string>();
/** The highest `benchSeq` each lane (its ordering key) has delivered. */
let lanes = new Map<string, number>();
let duplicates = 0;
let outOfOrder = 0;
/** When each distinct webhook-id arrived. */
let arrivals: number[] = [];

process.on('message', (command: ReceiverCommand) => {
  target = command.target;
  forward = command.forward;
  seen = new Set();
  lanes = new Map();
  duplicates = 0;
  outOfOrder = 0;
  arrivals = [];
});

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = now();
    response.writeHead(204).end();
    const id = String(request.headers['webhook-id']);
    const body = Buffer.concat(chunks).toString('utf8');
    if (forward) send({ type: 'arrival', at, id, body });
    if (seen.has(id)) {
      duplicates++;
      return;
    }
    seen.add(id);
    arrivals.push(at);
    // The throughput bench's events carry their lane and place in it.
    const data = (JSON.parse(body) as { data?: { notificationId?: string; benchSeq?: number } }).data;
    if (data?.notificationId !== undefined && data.benchSeq !== undefined) {
      if ((lanes.get(data.notificationId) ?? -1) > data.benchSeq) outOfOrder++;
      else lanes.set(data.notificationId, data.benchSeq);
    }
    if (seen.size === target) send({ type: 'reached', arrivals, duplicates, outOfOrder });
  });
});
// Longer than any client's idle keep-alive, so the server never closes a connection a request is on its way to.
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.BENCH_RECEIVER_PORT ?? 0), '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
