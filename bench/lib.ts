// Shared by the benchmarks: where the running stack is, and percentile arithmetic.
import { existsSync, readFileSync } from 'node:fs';

export function stackTarget(): { apiUrl: string; apiKey: string } {
  const apiUrl = process.env.MAILFLOW_API_URL ?? 'http://127.0.0.1:3000';
  let apiKey = process.env.MAILFLOW_API_KEY;
  if (!apiKey && existsSync('.data/stack/dev-secrets.json')) {
    apiKey = (JSON.parse(readFileSync('.data/stack/dev-secrets.json', 'utf8')) as { ADMIN_API_KEY: string }).ADMIN_API_KEY;
  }
  if (!apiKey) throw new Error('set MAILFLOW_API_KEY (or run the stack with npm start, which writes .data/stack/dev-secrets.json)');
  return { apiUrl, apiKey };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarise(values: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

/** Runs `task` `total` times with at most `concurrency` in flight. */
export async function pool(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await task(next++);
    }),
  );
}
