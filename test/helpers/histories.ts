// Recorded workflow histories for the replay tests: committed under test/fixtures/histories/ (or
// HISTORIES_DIR), read and written as protobufjs's own JSON (enum names, longs and bytes as strings) since
// the SDK's historyToJSON trips over the two protobufjs copies in this install.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { expect, it } from 'vitest';
import { installQuietRuntime, workflowBundle } from './temporal.js';

export const historiesDir = process.env.HISTORIES_DIR ?? fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

const { History } = proto.api.history.v1;
export type History = proto.api.history.v1.IHistory;

export const historyToJson = (history: History) => History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
export const historyFromJson = (json: unknown) => History.fromObject(json as Record<string, unknown>);

/**
 * Replays the histories against the current workflow bundle (in the quiet runtime the workers here use);
 * answers one line per history that failed.
 */
export async function replay(histories: { workflowId: string; history: History }[]): Promise<string[]> {
  installQuietRuntime();
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}

/** The committed histories whose file names start with `prefix`, each with the workflow id it ran under. */
export function committedHistories(prefix: string): { workflowId: string; history: History }[] {
  return readdirSync(historiesDir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .map((f) => {
      const recorded = JSON.parse(readFileSync(`${historiesDir}${f}`, 'utf8')) as { workflowId: string; history: unknown };
      return { workflowId: recorded.workflowId, history: historyFromJson(recorded.history) };
    });
}

/** The test that the committed histories named `prefix…` (at least `atLeast` of them) replay on the current code. */
export function itReplaysCommittedHistories(prefix: string, atLeast: number): void {
  it('replays the committed histories of earlier runs', async () => {
    const histories = committedHistories(prefix);
    expect(histories.length).toBeGreaterThanOrEqual(atLeast);
    expect(await replay(histories)).toEqual([]);
  }, 60_000);
}

/** With RECORD_HISTORIES=1, writes the histories as the ones to commit: `<name>.json` under historiesDir. */
export function recordHistories(histories: { name: string; workflowId: string; history: History }[]): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  mkdirSync(historiesDir, { recursive: true });
  for (const { name, workflowId, history } of histories)
    writeFileSync(`${historiesDir}${name}.json`, `${JSON.stringify({ workflowId, history: historyToJson(history) }, null, 1)}\n`);
}
