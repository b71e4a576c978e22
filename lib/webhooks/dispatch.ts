// Sending an endpoint's due deliveries: lanes side by side (up to the endpoint's concurrency), each lane one
// delivery at a time, stopping at its first failure so nothing behind it overtakes it. Every attempt is
// recorded; an attempt whose record was lost (the worker died) is made again with the same webhook-id.
import type { Database } from '../../db/client.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { nextDueAt, pendingDeliveries, recordAttempts, recordEndpointHealth, retryAt, type AttemptOutcome, type PendingDelivery } from './deliveries.js';
import { signingSecrets, type EndpointRow } from './endpoints.js';
import { postWebhook, WebhookRequestError } from './post.js';
import { signerFor, type Signer } from './signing.js';

export type DispatchConfig = Pick<
  Config,
  'WEBHOOK_ALLOW_HOSTS' | 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_RETRY_DELAYS_SECONDS' | 'WEBHOOK_DISABLE_AFTER_SECONDS' | 'WEBHOOK_ENDPOINT_CONCURRENCY'
>;

/** What a round of sending came to; the endpoint's workflow waits accordingly. */
export type DispatchResult =
  | { outcome: 'gone' }
  | { outcome: 'disabled' }
  /** The round ran out of time with deliveries still due: go again at once. */
  | { outcome: 'more'; delivered: number }
  /** Nothing is due; `nextDueAt` is when a waiting lane head is (null: none waits). */
  | { outcome: 'idle'; delivered: number; nextDueAt: number | null };

/** Pending deliveries read per query, in id order: lanes' heads and what follows them. */
const BATCH = 500;

const allowHosts = (config: DispatchConfig) =>
  config.WEBHOOK_ALLOW_HOSTS.split(',')
    .map((h) => h.trim())
    .filter(Boolean);

/** One attempt of one delivery, signed with the secrets in force now. */
async function attempt(
  config: DispatchConfig & { allowHosts: string[] },
  url: URL,
  sign: Signer,
  delivery: PendingDelivery,
  signal: AbortSignal | undefined,
): Promise<AttemptOutcome & { gone: boolean }> {
  const attemptedAt = new Date();
  const { body } = delivery;
  const failed = (statusCode: number | null, durationMs: number, error: string, retryAfterMs?: number) => {
    const next = retryAt(delivery.attempts, config.WEBHOOK_RETRY_DELAYS_SECONDS, retryAfterMs, Date.now());
    return {
      id: delivery.id,
      status: next ? ('PENDING' as const) : ('FAILED' as const),
      nextAttemptAt: next,
      attemptedAt,
      statusCode,
      durationMs,
      error,
      gone: false,
    };
  };
  try {
    const answer = await postWebhook(url, sign(delivery.eventId, attemptedAt, body), body, {
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowHosts: config.allowHosts,
      signal,
    });
    if (answer.status >= 200 && answer.status < 300)
      return {
        id: delivery.id,
        status: 'SUCCEEDED',
        nextAttemptAt: null,
        attemptedAt,
        statusCode: answer.status,
        durationMs: answer.durationMs,
        error: null,
        gone: false,
      };
    if (answer.status === 410)
      return { ...failed(410, answer.durationMs, 'the endpoint answered 410 Gone'), status: 'PENDING', nextAttemptAt: null, gone: true };
    const what = answer.status >= 300 && answer.status < 400 ? 'a redirect, which is not followed' : answer.body.trim() || 'no body';
    return failed(answer.status, answer.durationMs, `HTTP ${answer.status}: ${what}`.slice(0, 500), answer.retryAfterMs);
  } catch (error) {
    if (!(error instanceof WebhookRequestError)) throw error;
    return failed(null, error.durationMs, error.message);
  }
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachConcurrently<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

function lanesOf(deliveries: PendingDelivery[]): PendingDelivery[][] {
  const lanes = new Map<string, PendingDelivery[]>();
  for (const d of deliveries) {
    const lane = lanes.get(d.orderingKey);
    if (lane) lane.push(d);
    else lanes.set(d.orderingKey, [d]);
  }
  return [...lanes.values()];
}

type Outcome = AttemptOutcome & { gone: boolean; orderingKey: string };

/**
 * Sends what is due for the endpoint until nothing is, or `budgetMs` has passed. `progress` is called after
 * each attempt (the activity's heartbeat).
 *
 * A round reads the endpoint's pending deliveries in passes from the start, in id order, a batch at a time.
 * Only a lane's head is ever attempted, so only a head can be waiting for a retry: a pass meets a lane's
 * head first, and a waiting head holds its lane for the rest of the pass, as does a failure in it. A
 * batch's lanes are sent side by side; the next batch is read while it is sent, and its attempts are
 * recorded while the next one is sent, so the endpoint's connections wait on no query (a row sent but not
 * yet recorded is behind the pass). Once a pass's records are in, another starts; a pass that sends
 * nothing ends the round.
 */
export async function dispatchDue(
  deps: { db: Database; encryptor: Encryptor; config: DispatchConfig },
  endpoint: EndpointRow | undefined,
  options: { budgetMs: number; progress: () => void; signal?: AbortSignal },
): Promise<DispatchResult> {
  if (!endpoint) return { outcome: 'gone' };
  if (!endpoint.enabled) return { outcome: 'disabled' };
  const { db } = deps;
  const config = { ...deps.config, allowHosts: allowHosts(deps.config) };
  const sign = signerFor(signingSecrets(deps.encryptor, endpoint));
  const url = new URL(endpoint.url);
  const started = Date.now();
  const overBudget = () => Date.now() - started > options.budgetMs;
  let delivered = 0;

  /** Records a batch's attempts and the endpoint's health; answers whether the endpoint is still enabled. */
  const record = async (outcomes: Outcome[]): Promise<boolean> => {
    if (outcomes.length === 0) return true;
    await recordAttempts(db, endpoint.id, outcomes);
    const succeeded = outcomes.filter((o) => o.status === 'SUCCEEDED').length;
    const lastFailure = outcomes.findLast((o) => o.status !== 'SUCCEEDED');
    return recordEndpointHealth(
      db,
      endpoint.id,
      { succeeded: succeeded > 0, failedAt: lastFailure?.attemptedAt ?? null, gone: outcomes.some((o) => o.gone), lastError: lastFailure?.error ?? null },
      config.WEBHOOK_DISABLE_AFTER_SECONDS,
    );
  };
  // Handled at once (awaited later), so a query failing while a batch is sent is not an unhandled rejection.
  const handled = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(() => undefined);
    return promise;
  };
  let recording: Promise<boolean> = Promise.resolve(true);
  let reading = handled(pendingDeliveries(db, endpoint.id, BATCH, 0));
  /** Lanes the pass holds: a waiting head met, or a failure. */
  const heldLanes = new Set<string>();
  let sentThisPass = false;
  /** Ends the round once the last record is in (and the read ahead, unused, has settled). */
  const end = async (result: DispatchResult): Promise<DispatchResult> => {
    await reading.catch(() => undefined);
    return (await recording) ? result : { outcome: 'disabled' };
  };

  for (;;) {
    const read = await reading;
    if (read.length === 0) {
      if (!(await recording)) return { outcome: 'disabled' };
      if (!sentThisPass) return { outcome: 'idle', delivered, nextDueAt: await nextDueAt(db, endpoint.id) };
      // Every attempt of the pass is recorded: the next pass sees what failed as waiting.
      sentThisPass = false;
      heldLanes.clear();
      reading = handled(pendingDeliveries(db, endpoint.id, BATCH, 0));
      continue;
    }
    reading = handled(pendingDeliveries(db, endpoint.id, BATCH, read[read.length - 1]!.id));
    const now = Date.now();
    const due = read.filter((d) => {
      if (heldLanes.has(d.orderingKey)) return false;
      // An untried delivery is never waiting (its time is when it was made, by the database's clock).
      if (d.attempts === 0 || d.nextAttemptAt.getTime() <= now) return true;
      heldLanes.add(d.orderingKey);
      return false;
    });
    const outcomes: Outcome[] = [];
    let gone = false;
    await eachConcurrently(lanesOf(due), config.WEBHOOK_ENDPOINT_CONCURRENCY, async (lane) => {
      for (const delivery of lane) {
        if (gone || overBudget()) return;
        const outcome = await attempt(config, url, sign, delivery, options.signal);
        outcomes.push({ ...outcome, orderingKey: delivery.orderingKey });
        options.progress();
        if (outcome.gone) gone = true;
        if (outcome.status !== 'SUCCEEDED') return;
      }
    });
    for (const o of outcomes) if (o.status !== 'SUCCEEDED') heldLanes.add(o.orderingKey);
    if (outcomes.length > 0) sentThisPass = true;
    delivered += outcomes.filter((o) => o.status === 'SUCCEEDED').length;
    // The previous batch's record, made while this one was sent.
    if (!(await recording)) {
      recording = handled(record(outcomes).then(() => false));
      return end({ outcome: 'disabled' });
    }
    // Nothing attempted (the budget ran out, or every lane of the batch is held) records nothing.
    recording = handled(record(outcomes));
    if (gone || overBudget()) return end({ outcome: 'more', delivered });
  }
}
