// What the server-sent event streams share: a wake-up a stream waits on between batches, and how often an
// idle stream sends a comment line so proxies do not close it.
export const KEEPALIVE_MS = 15_000;

/** Wakes a stream when it has something to send; a wake that comes while it is busy is not lost. */
export function wakeable() {
  let pending = false;
  let resolve: (() => void) | undefined;
  return {
    wake: () => {
      pending = true;
      resolve?.();
    },
    wait: async (ms: number): Promise<void> => {
      if (pending) {
        pending = false;
        return;
      }
      await new Promise<void>((r) => {
        resolve = r;
        setTimeout(r, ms).unref();
      });
      resolve = undefined;
      pending = false;
    },
  };
}
