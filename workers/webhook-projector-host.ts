// Runs the webhook projector on a thread of its own (workers/webhook-projector-thread.ts) and wakes endpoint
// workflows for it. A thread that dies is started again: until it is, nothing new is projected (the outbox
// keeps every row), so it must not stay down.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../lib/logger.js';
import type { ProjectorThreadData, ToParent, ToThread } from './webhook-projector-messages.js';
import type { BackgroundService } from './worker-spec.js';

const RESTART_DELAY_MS = 1_000;

/**
 * The thread, loading the module beside this one: JavaScript when built; from source (tsx, vitest) through
 * tsx's loader, registered in the thread first (a thread does not take `--import tsx` on Node 20).
 */
export function newProjectorThread(workerData: ProjectorThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./webhook-projector-thread.js', import.meta.url), { workerData });
  const entry = new URL('./webhook-projector-thread.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export async function startProjectorThread(deps: {
  data: ProjectorThreadData;
  logger: Logger;
  wake: (endpointId: string) => Promise<void>;
  /** Starts a thread (each start, restarts included): the tests keep a hold of it. */
  spawn?: (data: ProjectorThreadData) => Worker;
}): Promise<BackgroundService> {
  const { logger, spawn = newProjectorThread } = deps;
  let stopping = false;
  let thread: Worker;
  let stopped: Promise<void> = Promise.resolve();

  const start = () =>
    new Promise<void>((resolve, reject) => {
      thread = spawn(deps.data);
      const current = thread;
      const send = (message: ToThread) => current.postMessage(message);
      let started = false;
      let onStopped = () => {};
      stopped = new Promise((r) => (onStopped = r));
      current.on('message', (message: ToParent) => {
        if (message.type === 'started') {
          started = true;
          resolve();
        } else if (message.type === 'wake')
          deps.wake(message.endpointId).then(
            () => send({ type: 'woken', seq: message.seq, ok: true }),
            () => send({ type: 'woken', seq: message.seq, ok: false }),
          );
      });
      current.on('error', (error) => {
        if (!started) reject(error);
        else logger.error({ err: error }, 'the webhook projector thread failed');
      });
      current.on('exit', (code) => {
        onStopped();
        if (stopping || !started) return;
        logger.error({ code }, 'the webhook projector thread ended; starting it again');
        setTimeout(() => {
          if (!stopping) start().catch((error: unknown) => logger.error({ err: error }, 'the webhook projector thread could not start'));
        }, RESTART_DELAY_MS).unref();
      });
    });

  await start();
  return {
    async stop() {
      stopping = true;
      thread.postMessage({ type: 'stop' } satisfies ToThread);
      await stopped;
    },
  };
}
