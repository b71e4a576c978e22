// The webhook projector on a thread of its own (started by workers/webhooks-workers.ts): projecting an
// outbox backlog is JavaScript work per row, and on the sending thread it halved the delivery rate while it
// lasted. The thread has its own database pool; waking an endpoint's workflow is asked of the parent, whose
// Temporal client it is, and answered.
import { parentPort, workerData } from 'node:worker_threads';
import { connectDatabase } from '../db/client.js';
import { createLogger } from '../lib/logger.js';
import { startProjector } from '../lib/webhooks/projector-service.js';
import type { ProjectorThreadData, ToParent, ToThread } from './webhook-projector-messages.js';

const port = parentPort!;
const data = workerData as ProjectorThreadData;
const database = connectDatabase(data.databaseUrl, { max: 2, applicationName: 'mailflow-webhook-projector' });
const logger = createLogger({ level: data.logLevel, name: 'worker:webhook-projector' });

let asked = 0;
const answers = new Map<number, (ok: boolean) => void>();
const send = (message: ToParent) => port.postMessage(message);

/** Asks the parent to wake an endpoint; rejects when it could not, so the projector keeps it for later. */
function wake(endpointId: string): Promise<void> {
  const seq = ++asked;
  return new Promise((resolve, reject) => {
    answers.set(seq, (ok) => (ok ? resolve() : reject(new Error(`endpoint ${endpointId} could not be woken`))));
    send({ type: 'wake', seq, endpointId });
  });
}

const projector = await startProjector({ db: database.db, logger, retentionDays: data.retentionDays, wake });
port.on('message', (message: ToThread) => {
  if (message.type === 'woken') {
    answers.get(message.seq)?.(message.ok);
    answers.delete(message.seq);
  } else if (message.type === 'stop') {
    void (async () => {
      await projector.stop();
      await database.close();
      send({ type: 'stopped' });
      port.close();
    })();
  }
});
send({ type: 'started' });
