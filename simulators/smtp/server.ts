// A local SMTP server for the SMTP provider (nodemailer): records each message, deduplicated by its
// Message-ID header, with the same control API on a separate HTTP port. Faults answer SMTP codes:
// a 4xx/5xx HTTP-style status becomes 451 (transient) or 550 (permanent).
import { SMTPServer } from 'smtp-server';
import type { LedgerEntry } from '../lib/ledger.js';
import { createSimulatorFrame, listen, type RunningSimulator } from '../lib/server.js';

export interface SmtpLedgerEntry extends LedgerEntry {
  from: string;
  to: string[];
  subject: string | null;
  size: number;
  attachments: number;
  raw: string;
}

export interface SmtpSimulatorOptions {
  port?: number;
  controlPort?: number;
  host?: string;
}

const header = (raw: string, name: string) =>
  new RegExp(`^${name}:\\s*(.+(?:\\r?\\n[ \\t].+)*)`, 'im')
    .exec(raw)?.[1]
    ?.replace(/\r?\n[ \t]+/g, ' ')
    .trim() ?? null;

export async function startSmtpSimulator(
  options: SmtpSimulatorOptions = {},
): Promise<RunningSimulator & { smtpPort: number; smtpUrl: string; ledger: () => SmtpLedgerEntry[] }> {
  const frame = createSimulatorFrame<SmtpLedgerEntry>();
  const host = options.host ?? '127.0.0.1';
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    banner: 'mailflow SMTP simulator',
    onAuth(_auth, _session, callback) {
      callback(null, { user: 'any' });
    },
    onMailFrom(_address, _session, callback) {
      const refusal = frame.gate();
      if (!refusal) {
        callback();
        return;
      }
      const error = Object.assign(new Error(refusal.reason), { responseCode: refusal.status >= 500 && refusal.status !== 503 ? 550 : 451 });
      callback(error);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        frame.ledger.add({
          id: header(raw, 'Message-ID') ?? `<smtp-${Date.now()}@sim>`,
          idempotencyKey: header(raw, 'Message-ID'),
          acceptedAt: new Date().toISOString(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: header(raw, 'Subject'),
          size: raw.length,
          attachments: (raw.match(/Content-Disposition:\s*attachment/gi) ?? []).length,
          raw,
        });
        void frame.delay().then(() => callback());
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const smtpPort = (server.server.address() as { port: number }).port;
  const control = await listen(frame.app, options.controlPort, host);
  return {
    ...control,
    smtpPort,
    smtpUrl: `smtp://${host}:${smtpPort}`,
    ledger: () => frame.ledger.all(),
    close: async () => {
      await control.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
