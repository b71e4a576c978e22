// `npm run evidence`: runs the stack as `npm start` does, sends the seed-004 sample list as a CSV mailing
// and one notification per channel, checks the seed-004 simulator's ledger, takes screenshots of the web
// pages and the Temporal Web UI, stops the stack (SIGINT) and writes docs/evidence/report.md. Exit code 1
// when a check fails. Every figure in the report comes from this run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { keyLines, logOffsets, readRunLogs } from './evidence/logs.js';
import { renderReport } from './evidence/report.js';
import {
  apiClient,
  checkLedger,
  configureSeed004,
  ledgerTokens,
  runMailing,
  sendNotifications,
  type MailingResult,
  type NotificationResult,
} from './evidence/scenario.js';
import { takeScreenshots, type Shot } from './evidence/screenshots.js';
import { describeServices, startStack } from './evidence/stack.js';
import { profiles, repoRoot } from './services/index.js';

// The seed-004 sample list: 105 rows, of which 3 are not addresses.
const SAMPLE_LIST = join(repoRoot, 'test', 'fixtures', 'mailing_list.csv');
const EXPECTED_RECIPIENTS = 102;

const options = z
  .object({
    EVIDENCE_OUT: z.string().min(1).default('docs/evidence'),
    EVIDENCE_SEED004_RATE: z.coerce.number().int().min(1).max(50).default(5),
    EVIDENCE_TIMEOUT_SECONDS: z.coerce.number().int().min(30).default(600),
  })
  .safeParse(process.env);
if (!options.success) {
  console.error(`evidence: ${options.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(78);
}
const { EVIDENCE_OUT, EVIDENCE_SEED004_RATE: rate, EVIDENCE_TIMEOUT_SECONDS } = options.data;
const log = (line: string) => console.log(`[evidence] ${line}`);
const outDir = resolve(repoRoot, EVIDENCE_OUT);
const logDir = join(profiles.stack.dataDir, 'logs');
const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();

const t0 = Date.now();
const runId = Date.now().toString(36);
const before = logOffsets(logDir);
log(`starting the stack (npm start) with the seed-004 rate at ${rate}/s…`);
// A Ctrl-C while the stack starts reaches the launcher too (same process group), which stops what it started.
const stack = await startStack({ ...process.env, SEED004_RATE_PER_SECOND: String(rate), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' }, log);
let interrupted = false;
process.on('SIGINT', () => {
  // The launcher got the same Ctrl-C and is stopping: wait for it, then leave.
  interrupted = true;
  void stack.stop().finally(() => process.exit(130));
});
log(`ready in ${(stack.startedInMs / 1000).toFixed(1)} s: ${stack.endpoints.api}`);

const secretsFile = join(profiles.stack.dataDir, 'dev-secrets.json');
const devSecrets = existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>) : {};
const adminKey = process.env.ADMIN_API_KEY ?? devSecrets.ADMIN_API_KEY;
let notifications: NotificationResult[] = [];
let mailing: MailingResult | undefined;
let shots: Shot[] = [];
let failure: unknown;
try {
  if (!adminKey) throw new Error(`no admin key: set ADMIN_API_KEY or keep ${secretsFile}`);
  const api = apiClient(stack.endpoints.api, adminKey);
  await configureSeed004(stack.endpoints, rate);
  log('sending one notification per channel and the sample list…');
  [notifications, mailing] = await Promise.all([
    sendNotifications(api, stack.endpoints, runId),
    runMailing(api, stack.endpoints, readFileSync(SAMPLE_LIST), runId, EVIDENCE_TIMEOUT_SECONDS * 1000),
  ]);
  log(
    `mailing ${mailing.view.id} ${mailing.view.status}: ${mailing.view.counts.sent} sent; notifications ${notifications.map((n) => `${n.channel} ${n.view.status}`).join(', ')}`,
  );
  rmSync(join(outDir, 'screenshots'), { recursive: true, force: true });
  shots = await takeScreenshots(
    join(outDir, 'screenshots'),
    {
      apiUrl: stack.endpoints.api,
      apiKey: adminKey,
      mailingId: mailing.view.id,
      temporalUi: stack.endpoints.temporalUi,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      workflowIds: { mailing: mailing.view.workflowId, notifications: notifications.map((n) => n.view.workflowId) },
    },
    log,
  );
} catch (error) {
  failure = error;
}
log('stopping the stack (SIGINT)…');
const stopped = await stack.stop();
if (interrupted) process.exit(130);
if (failure || !mailing) {
  console.error(`[evidence] failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  process.exit(1);
}

const logs = readRunLogs(logDir, before, [adminKey ?? '', ...Object.values(devSecrets), ...ledgerTokens(mailing)]);
const ledger = checkLedger(mailing, EXPECTED_RECIPIENTS);
const report = renderReport({
  generatedAt: new Date().toISOString(),
  commit: git('rev-parse', '--short', 'HEAD'),
  dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
  node: process.version,
  command: 'npm run evidence',
  seed004Rate: rate,
  services: describeServices(stack.output()),
  stackStartMs: stack.startedInMs,
  stackStop: stopped,
  endpoints: stack.endpoints,
  platformCheck: stack.endpoints.platformCheck,
  notifications,
  mailing,
  expectedRecipients: EXPECTED_RECIPIENTS,
  ledger,
  logs,
  keyLines: keyLines(logs),
  shots,
  totalMs: Date.now() - t0,
});
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'report.md'), report);
const ok = report.includes('**Result: every check passed.**');
log(`${ok ? 'every check passed' : 'SOME CHECKS FAILED'}; report: ${relative(repoRoot, join(outDir, 'report.md'))}`);
process.exit(ok ? 0 : 1);
