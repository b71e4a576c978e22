// Schemathesis (property-based, from PyPI) against the running API's own /openapi.json, every phase,
// stateful included, every check: no 5xx, no undocumented status, no response that breaks its schema.
// .ci/run installs it into .tools/schemathesis; elsewhere set SCHEMATHESIS_BIN, or the test says how.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { runMigrations } from '../../db/migrate.js';
import { TEST_ADMIN_KEY, testConfig, unique } from '../helpers/config.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startOutlook, type OutlookSim } from '../helpers/outlook.js';

const bin = process.env.SCHEMATHESIS_BIN ?? join(process.cwd(), '.tools/schemathesis/bin/schemathesis');

let api: TestApi;
let outlook: OutlookSim;
// The fuzzer rewrites what it may (the shipped templates, users): it gets a database, task queues and
// indices of its own, so the test files running beside it keep theirs.
const admin = postgres(testConfig().DATABASE_URL, { max: 1, onnotice: () => {} });
const isolated = unique('fuzz').replace(/-/g, '_');
beforeAll(async () => {
  await admin.unsafe(`create database "${isolated}"`);
  const url = new URL(testConfig().DATABASE_URL);
  url.pathname = `/${isolated}`;
  await runMigrations(url.toString());
  // Outlook linking configured (against the simulator), so its routes answer as in production, not 503.
  outlook = await startOutlook();
  api = await startTestApi({
    ...outlook.env,
    DATABASE_URL: url.toString(),
    TASK_QUEUE_PREFIX: `${isolated}-`,
    ELASTICSEARCH_INDEX_PREFIX: `${testConfig().ELASTICSEARCH_INDEX_PREFIX}-fuzz`,
    // An IMAP link to a generated host that never answers fails within twice this, inside the request timeout.
    IMAP_TIMEOUT_MS: '2000',
  });
});
afterAll(async () => {
  await api?.close();
  await outlook?.close();
  await admin.unsafe(`drop database if exists "${isolated}" with (force)`);
  await admin.end();
});

// Every check but positive_data_acceptance: rules the schema cannot express (a callback URL on the
// allow-list, a template's channel, an opaque cursor) rightly refuse some schema-valid requests, with a
// documented 400/422 naming the reason; that the answer is documented and well-formed is still checked.
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  'missing_required_header',
  'unsupported_method',
  'allow_header_conformance',
  'use_after_free',
  'ensure_resource_availability',
  'ignored_auth',
].join(',');

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the OpenAPI document, fuzzed', () => {
  it('holds for every operation: no server error, no undocumented status, every response in its schema', async () => {
    if (!existsSync(bin))
      throw new Error(
        `schemathesis not found at ${bin}: run .ci/run, or python3 -m venv .tools/schemathesis && .tools/schemathesis/bin/pip install schemathesis`,
      );
    const reports = mkdtempSync(join(tmpdir(), 'schemathesis-'));
    const { code, output } = await run([
      '--config-file',
      join(process.cwd(), 'test/fixtures/schemathesis.toml'),
      'run',
      `${api.url}/openapi.json`,
      '--header',
      `Authorization: Bearer ${TEST_ADMIN_KEY}`,
      '--phases',
      'examples,coverage,fuzzing,stateful',
      '--checks',
      CHECKS,
      '--max-examples',
      process.env.FUZZ_MAX_EXAMPLES ?? '15',
      // One worker: hypothesis's lambda descriptions are not thread-safe on CPython 3.11 ("AST constructor recursion depth mismatch").
      '--workers',
      '1',
      // The Mailgun webhook's signature fields are tight patterns; generation filtering there is expected.
      '--suppress-health-check',
      'filter_too_much',
      '--request-timeout',
      '10',
      '--seed',
      process.env.FUZZ_SEED ?? '1',
      '--report',
      'junit',
      '--report-dir',
      reports,
    ]);
    writeFileSync(join(reports, 'output.txt'), output);
    if (code !== 0) console.log(`schemathesis output: ${join(reports, 'output.txt')}\n${output.slice(-6_000)}`);
    expect(
      code,
      output
        .split('\n')
        .filter((l) => /FAILURES|Failed|^\s*\d+\.|Summary/.test(l))
        .join('\n'),
    ).toBe(0);
    const junit = readdirSync(reports).find((f) => f.endsWith('.xml'))!;
    expect(readFileSync(join(reports, junit), 'utf8')).toMatch(/<testsuite/);
  }, 900_000);
});
