// Readiness: can this process reach Temporal, PostgreSQL and the mail index right now?
import { sql } from 'drizzle-orm';
import { indexBackend } from '../lib/config.js';
import type { AppDeps } from './context.js';

export interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
}
export interface Readiness {
  ready: boolean;
  checks: { temporal: Check; postgres: Check; index: Check & { backend: 'elasticsearch' | 'postgres' } };
}

async function timed(probe: () => Promise<unknown>, timeoutMs = 2_000): Promise<Check> {
  const started = performance.now();
  try {
    await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    // The class of failure only: connection strings and hosts stay out of a public endpoint.
    const message = error instanceof Error ? error.message.split('\n')[0]!.replace(/\w+:\/\/\S+/g, '<url>') : 'unreachable';
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: message.slice(0, 200) };
  }
}

export async function checkReadiness(deps: AppDeps): Promise<Readiness> {
  const backend = indexBackend(deps.config);
  const postgres = () => deps.db.execute(sql`select 1`);
  const [temporal, pg, index] = await Promise.all([
    timed(deps.pingTemporal),
    timed(postgres),
    timed(backend === 'elasticsearch' && deps.elasticsearch ? () => deps.elasticsearch!.cluster.health({ timeout: '2s' }) : postgres),
  ]);
  return { ready: temporal.ok && pg.ok && index.ok, checks: { temporal, postgres: pg, index: { ...index, backend } } };
}
