// Mailing test rig: the seed-004 simulator, the API and the mailing worker role, sharing one queue prefix.
import { readFileSync } from 'node:fs';
import type { RecipientCounts } from '../../lib/mailings/counts.js';
import { startSeed004Simulator } from '../../simulators/seed004/server.js';
import { startTestApi, type TestApi } from './api.js';
import { testConfig, unique } from './config.js';
import { useRig, withRig } from './rig.js';
import { waitFor } from './wait.js';
import type { Role } from '../../workers/roles.js';
import { startRoleWorkers, type RunningWorkers } from './workers.js';

export const SAMPLE_CSV = readFileSync(new URL('../fixtures/mailing_list.csv', import.meta.url));

export interface Seed004Control {
  url: string;
  ledger(): Promise<{ sends: { message_id: string; to: string; subject: string; body: string }[]; duplicates: { to: string; count: number }[] }>;
  stats(): Promise<{ byStatus: Record<string, number>; tokensIssued: number; held: number }>;
  configure(config: Record<string, unknown>): Promise<void>;
  reset(): Promise<void>;
}

export interface MailingRig {
  api: TestApi;
  sim: Seed004Control;
  env: Record<string, string>;
  workers: RunningWorkers | undefined;
  startWorkers(): Promise<void>;
  upload(csv: Buffer | string, fields?: Record<string, string>): Promise<string>;
  get(id: string): Promise<MailingView>;
  waitFor(id: string, predicate: (m: MailingView) => boolean, timeoutMs?: number): Promise<MailingView>;
  close(): Promise<void>;
}

export interface MailingView {
  id: string;
  status: string;
  failureReason: string | null;
  workflowId: string;
  counts: RecipientCounts;
  recentFailures: { row: number; email: string; reason: string | null }[];
}

export interface MailingRigOptions {
  ratePerSecond: number;
  simRate?: { requests: number; perSeconds: number };
  tokenLifetimeSeconds?: number;
  workers?: boolean;
  env?: Record<string, string>;
  /** The worker roles beside mailings (webhooks, for one). */
  moreRoles?: Role[];
}

/** A rig of its own for one test (its own limits and settings), closed whatever the test does. */
export const withMailingRig = (options: MailingRigOptions, test: (rig: MailingRig) => Promise<void>): Promise<void> =>
  withRig(() => startMailingRig(options), test);

/** The file's one rig: started before its first test, closed after its last. */
export const useMailingRig = (options: MailingRigOptions): MailingRig => useRig(() => startMailingRig(options), 60_000);

export async function startMailingRig(options: MailingRigOptions): Promise<MailingRig> {
  const server = await startSeed004Simulator({
    ratePerSeconds: options.simRate ?? { requests: Math.ceil(options.ratePerSecond * 2), perSeconds: 1 },
    ...(options.tokenLifetimeSeconds ? { tokenLifetimeSeconds: options.tokenLifetimeSeconds } : {}),
  });
  const control = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${server.url}/_control/${path}`, init);
    if (!response.ok) throw new Error(`seed004 control ${path}: ${response.status}`);
    return response;
  };
  const sim: Seed004Control = {
    url: server.url,
    ledger: async () => (await (await control('ledger')).json()) as Awaited<ReturnType<Seed004Control['ledger']>>,
    stats: async () => (await (await control('stats')).json()) as Awaited<ReturnType<Seed004Control['stats']>>,
    configure: async (config) => {
      await control('config', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
    },
    reset: async () => {
      await control('reset', { method: 'POST' });
    },
  };
  const env: Record<string, string> = {
    TASK_QUEUE_PREFIX: `${unique('mlg')}-`,
    SEED004_API_URL: server.url,
    SEED004_USERNAME: 'cnx_test',
    SEED004_PASSWORD: 'cnx_password_2025!',
    SEED004_RATE_PER_SECOND: String(options.ratePerSecond),
    MAILING_SLICE_SIZE: '20',
    MAILING_MAX_CHILDREN: '3',
    ...options.env,
  };
  const api = await startTestApi(env);
  const rig: MailingRig = {
    api,
    sim,
    env,
    workers: undefined,
    async startWorkers() {
      rig.workers = await startRoleWorkers(testConfig(env), ['mailings', ...(options.moreRoles ?? [])]);
    },
    async upload(csv, fields = {}) {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      form.set('file', new Blob([typeof csv === 'string' ? csv : new Uint8Array(csv)], { type: 'text/csv' }), 'list.csv');
      const response = await api.request('/v1/mailings', { method: 'POST', body: form });
      if (response.status !== 202) throw new Error(`upload: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    },
    async get(id) {
      return (await (await api.request(`/v1/mailings/${id}`)).json()) as MailingView;
    },
    waitFor(id, predicate, timeoutMs = 60_000) {
      return waitFor(`mailing ${id}`, () => rig.get(id), predicate, timeoutMs, 200);
    },
    async close() {
      await rig.workers?.stop();
      await api.close();
      await server.close();
    },
  };
  if (options.workers !== false) await rig.startWorkers();
  return rig;
}
