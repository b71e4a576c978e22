// The one place that knows how to locate or start every backing service. Used by the stack launcher
// (`npm start`) and by the test suite's global setup; each stops only what it started.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DovecotNotInstalled, ensureDovecot, type DovecotService } from './dovecot.js';
import { ensureElasticsearch } from './elasticsearch.js';
import { ensurePostgres } from './postgres.js';
import { ensureTemporal } from './temporal.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Profile {
  name: 'stack' | 'test';
  dataDir: string;
  temporalPort: number;
  temporalUiPort: number;
  postgresPort: number;
  elasticsearchPort: number;
  /** Dovecot: IMAP (STARTTLS optional), IMAPS, the legacy instance (no CONDSTORE/QRESYNC), token introspection. */
  imapPort: number;
  imapsPort: number;
  imapLegacyPort: number;
  imapOAuthPort: number;
  database: string;
  persistent: boolean;
}

const testPortOffset = Number(process.env.TEST_PORT_OFFSET ?? 0) || 0;

/** Different ports and data dirs, so the test suite can run beside a running stack. */
export const profiles: Record<Profile['name'], Profile> = {
  stack: {
    name: 'stack',
    dataDir: join(repoRoot, '.data', 'stack'),
    temporalPort: 7233,
    temporalUiPort: 8233,
    postgresPort: 5433,
    elasticsearchPort: 9200,
    imapPort: 1143,
    imapsPort: 1993,
    imapLegacyPort: 1144,
    imapOAuthPort: 1180,
    database: 'mailflow',
    persistent: true,
  },
  // TEST_PORT_OFFSET (e.g. 2) moves a second checkout's test services out of the first one's way.
  test: {
    name: 'test',
    dataDir: join(repoRoot, '.data', testPortOffset ? `test-${testPortOffset}` : 'test'),
    temporalPort: 17233 + testPortOffset,
    temporalUiPort: 18233 + testPortOffset,
    postgresPort: 15433 + testPortOffset,
    elasticsearchPort: 19200 + testPortOffset,
    imapPort: 11143 + testPortOffset,
    imapsPort: 11993 + testPortOffset,
    imapLegacyPort: 11144 + testPortOffset,
    imapOAuthPort: 11180 + testPortOffset,
    database: 'mailflow_test',
    persistent: false,
  },
};

export interface Services {
  temporalAddress: string;
  temporalUiUrl?: string;
  databaseUrl: string;
  elasticsearchUrl?: string;
  indexNote?: string;
  /** The local Dovecot (IMAP), unless it is not installed (then `imapNote` says so). */
  imap?: DovecotService;
  imapNote?: string;
  startedSummary: string[];
  stop: () => Promise<void>;
}

export async function ensureServices(profile: Profile, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = console.log): Promise<Services> {
  const stops: (() => Promise<void>)[] = [];
  const started: string[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`stop failed: ${String(error)}`));
  };
  let imapStart: Promise<DovecotService | string> | undefined;
  try {
    // PostgreSQL, Temporal and Dovecot start side by side; Elasticsearch (the slowest) after, to spare two cores.
    imapStart = ensureDovecot({
      dataDir: profile.dataDir,
      ports: { imap: profile.imapPort, imaps: profile.imapsPort, legacy: profile.imapLegacyPort, oauth: profile.imapOAuthPort },
      env,
      fast: profile.name === 'test',
      log,
    }).then(
      (imap) => {
        stops.push(imap.stop);
        if (imap.started) started.push('dovecot');
        return imap;
      },
      (error: unknown) => {
        if (error instanceof DovecotNotInstalled) return error.message;
        throw error;
      },
    );
    const [pg, temporal, imap] = await Promise.all([
      ensurePostgres({ dataDir: profile.dataDir, port: profile.postgresPort, database: profile.database, env, fast: profile.name === 'test', log }),
      ensureTemporal({
        root: repoRoot,
        dataDir: profile.dataDir,
        port: profile.temporalPort,
        uiPort: profile.temporalUiPort,
        persistent: profile.persistent,
        env,
        log,
      }),
      imapStart,
    ]);
    if (pg.started) {
      stops.push(pg.stop);
      started.push('postgres');
    }
    if (temporal.started) {
      stops.push(temporal.stop);
      started.push('temporal');
    }
    const es = await ensureElasticsearch({ root: repoRoot, dataDir: profile.dataDir, port: profile.elasticsearchPort, env, log });
    if (es.started) {
      stops.push(es.stop);
      started.push('elasticsearch');
    }
    return {
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      databaseUrl: pg.url,
      elasticsearchUrl: es.url,
      indexNote: es.url ? undefined : `mail index on PostgreSQL (${es.reason ?? 'no Elasticsearch'})`,
      imap: typeof imap === 'string' ? undefined : imap,
      imapNote: typeof imap === 'string' ? imap : undefined,
      startedSummary: started,
      stop: stopAll,
    };
  } catch (error) {
    // A Dovecot still starting when another service failed registers its stop first.
    await imapStart?.catch(() => undefined);
    await stopAll();
    throw error;
  }
}
