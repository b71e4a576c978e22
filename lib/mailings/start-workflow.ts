// Starting and steering a mailing's workflow: the boundary between the API and the mailing workers.
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { taskQueue } from '../temporal/task-queues.js';
import { mailing } from '../../workflows/mailings.js';

export const mailingWorkflowId = (mailingId: string) => `mailing-${mailingId}`;
export const mailingWorkflowQueue = (config: Pick<Config, 'TASK_QUEUE_PREFIX'>) => taskQueue(config, 'mailings');
export const mailingSendQueue = (config: Pick<Config, 'TASK_QUEUE_PREFIX'>) => taskQueue(config, 'mailing-send');

export async function startMailingWorkflow(client: Client, config: Config, mailingId: string) {
  return client.workflow.start(mailing, {
    workflowId: mailingWorkflowId(mailingId),
    taskQueue: mailingWorkflowQueue(config),
    args: [
      {
        mailingId,
        sendTaskQueue: mailingSendQueue(config),
        sliceSize: config.MAILING_SLICE_SIZE,
        maxChildren: config.MAILING_MAX_CHILDREN,
        slicesPerRun: config.MAILING_SLICES_PER_RUN,
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    searchAttributes: { MailingId: [mailingId] },
  });
}
