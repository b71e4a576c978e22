// Waiting on a condition, never on a fixed time: a test must pass on a busy machine.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `probe` until it answers something (not undefined), and answers that; throws after `timeoutMs`, naming `what`. */
export async function waitUntil<T>(what: string | (() => string), probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(intervalMs);
  }
}

/** Reads `read` until its answer passes `predicate`, and answers that; throws after `timeoutMs`, naming `what` and its last answer. */
export async function waitFor<T>(what: string, read: () => Promise<T>, predicate: (value: T) => boolean, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  let last: T | undefined;
  return waitUntil(
    () => `${what} (last: ${JSON.stringify(last)})`,
    async () => {
      last = await read();
      return predicate(last) ? last : undefined;
    },
    timeoutMs,
    intervalMs,
  );
}

/** Polls `check` until it holds; throws after `timeoutMs`, naming `what`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  await waitUntil(what, async () => ((await check()) ? true : undefined), timeoutMs, intervalMs);
}

/** A promise and the function that settles it: a gate that one side of a test opens and the other waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
