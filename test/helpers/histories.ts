// Recorded workflow histories for the replay tests: committed under test/fixtures/histories/ (or
// HISTORIES_DIR), read and written as protobufjs's own JSON (enum names, longs and bytes as strings) since
// the SDK's historyToJSON trips over the two protobufjs copies in this install.
import { fileURLToPath } from 'node:url';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './temporal.js';

export const historiesDir = process.env.HISTORIES_DIR ?? fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

const { History } = proto.api.history.v1;
export type History = proto.api.history.v1.IHistory;

export const historyToJson = (history: History) => History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
export const historyFromJson = (json: unknown) => History.fromObject(json as Record<string, unknown>);

/** Replays the histories against the current workflow bundle; answers one line per history that failed. */
export async function replay(histories: { workflowId: string; history: History }[]): Promise<string[]> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: workflowBundle() }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}
