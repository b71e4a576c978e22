// The whole cluster down: a private Temporal dev server (its own SQLite file, so the shared one is never
// touched) is stopped for 20 s with no worker running, then started again. Temporal's catch-up window
// decides which missed slots still fire: a schedule whose window covers the outage fires every missed slot
// once, keyed by its own time (no gap, no duplicate); one whose window is shorter skips the older slots.
// (Time scaled down: docs/schedules.md's 15-minute default window against a 10-minute outage behaves as the first.)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scheduleFirings } from '../../db/schema/index.js';
import { ensureTemporal, type TemporalService } from '../../scripts/services/temporal.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { unique } from '../helpers/config.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';
import { until, waitUntil } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'mailflow-outage-'));
const env: Record<string, string> = { TASK_QUEUE_PREFIX: `${unique('scho')}-`, RATE_LIMIT_USER_COUNT: '1000' };
let temporal: TemporalService | undefined;
let ports: { port: number; uiPort: number };
let api: TestApi;
let sims: ProviderSimulators;
let worker: WorkerProcess | undefined;

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
const startTemporal = () => ensureTemporal({ root, dataDir, ...ports, persistent: true, env: {} });

async function startWorker(): Promise<void> {
  const started = spawnWorkerProcess('delivery,email', env);
  await started.ready;
  worker = started;
}
async function stopWorker(): Promise<void> {
  const stopping = worker;
  worker = undefined;
  if (!stopping || stopping.child.exitCode !== null) return;
  stopping.child.kill('SIGTERM');
  await stopping.exited;
}

beforeAll(async () => {
  ports = { port: await freePort(), uiPort: await freePort() };
  temporal = await startTemporal();
  env.TEMPORAL_ADDRESS = temporal.address;
  api = await startTestApi(env);
  sims = await startProviderSimulators({});
  Object.assign(env, sims.env);
  await startWorker();
}, 120_000);
afterAll(async () => {
  await stopWorker();
  await sims?.close();
  await api?.close();
  await temporal?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('after 20 s with Temporal down, a window covering the outage fires every missed slot once; a shorter one skips the old ones', async () => {
  const create = async (catchupWindowSeconds: number) => {
    const response = await api.request('/v1/schedules', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: { sender: 'shop@example.com', receiver: `${unique('outage')}@example.com`, subject: 'Tick', content: 'Tick' },
        when: { type: 'interval', everySeconds: 2 },
        catchupWindowSeconds,
      }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const wide = await create(120);
  const narrow = await create(10);
  const slotsOf = async (id: string) =>
    (await api.deps.db.select().from(scheduleFirings).where(eq(scheduleFirings.scheduleId, id))).map((f) => f.scheduledAt.getTime()).sort((a, b) => a - b);
  await until('both schedules to fire twice', async () => (await slotsOf(wide)).length >= 2 && (await slotsOf(narrow)).length >= 2, 60_000, 200);

  await stopWorker();
  await temporal!.stop();
  const downAt = Date.now();
  // The outage itself, not a wait: it must outlast the narrow schedule's 10-second catch-up window.
  await sleep(20_000);
  temporal = await startTemporal();
  const upAt = Date.now();
  await startWorker();
  // Caught up: the wide window's slots run on past the restart with no gap, and the narrow one fired again.
  const gapless = (slots: number[]) => slots.slice(1).every((t, i) => t - slots[i]! === 2_000);
  await waitUntil(
    'both schedules firing again after the restart',
    async () => {
      const [w, n] = [await slotsOf(wide), await slotsOf(narrow)];
      return (w.at(-1) ?? 0) > upAt && gapless(w) && n.some((t) => t > upAt) ? true : undefined;
    },
    60_000,
  );

  const wideSlots = await slotsOf(wide);
  const narrowSlots = await slotsOf(narrow);
  // Every 2-second slot from the first to the last, each once: nothing lost in the outage.
  expect(wideSlots.at(-1)).toBeGreaterThan(upAt);
  expect(wideSlots.slice(1).map((t, i) => t - wideSlots[i]!)).toEqual(Array(wideSlots.length - 1).fill(2_000));
  // The short window dropped the outage's early slots (older than 10 s when Temporal came back) and kept the rest.
  const missedEarly = wideSlots.filter((t) => t > downAt + 2_000 && t < upAt - 12_000);
  expect(missedEarly.length).toBeGreaterThan(0);
  for (const t of missedEarly) expect(narrowSlots).not.toContain(t);
  expect(narrowSlots.some((t) => t > upAt)).toBe(true);
  expect(new Set(narrowSlots).size).toBe(narrowSlots.length);
}, 180_000);
