// The local stack's demo IMAP user: made at every `npm start`, its mailbox seeded once (only while it is empty)
// with a few hundred realistic messages in several folders, so linking an IMAP mailbox shows real mail at once.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { DovecotService } from './dovecot.js';
import { seedImapMailbox } from './imap-mail.js';

export const DEMO_IMAP_USER = 'demo@mailflow.local';
/** Local only: the stack's Dovecot listens on 127.0.0.1 and holds nothing but generated mail. */
export const DEMO_IMAP_PASSWORD = 'mailflow-demo';
export const DEMO_IMAP_FOLDERS: Record<string, number> = { INBOX: 180, Sent: 60, Archive: 80, 'Archive/2025': 60, Junk: 20 };

function connect(imap: DovecotService): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: imap.host,
    port: imap.ports.imap,
    doSTARTTLS: true,
    tls: { ca: readFileSync(imap.caFile, 'utf8') },
    auth: { user: DEMO_IMAP_USER, pass: DEMO_IMAP_PASSWORD },
    disableAutoIdle: true,
    logger: false,
  });
  client.on('error', () => {});
  return client.connect().then(() => client);
}

/** Makes the demo user; seeds its mailbox if no folder holds a message. Returns how many messages it added. */
export async function ensureDemoImapUser(imap: DovecotService, log: (line: string) => void = () => {}): Promise<number> {
  imap.addUser(DEMO_IMAP_USER, DEMO_IMAP_PASSWORD);
  const client = await connect(imap);
  let total = 0;
  try {
    for (const folder of await client.list()) {
      if (folder.flags.has('\\Noselect')) continue;
      const status = await client.status(folder.path, { messages: true });
      total += status ? (status.messages ?? 0) : 0;
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  if (total > 0) return 0;
  const seeded = await seedImapMailbox(() => connect(imap), { owner: DEMO_IMAP_USER, folders: DEMO_IMAP_FOLDERS, seed: 'mailflow-demo' });
  const added = Object.values(seeded).reduce((n, list) => n + list.length, 0);
  log(`seeded the demo IMAP mailbox ${DEMO_IMAP_USER} with ${added} messages`);
  return added;
}

/** What `npm start` prints about the IMAP server, beside the simulators. */
export function demoImapLines(imap: DovecotService, root: string): string[] {
  const { host, ports } = imap;
  return [
    `  IMAP (Dovecot)   ${host}:${ports.imap} (STARTTLS offered)  IMAPS ${host}:${ports.imaps}  legacy, no CONDSTORE/QRESYNC ${host}:${ports.legacy}`,
    `                   demo user ${DEMO_IMAP_USER} / ${DEMO_IMAP_PASSWORD}   TLS CA ${relative(root, imap.caFile)}`,
    `                   XOAUTH2 token: curl -s -d username=${DEMO_IMAP_USER} ${imap.oauthUrl}/tokens`,
    `                   a change: curl --url "imap://${host}:${ports.imap}/INBOX" --user ${DEMO_IMAP_USER}:${DEMO_IMAP_PASSWORD} -X 'STORE 1 +FLAGS \\Seen'`,
  ];
}
