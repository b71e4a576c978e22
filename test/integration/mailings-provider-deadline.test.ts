// A send attempt ends inside its own deadline: the seed-004 adapter bounds each request by its timeout and
// every request of one send (token, send, renewed token, send) by the caller's signal, so an attempt that
// Temporal has given up on never keeps sending beside its retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderUnavailableError } from '../../lib/mailings/provider.js';
import { Seed004Provider } from '../../lib/mailings/seed004-provider.js';
import type { SecretStore } from '../../lib/secret-store.js';
import { startSeed004Simulator } from '../../simulators/seed004/server.js';

let sim: Awaited<ReturnType<typeof startSeed004Simulator>>;
beforeAll(async () => {
  sim = await startSeed004Simulator({ ratePerSeconds: { requests: 100, perSeconds: 1 } });
});
afterAll(async () => {
  await sim?.close();
});

/** An in-memory stand-in for the shared token store. */
function memorySecrets(): SecretStore {
  const values = new Map<string, { value: string; expiresAt: Date | null }>();
  return {
    get: (name: string) => Promise.resolve(values.get(name)),
    put: (name: string, value: string, expiresAt: Date | null) => {
      values.set(name, { value, expiresAt });
      return Promise.resolve();
    },
  } as unknown as SecretStore;
}

const configure = (config: Record<string, unknown>) =>
  fetch(`${sim.url}/_control/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
/** The adapter against the simulator, each request allowed 15 s, with a token store of its own. */
const newProvider = () =>
  new Seed004Provider({ apiUrl: sim.url, username: 'cnx_test', password: 'cnx_password_2025!', timeoutMs: 15_000, secrets: memorySecrets() });
const message = { to: 'deadline@example.com', subject: 'Complete your registration', body: 'Thank you.' };

describe('a send attempt', () => {
  it("is abandoned at the caller's deadline, even inside one slow request (outcome unknown)", async () => {
    await configure({ latencyMs: 5_000 });
    const provider = newProvider();
    const started = Date.now();
    const error = await provider.send(message, AbortSignal.timeout(400)).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as ProviderUnavailableError).outcome).toBe('unknown');
    await configure({ latencyMs: 0 });
  });

  it('makes no request at all once its deadline has passed (the token fetch honours it too: not sent)', async () => {
    const provider = newProvider();
    const before = sim.ledger().length;
    const error = await provider.send(message, AbortSignal.abort()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as ProviderUnavailableError).outcome).toBe('not-sent');
    expect(provider.tokensFetched).toBe(0);
    expect(sim.ledger().length).toBe(before);
  });
});
