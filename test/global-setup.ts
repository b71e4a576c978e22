// One Temporal dev server, PostgreSQL and Elasticsearch for the whole run (started here, or reused if
// already running or given by TEMPORAL_ADDRESS / DATABASE_URL / ELASTICSEARCH_URL), a fresh database
// per run, and the workflow bundle built once. Only what this run started is stopped.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../db/migrate.js';
import { ensureServices, profiles } from '../scripts/services/index.js';
import { testIndexPrefix } from './helpers/index-prefix.js';

export interface TestServices {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  ELASTICSEARCH_URL: string;
  TEST_RUN_ID: string;
  WORKFLOW_BUNDLE_PATH: string;
  /** The local Dovecot (test/helpers/imap.ts uses these); IMAP_UNAVAILABLE says why when it is not installed. */
  IMAP_HOST: string;
  /** IMAP, STARTTLS offered but not required. */
  IMAP_PORT: number;
  /** Implicit TLS; the certificate (localhost, 127.0.0.1) is signed by the CA in IMAP_CA_FILE. */
  IMAPS_PORT: number;
  /** The instance without CONDSTORE and QRESYNC. */
  IMAP_LEGACY_PORT: number;
  IMAP_CA_FILE: string;
  /** The token-introspection simulator: POST /tokens {username}, POST /revoke {token | username}. */
  IMAP_OAUTH_URL: string;
  /** One passwd-file per user. */
  IMAP_PASSWD_DIR: string;
  /** The main instance's config, for doveadm -c. */
  IMAP_CONFIG_FILE: string;
  IMAP_UNAVAILABLE: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: TestServices;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Deletes this run's indices by name (wildcard deletes are refused by default). */
async function deleteIndices(url: string, pattern: string): Promise<void> {
  const response = await fetch(`${url}/_cat/indices/${pattern}?format=json&h=index`);
  if (!response.ok) return;
  for (const { index } of (await response.json()) as { index: string }[]) await fetch(`${url}/${index}`, { method: 'DELETE' });
}

export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[services] ${line}`);
  const services = await ensureServices(profiles.test, process.env, log);
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const database = `mailflow_t_${runId}`;
  const admin = postgres(services.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${database}"`);
  const databaseUrl = withDatabase(services.databaseUrl, database);
  await runMigrations(databaseUrl);

  const bundleDir = mkdtempSync(join(tmpdir(), 'mailflow-bundle-'));
  const bundlePath = join(bundleDir, 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    logger: { trace() {}, debug() {}, info() {}, warn: (m) => log(m), error: (m) => log(m), log() {} },
  });
  writeFileSync(bundlePath, code);

  const provided: TestServices = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    ELASTICSEARCH_URL: services.elasticsearchUrl ?? '',
    TEST_RUN_ID: runId,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    IMAP_HOST: services.imap?.host ?? '',
    IMAP_PORT: services.imap?.ports.imap ?? 0,
    IMAPS_PORT: services.imap?.ports.imaps ?? 0,
    IMAP_LEGACY_PORT: services.imap?.ports.legacy ?? 0,
    IMAP_CA_FILE: services.imap?.caFile ?? '',
    IMAP_OAUTH_URL: services.imap?.oauthUrl ?? '',
    IMAP_PASSWD_DIR: services.imap?.passwdDir ?? '',
    IMAP_CONFIG_FILE: services.imap?.configFile ?? '',
    IMAP_UNAVAILABLE: services.imap ? '' : (services.imapNote ?? 'no Dovecot'),
  };
  project.provide('services', provided);
  log(
    `temporal ${services.temporalAddress}, postgres database ${database}, index ${services.elasticsearchUrl ?? services.indexNote}, ` +
      `imap ${services.imap ? `${services.imap.host}:${services.imap.ports.imap}` : services.imapNote}`,
  );

  return async () => {
    await admin.unsafe(`drop database if exists "${database}" with (force)`).catch(() => {});
    if (services.elasticsearchUrl) await deleteIndices(services.elasticsearchUrl, `${testIndexPrefix(runId)}-*`).catch(() => {});
    await admin.end({ timeout: 5 });
    rmSync(bundleDir, { recursive: true, force: true });
    await services.stop();
  };
}
