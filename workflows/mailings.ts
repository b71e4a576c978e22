// One workflow per CSV mailing. It parses the file (an activity that checkpoints), then fans out to
// child workflows that each own a slice of rows, keeping at most `maxChildren` running, and continues
// as new before its history grows large, so a million rows fit. Sends go through one send queue shared
// by every mailing, each waiting for its slot from one fleet-wide pacer. Signals pause, resume and cancel it; the `progress` query reports it.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { MailingActivities } from '../activities/mailings.js';
import { innermostMessage } from './failures.js';

export const pauseSignal = defineSignal<[{ reason?: string }?]>('pause');
export const resumeSignal = defineSignal('resume');
export const cancelSignal = defineSignal<[{ reason?: string }?]>('cancel');

export interface MailingProgress {
  mailingId: string;
  state: 'PARSING' | 'SENDING' | 'PAUSED' | 'CANCELLING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  totalRows: number;
  slicesTotal: number;
  slicesDone: number;
  runningSlices: number;
  sentInFinishedSlices: number;
  failedInFinishedSlices: number;
  /** Slices whose child workflow failed (e.g. the provider refused our credentials); their rows stay QUEUED. */
  failedSlices: number;
}
export const progressQuery = defineQuery<MailingProgress>('progress');

export interface MailingInput {
  mailingId: string;
  sendTaskQueue: string;
  sliceSize: number;
  maxChildren: number;
  /** Children started per run before continuing as new (each costs a handful of history events). */
  slicesPerRun?: number;
  /** Carried across continue-as-new. */
  carried?: {
    totalRows: number;
    nextSlice: number;
    slicesDone: number;
    sent: number;
    failed: number;
    failedSlices?: number;
    sliceError?: string;
    paused: boolean;
  };
}

/**
 * The pause/cancel state a parent hands its slices: in the child's input, then as a signal after every change
 * and once more after the child has started (a change that arrived while it was starting). `seq` grows with
 * every change, so a late or reordered signal never undoes a newer state.
 */
export interface SliceControl {
  paused: boolean;
  cancelled: boolean;
  seq: number;
}
export const sliceControlSignal = defineSignal<[SliceControl]>('sliceControl');

export interface SliceInput {
  mailingId: string;
  fromRow: number;
  toRow: number;
  sendTaskQueue: string;
  paused: boolean;
  cancelled?: boolean;
  seq?: number;
}
export interface SliceResult {
  sent: number;
  failed: number;
  cancelled: boolean;
}

const DEFAULT_SLICES_PER_RUN = 200;

export async function mailing(input: MailingInput): Promise<MailingProgress> {
  const { parseMailing, setMailingStatus, cancelUnsent } = proxyActivities<MailingActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['MailingFileError', 'MailingNotFound'] },
  });
  let paused = input.carried?.paused ?? false;
  let cancelled = false;
  const running = new Map<number, ChildWorkflowHandle<typeof mailingSlice>>();
  const progress: MailingProgress = {
    mailingId: input.mailingId,
    state: input.carried ? 'SENDING' : 'PARSING',
    totalRows: input.carried?.totalRows ?? 0,
    slicesTotal: input.carried ? Math.ceil(input.carried.totalRows / input.sliceSize) : 0,
    slicesDone: input.carried?.slicesDone ?? 0,
    runningSlices: 0,
    sentInFinishedSlices: input.carried?.sent ?? 0,
    failedInFinishedSlices: input.carried?.failed ?? 0,
    failedSlices: input.carried?.failedSlices ?? 0,
  };
  let sliceError = input.carried?.sliceError;
  // Status writes from signal handlers run one after another, so a quick pause/resume cannot land out of order.
  let statusWrites: Promise<void> = Promise.resolve();
  const writeStatus = (status: 'SENDING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED', reason?: string) => {
    statusWrites = statusWrites.then(() => setMailingStatus({ mailingId: input.mailingId, status, ...(reason ? { reason } : {}) }));
    return statusWrites;
  };
  let controlSeq = 0;
  const sliceControl = (): SliceControl => ({ paused, cancelled, seq: controlSeq });
  const tellChildren = () => {
    controlSeq += 1;
    const state = sliceControl();
    void Promise.all(
      [...running.values()].map((child) =>
        getExternalWorkflowHandle(child.workflowId)
          .signal(sliceControlSignal, state)
          .catch(() => undefined),
      ),
    );
  };
  setHandler(progressQuery, () => ({
    ...progress,
    runningSlices: running.size,
    state: cancelled && progress.state !== 'CANCELLED' ? 'CANCELLING' : paused && progress.state === 'SENDING' ? 'PAUSED' : progress.state,
  }));
  setHandler(pauseSignal, () => {
    if (paused || cancelled) return;
    paused = true;
    tellChildren();
    if (progress.state === 'SENDING') void writeStatus('PAUSED');
  });
  setHandler(resumeSignal, () => {
    if (!paused || cancelled) return;
    paused = false;
    tellChildren();
    if (progress.state === 'SENDING') void writeStatus('SENDING');
  });
  setHandler(cancelSignal, () => {
    if (cancelled) return;
    cancelled = true;
    tellChildren();
  });

  if (!input.carried) {
    try {
      const counts = await parseMailing({ mailingId: input.mailingId });
      progress.totalRows = counts.totalRows;
      progress.slicesTotal = Math.ceil(counts.totalRows / input.sliceSize);
      progress.state = 'SENDING';
      // Parsing ends by writing SENDING; a pause that arrived meanwhile is written after it.
      if (paused && !cancelled) void writeStatus('PAUSED');
    } catch (error) {
      await writeStatus('FAILED', innermostMessage(error));
      throw ApplicationFailure.create({
        type: 'MailingFailed',
        message: `mailing ${input.mailingId} failed while parsing`,
        nonRetryable: true,
        cause: error as Error,
      });
    }
  }

  let nextSlice = input.carried?.nextSlice ?? 0;
  let startedThisRun = 0;
  const { workflowId } = workflowInfo();
  while (nextSlice < progress.slicesTotal && !cancelled) {
    await condition(() => running.size < input.maxChildren || cancelled);
    if (cancelled) break;
    if (startedThisRun >= (input.slicesPerRun ?? DEFAULT_SLICES_PER_RUN) || workflowInfo().continueAsNewSuggested) {
      await condition(() => running.size === 0);
      await statusWrites;
      if (cancelled) break; // a cancel that arrived while the window drained
      await continueAsNew<typeof mailing>({
        ...input,
        carried: {
          totalRows: progress.totalRows,
          nextSlice,
          slicesDone: progress.slicesDone,
          sent: progress.sentInFinishedSlices,
          failed: progress.failedInFinishedSlices,
          failedSlices: progress.failedSlices,
          ...(sliceError ? { sliceError } : {}),
          paused,
        },
      });
    }
    const slice = nextSlice++;
    startedThisRun += 1;
    const fromRow = slice * input.sliceSize + 1;
    const handedOver = sliceControl();
    const child = await startChild(mailingSlice, {
      workflowId: `${workflowId}-slice-${slice}`,
      args: [{ mailingId: input.mailingId, fromRow, toRow: fromRow + input.sliceSize - 1, sendTaskQueue: input.sendTaskQueue, ...handedOver }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
    running.set(slice, child);
    // A pause, resume or cancel that arrived while the child was starting went only to the children already
    // running: hand this one the state as it is now.
    if (controlSeq !== handedOver.seq) void child.signal(sliceControlSignal, sliceControl()).catch(() => undefined);
    void child.result().then(
      (result) => {
        progress.slicesDone += 1;
        progress.sentInFinishedSlices += result.sent;
        progress.failedInFinishedSlices += result.failed;
        running.delete(slice);
      },
      (error: unknown) => {
        progress.failedSlices += 1;
        sliceError ??= innermostMessage(error);
        running.delete(slice);
      },
    );
  }
  await condition(() => running.size === 0);
  if (cancelled) {
    await cancelUnsent({ mailingId: input.mailingId });
    await writeStatus('CANCELLED');
    progress.state = 'CANCELLED';
  } else if (progress.failedSlices > 0) {
    // Rows of a failed slice were not sent and stay QUEUED; the mailing says why.
    await writeStatus('FAILED', `${progress.failedSlices} slice(s) could not be sent: ${sliceError ?? 'unknown error'}`);
    progress.state = 'FAILED';
  } else {
    await writeStatus('COMPLETED');
    progress.state = 'COMPLETED';
  }
  return { ...progress, runningSlices: 0 };
}

/**
 * One slice of rows, sent one after another. A pause or cancel also withdraws the send waiting for its
 * slot (an activity not yet started is cancelled at once, one waiting for its slot stops without sending;
 * one whose request has left finishes and records its outcome), so pausing stops new sends within one send.
 */
export async function mailingSlice(input: SliceInput): Promise<SliceResult> {
  const { sliceRecipients } = proxyActivities<MailingActivities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '30 seconds' } });
  const { sendToRecipient } = proxyActivities<MailingActivities>({
    taskQueue: input.sendTaskQueue,
    // A send first waits for its slot from the fleet-wide pacer (as long as the provider's limit and the
    // sends ahead of it need), then makes at most four requests of SEED004_TIMEOUT_MS (15 s: token, send,
    // renewed token, send), all ended by the attempt's own deadline inside this start-to-close; it
    // heartbeats, so a send lost with its worker is retried within 5 s.
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '5 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      nonRetryableErrorTypes: ['RecipientNotFound', 'Seed004AuthError'],
    },
  });
  let paused = input.paused;
  let cancelled = input.cancelled ?? false;
  let seq = input.seq ?? 0;
  let inFlight: CancellationScope | undefined;
  let withdrawn: CancellationScope | undefined;
  // Withdraw the send waiting in the queue; remember that this cancellation is ours, so that when it comes
  // back the row is sent again later, even if a resume has already landed by then.
  const withdraw = () => {
    if (!inFlight) return;
    withdrawn = inFlight;
    inFlight.cancel();
  };
  const apply = (next: { paused: boolean; cancelled: boolean }) => {
    if (next.cancelled && !cancelled) {
      cancelled = true;
      withdraw();
    }
    if (next.paused && !paused) {
      paused = true;
      withdraw();
    }
    if (!next.paused) paused = false;
  };
  setHandler(sliceControlSignal, (state) => {
    if (state.seq <= seq) return; // an older state than the one already applied
    seq = state.seq;
    apply(state);
  });
  // Direct signals to a slice (an operator, or a parent from before sliceControl).
  setHandler(pauseSignal, () => apply({ paused: true, cancelled }));
  setHandler(resumeSignal, () => apply({ paused: false, cancelled }));
  setHandler(cancelSignal, () => apply({ paused, cancelled: true }));

  const rows = await sliceRecipients({ mailingId: input.mailingId, fromRow: input.fromRow, toRow: input.toRow });
  const result: SliceResult = { sent: 0, failed: 0, cancelled: false };
  for (const row of rows) {
    for (;;) {
      await condition(() => !paused || cancelled);
      if (cancelled) {
        result.cancelled = true;
        return result;
      }
      const scope = new CancellationScope();
      inFlight = scope;
      try {
        const outcome = await scope.run(() => sendToRecipient({ mailingId: input.mailingId, row }));
        if (outcome.status === 'SENT') result.sent += 1;
        if (outcome.status === 'FAILED') result.failed += 1;
        break;
      } catch (error) {
        // Withdrawn by a pause or cancel (ours, whatever the state is now), whether it came back cancelled or as
        // the failure of an attempt that was already running: wait (or stop), then look at this row again.
        if (withdrawn === scope) continue;
        throw error;
      } finally {
        inFlight = undefined;
      }
    }
  }
  return result;
}
