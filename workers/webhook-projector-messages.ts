// What the webhook projector's thread and its parent say to each other.
export interface ProjectorThreadData {
  databaseUrl: string;
  logLevel: string;
  retentionDays: number;
}

export type ToParent = { type: 'started' } | { type: 'wake'; seq: number; endpointId: string } | { type: 'stopped' };
export type ToThread = { type: 'woken'; seq: number; ok: boolean } | { type: 'stop' };
