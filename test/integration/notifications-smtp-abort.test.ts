// SMTP (nodemailer) cannot abort a send: the provider stops waiting when the attempt's signal fires, so the
// attempt still ends inside its own timeout. Against the SMTP simulator answering the DATA command late.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpProvider } from '../../lib/notifications/providers/smtp.js';
import { TransientSendError } from '../../lib/notifications/providers/types.js';
import { startProviderSimulators, type ProviderSimulators } from '../helpers/simulators.js';

let sims: ProviderSimulators;
beforeAll(async () => {
  sims = await startProviderSimulators({});
});
afterAll(async () => {
  await sims?.close();
});

describe('SMTP provider', () => {
  it('stops waiting for a slow server when the attempt is over, as a transient (unknown outcome) failure', async () => {
    await sims.setFaults('smtp', { latencyMs: 5_000 });
    const smtp = new SmtpProvider({ url: sims.env.SMTP_URL!, defaultFrom: 'a@example.com', timeoutMs: 60_000 });
    const started = Date.now();
    const sending = smtp.send(
      { notificationId: 'ntf_x', channel: 'EMAIL', to: ['b@example.com'], subject: 's', text: 't', idempotencyKey: 'mailflow-ntf_x' },
      AbortSignal.timeout(500),
    );
    await expect(sending).rejects.toBeInstanceOf(TransientSendError);
    expect(Date.now() - started).toBeLessThan(2_000);
    await sims.setFaults('smtp', { latencyMs: 0 });
  });
});
