// The simulators `npm start` runs: Mailgun-style email, SMS, push, SMTP, (when present) the seed-004
// API, Outlook (sign-in + Graph mail) and a customer's webhook receiver, each on its port from
// scripts/stack-ports.ts, with delivery webhooks on so a notification sent from the stack reaches
// DELIVERED and OPENED by itself.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { RunningSimulator } from './lib/server.js';
import { startMailgunSimulator } from './mailgun/server.js';
import { startOutlookSimulator } from './outlook/server.js';
import { startPushSimulator } from './push/server.js';
import { startSmsSimulator } from './sms/server.js';
import { startSmtpSimulator } from './smtp/server.js';
import { startWebhookReceiver } from './webhook-receiver/server.js';

const port = z.coerce.number().int().min(1).max(65_535);
const env = z
  .object({
    SIM_MAILGUN_PORT: port.default(4010),
    SIM_SMS_PORT: port.default(4011),
    SIM_PUSH_PORT: port.default(4012),
    SIM_SMTP_PORT: port.default(2525),
    SIM_SMTP_CONTROL_PORT: port.default(4013),
    SIM_SEED004_PORT: port.default(4020),
    SIM_PROVIDER_API_KEY: z.string().min(8),
    SIM_WEBHOOK_URL: z.string().url().optional(),
    MAILGUN_DOMAIN: z.string().default('mg.mailflow.local'),
    MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(8).optional(),
    SIM_DELIVERED_AFTER_MS: z.coerce.number().int().min(0).default(1_000),
    SIM_OPENED_AFTER_MS: z.coerce.number().int().min(0).default(3_000),
    SEED004_USERNAME: z.string().optional(),
    SEED004_PASSWORD: z.string().optional(),
    SIM_OUTLOOK_PORT: port.default(4030),
    SIM_OUTLOOK_SEED_MESSAGES: z.coerce.number().int().min(0).default(250),
    OUTLOOK_CLIENT_ID: z.string().min(1).optional(),
    OUTLOOK_CLIENT_SECRET: z.string().min(1).optional(),
    SIM_WEBHOOK_RECEIVER_PORT: port.default(4040),
  })
  .safeParse(process.env);
if (!env.success) {
  console.error(`simulators: invalid environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(78);
}
const e = env.data;
const running: RunningSimulator[] = [];
const say = (line: string) => console.log(`[simulators] ${line}`);

const mailgun = await startMailgunSimulator({
  port: e.SIM_MAILGUN_PORT,
  apiKey: e.SIM_PROVIDER_API_KEY,
  domain: e.MAILGUN_DOMAIN,
  ...(e.SIM_WEBHOOK_URL && e.MAILGUN_WEBHOOK_SIGNING_KEY
    ? {
        webhookUrl: e.SIM_WEBHOOK_URL,
        webhookSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY,
        deliveredAfterMs: e.SIM_DELIVERED_AFTER_MS,
        openedAfterMs: e.SIM_OPENED_AFTER_MS,
      }
    : {}),
});
running.push(mailgun);
say(`Mailgun-style email API ${mailgun.url}/v3/${e.MAILGUN_DOMAIN}/messages (webhooks → ${e.SIM_WEBHOOK_URL ?? 'off'})`);
const sms = await startSmsSimulator({ port: e.SIM_SMS_PORT, apiKey: e.SIM_PROVIDER_API_KEY });
running.push(sms);
say(`SMS gateway ${sms.url}/v1/messages`);
const push = await startPushSimulator({ port: e.SIM_PUSH_PORT, apiKey: e.SIM_PROVIDER_API_KEY });
running.push(push);
say(`push gateway ${push.url}/v1/push`);
const smtp = await startSmtpSimulator({ port: e.SIM_SMTP_PORT, controlPort: e.SIM_SMTP_CONTROL_PORT });
running.push(smtp);
say(`SMTP ${smtp.smtpUrl} (control ${smtp.url})`);

const seed004Module = fileURLToPath(new URL('./seed004/server.ts', import.meta.url));
if (existsSync(seed004Module)) {
  const { startSeed004Simulator } = (await import(pathToFileURL(seed004Module).href)) as {
    startSeed004Simulator: (o: Record<string, unknown>) => Promise<RunningSimulator>;
  };
  const seed004 = await startSeed004Simulator({
    port: e.SIM_SEED004_PORT,
    ...(e.SEED004_USERNAME ? { username: e.SEED004_USERNAME } : {}),
    ...(e.SEED004_PASSWORD ? { password: e.SEED004_PASSWORD } : {}),
  });
  running.push(seed004);
  say(`seed-004 email API ${seed004.url}`);
}

// Any address signs in (its mailbox is made, with mail, on first sign-in) through the consent page.
const outlook = await startOutlookSimulator({
  port: e.SIM_OUTLOOK_PORT,
  consent: 'prompt',
  autoCreateMailboxes: true,
  seedOnCreate: e.SIM_OUTLOOK_SEED_MESSAGES,
  ...(e.OUTLOOK_CLIENT_ID ? { clientId: e.OUTLOOK_CLIENT_ID } : {}),
  ...(e.OUTLOOK_CLIENT_SECRET ? { clientSecret: e.OUTLOOK_CLIENT_SECRET } : {}),
});
running.push(outlook);
say(`Outlook sign-in and Graph ${outlook.url} (control ${outlook.url}/_control/mailboxes)`);

const receiver = await startWebhookReceiver({ port: e.SIM_WEBHOOK_RECEIVER_PORT });
running.push(receiver);
say(`webhook receiver ${receiver.url}/hooks/<name> (ledger ${receiver.url}/_control/ledger)`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  Promise.allSettled(running.map((s) => s.close())).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
