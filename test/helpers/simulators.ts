// The provider simulators as real HTTP (and SMTP) servers on free ports, plus the environment that
// points Mailflow's providers at them and small clients for their control APIs.
import { startMailgunSimulator } from '../../simulators/mailgun/server.js';
import { startPushSimulator } from '../../simulators/push/server.js';
import { startSmsSimulator } from '../../simulators/sms/server.js';
import { startSmtpSimulator } from '../../simulators/smtp/server.js';

export type SimulatorName = 'mailgun' | 'sms' | 'push' | 'smtp';

export interface ProviderSimulators {
  env: Record<string, string>;
  urls: Record<SimulatorName, string>;
  ledger(name: SimulatorName): Promise<Record<string, unknown>[]>;
  setFaults(name: SimulatorName, faults: Record<string, unknown>): Promise<void>;
  resetAll(): Promise<void>;
  emitMailgunEvent(messageId: string, event: 'delivered' | 'opened' | 'failed' | 'complained'): Promise<{ status: number | null }>;
  close(): Promise<void>;
}

const API_KEY = 'sim-provider-key-0123456789';

export async function startProviderSimulators(options: { webhookUrl?: string; webhookSigningKey?: string }): Promise<ProviderSimulators> {
  const [mailgun, sms, push, smtp] = await Promise.all([
    startMailgunSimulator({
      apiKey: API_KEY,
      domain: 'mg.test',
      ...(options.webhookUrl && options.webhookSigningKey ? { webhookUrl: options.webhookUrl, webhookSigningKey: options.webhookSigningKey } : {}),
    }),
    startSmsSimulator({ apiKey: API_KEY }),
    startPushSimulator({ apiKey: API_KEY }),
    startSmtpSimulator(),
  ]);
  const urls: Record<SimulatorName, string> = { mailgun: mailgun.url, sms: sms.url, push: push.url, smtp: smtp.url };
  const control = async (name: SimulatorName, path: string, init?: RequestInit) => {
    const response = await fetch(`${urls[name]}/_control/${path}`, init);
    if (!response.ok) throw new Error(`${name} control ${path}: ${response.status} ${await response.text()}`);
    return response;
  };
  return {
    urls,
    env: {
      MAILGUN_API_URL: mailgun.url,
      MAILGUN_API_KEY: API_KEY,
      MAILGUN_DOMAIN: 'mg.test',
      SMTP_URL: smtp.smtpUrl,
      SMS_API_URL: sms.url,
      SMS_API_KEY: API_KEY,
      PUSH_API_URL: push.url,
      PUSH_API_KEY: API_KEY,
    },
    async ledger(name) {
      return (await (await control(name, 'ledger')).json()) as Record<string, unknown>[];
    },
    async setFaults(name, faults) {
      await control(name, 'faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
    },
    async resetAll() {
      await Promise.all((Object.keys(urls) as SimulatorName[]).map((name) => control(name, 'reset', { method: 'POST' })));
    },
    async emitMailgunEvent(messageId, event) {
      return (await (
        await control('mailgun', 'events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messageId, event }) })
      ).json()) as {
        status: number | null;
      };
    },
    async close() {
      await Promise.all([mailgun.close(), sms.close(), push.close(), smtp.close()]);
    },
  };
}
