// One rig for a whole test file: started before the file's first test, closed after its last.
import { afterAll, beforeAll } from 'vitest';

export interface Closable {
  close(): Promise<void>;
}

/**
 * Starts `start()`'s rig before the file's first test (given `timeoutMs` for it, or the configured hook
 * timeout) and closes it after its last, whatever the tests did.
 * Answers the rig at once, so the file's tests and helpers can name it: every read goes to the started rig,
 * and one made before it started (at collection time, outside a test or hook) throws.
 */
export function useRig<R extends Closable>(start: () => Promise<R>, timeoutMs?: number): R {
  let rig: R | undefined;
  beforeAll(async () => {
    rig = await start();
  }, timeoutMs);
  afterAll(async () => {
    await rig?.close();
  });
  const started = (): R => {
    if (!rig) throw new Error('the rig is used before it started (outside a test or hook)');
    return rig;
  };
  return new Proxy({} as R, {
    get: (_, property) => Reflect.get(started(), property),
    set: (_, property, value) => Reflect.set(started(), property, value),
    has: (_, property) => Reflect.has(started(), property),
  });
}

/** A rig of its own for one test (its own limits and settings): started, given to `test`, closed whatever the test does. */
export async function withRig<R extends Closable>(start: () => Promise<R>, test: (rig: R) => Promise<void>): Promise<void> {
  const rig = await start();
  try {
    await test(rig);
  } finally {
    await rig.close();
  }
}
