// Where the simulators listen in the one-command stack, and the provider settings that point
// Mailflow at them. Production sets the same variables to the real providers.
import type { DevSecrets } from './dev-secrets.js';

export const simulatorPorts = {
  mailgun: 4010,
  sms: 4011,
  push: 4012,
  smtpControl: 4013,
  smtp: 2525,
  seed004: 4020,
  outlook: 4030,
  webhookReceiver: 4040,
} as const;

export function simulatorEnv(offset: number, secrets: DevSecrets, apiUrl: string): { env: Record<string, string>; lines: string[] } {
  const port = (p: number) => p + offset;
  const url = (p: number) => `http://127.0.0.1:${port(p)}`;
  const env: Record<string, string> = {
    SIM_MAILGUN_PORT: String(port(simulatorPorts.mailgun)),
    SIM_SMS_PORT: String(port(simulatorPorts.sms)),
    SIM_PUSH_PORT: String(port(simulatorPorts.push)),
    SIM_SMTP_PORT: String(port(simulatorPorts.smtp)),
    SIM_SMTP_CONTROL_PORT: String(port(simulatorPorts.smtpControl)),
    SIM_SEED004_PORT: String(port(simulatorPorts.seed004)),
    SIM_PROVIDER_API_KEY: secrets.PROVIDER_API_KEY,
    SIM_WEBHOOK_URL: `${apiUrl}/v1/webhooks/mailgun`,
    MAILGUN_API_URL: url(simulatorPorts.mailgun),
    MAILGUN_API_KEY: secrets.PROVIDER_API_KEY,
    MAILGUN_DOMAIN: 'mg.mailflow.local',
    MAILGUN_WEBHOOK_SIGNING_KEY: secrets.MAILGUN_WEBHOOK_SIGNING_KEY,
    SMTP_URL: `smtp://127.0.0.1:${port(simulatorPorts.smtp)}`,
    SMS_API_URL: url(simulatorPorts.sms),
    SMS_API_KEY: secrets.PROVIDER_API_KEY,
    PUSH_API_URL: url(simulatorPorts.push),
    PUSH_API_KEY: secrets.PROVIDER_API_KEY,
    SEED004_API_URL: url(simulatorPorts.seed004),
    SEED004_USERNAME: 'cnx_test',
    SEED004_PASSWORD: 'cnx_password_2025!',
    SIM_OUTLOOK_PORT: String(port(simulatorPorts.outlook)),
    OUTLOOK_LOGIN_URL: url(simulatorPorts.outlook),
    OUTLOOK_GRAPH_URL: url(simulatorPorts.outlook),
    OUTLOOK_TENANT: 'common',
    OUTLOOK_CLIENT_ID: 'mailflow-local',
    OUTLOOK_CLIENT_SECRET: secrets.OUTLOOK_CLIENT_SECRET,
    // The simulator posts change notifications over plain http (Graph itself would need https).
    GRAPH_NOTIFICATION_URL: `${apiUrl}/v1/webhooks/graph`,
    SIM_WEBHOOK_RECEIVER_PORT: String(port(simulatorPorts.webhookReceiver)),
  };
  const lines = [
    `  Simulators       Mailgun ${url(simulatorPorts.mailgun)}  SMS ${url(simulatorPorts.sms)}  push ${url(simulatorPorts.push)}`,
    `                   SMTP 127.0.0.1:${port(simulatorPorts.smtp)} (control ${url(simulatorPorts.smtpControl)})  seed-004 API ${url(simulatorPorts.seed004)}`,
    `                   Outlook (sign-in + Graph) ${url(simulatorPorts.outlook)} (any address signs in; control at /_control/mailboxes)`,
    `                   webhook receiver ${url(simulatorPorts.webhookReceiver)}/hooks/<name> (secrets and faults per name at /_control/endpoints/<name>)`,
    '                   ledgers at <simulator>/_control/ledger',
  ];
  return { env, lines };
}
