// Realistic RFC 5322 messages for a real IMAP server, and a fast way to put many of them in a mailbox: the
// local stack's demo user and the tests' fresh users are both seeded with these over IMAP APPEND.
import { createHash } from 'node:crypto';
import type { ImapFlow } from 'imapflow';

export type MessageKind = 'plain' | 'alternative' | 'attachment';

export interface MessageOptions {
  /** The mailbox owner's address (To: for received mail, From: in Sent). */
  owner: string;
  /** Where it will be stored: Sent mail is from the owner, Junk looks like spam. */
  folder?: string;
  /** Position in the folder: decides the content, and the date (later index, later date). */
  index: number;
  /** Varies the content between mailboxes and keeps Message-IDs unique (default: the owner). */
  seed?: string;
  kind?: MessageKind;
  /** Default: within the last minute (makeMessages spaces a folder's messages two hours apart, up to now). */
  date?: Date;
  subject?: string;
  /** Extra header lines, e.g. `{ 'X-Test': 'yes' }`. */
  headers?: Record<string, string>;
}

export interface SeedMessage {
  raw: string;
  messageId: string;
  subject: string;
  date: Date;
  flags: string[];
}

const people = [
  ['Ada Lovelace', 'ada@analytical.example'],
  ['Grace Hopper', 'grace@navy.example'],
  ['Linus Svensson', 'linus@nordmail.example'],
  ['Margaret Hamilton', 'margaret@apollo.example'],
  ['Tim Okafor', 'tim.okafor@webfoundry.example'],
  ['Chen Wei', 'chen.wei@harbour.example'],
  ['Sofía Ramírez', 'sofia.ramirez@correo.example'],
  ['Priya Natarajan', 'priya@orbit.example'],
  ['Jonas Becker', 'jonas.becker@post.example'],
  ['Amara Nwosu', 'amara@lagoslabs.example'],
  ['Billing', 'billing@invoices.example'],
  ['GitHub', 'notifications@github.example'],
] as const;

const topics = [
  'Quarterly planning',
  'Invoice #{n} for November',
  'Your order {n} has shipped',
  'Lunch on Thursday?',
  'Design review: mailbox sync',
  'Re: the migration plan',
  'Build {n} failed on main',
  'Photos from the offsite',
  'Contract draft v{n}',
  'Weekly report, week {n}',
  'Question about the API limits',
  'Welcome to the team',
  'Flight confirmation {n}',
  'Agenda for Monday',
  'Fwd: conference tickets',
];

const spam = ['You have WON a prize #{n}', 'Cheap watches, {n}% off', 'Urgent: verify your account', 'Crypto opportunity {n}', 'Re: your parcel is waiting'];

const paragraphs = [
  'Thanks for the quick turnaround on this. I went through the notes and everything looks good to me, apart from the open question about the timeline.',
  'Could you have a look before Friday? I would like to send it out early next week, once the numbers are final.',
  'As discussed in the call, we will keep the current approach for now and revisit it after the release.',
  'Attached is the latest version. The main changes are in section 3; the rest is formatting.',
  'Let me know if anything is unclear. Happy to walk through it in person.',
  'The team agreed on the new schedule. The first milestone moves by a week, the others stay as they are.',
  'I have added a few comments inline. Nothing blocking, mostly wording.',
  'Reminder: the office is closed on Monday. Deliveries will be held until Tuesday.',
];

/** A small deterministic generator, so a given seed and index always make the same message. */
function rng(seed: string): () => number {
  let h = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    h = (h + 0x6d2b79f5) | 0;
    let t = Math.imul(h ^ (h >>> 15), 1 | h);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

function encodeWord(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;
}

function address([name, email]: readonly [string, string]): string {
  return `"${encodeWord(name)}" <${email}>`;
}

function wrap(base64: string): string {
  return base64.replace(/.{1,76}/g, '$&\r\n');
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'inbox'
  );
}

/** One message, CRLF line endings, as an IMAP server stores it. */
export function makeMessage(options: MessageOptions): SeedMessage {
  const folder = options.folder ?? 'INBOX';
  const seed = options.seed ?? options.owner;
  const r = rng(`${seed}/${folder}/${options.index}`);
  const sent = /^sent/i.test(folder.split('/').pop() ?? '');
  const junk = /^(junk|spam)/i.test(folder);
  const n = Math.floor(r() * 9000) + 100;
  const subject = options.subject ?? pick(r, junk ? spam : topics).replace('{n}', String(n));
  const other = pick(r, people);
  const owner: readonly [string, string] = [options.owner.split('@')[0] ?? options.owner, options.owner];
  const from = sent ? owner : other;
  const to = sent ? other : owner;
  const cc = !junk && r() < 0.3 ? pick(r, people) : undefined;
  const date = options.date ?? new Date(Math.floor(Date.now() / 1000) * 1000 - Math.floor(r() * 60) * 1000);
  const domain = options.owner.split('@')[1] ?? 'mailflow.test';
  const messageId = `<${createHash('sha1').update(seed).digest('hex').slice(0, 10)}.${slug(folder)}.${options.index}@${domain}>`;
  const kind: MessageKind = options.kind ?? (r() < 0.15 ? 'attachment' : r() < 0.55 ? 'alternative' : 'plain');
  const body = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, paragraphs));
  const text = `Hi ${to[0].split(' ')[0]},\r\n\r\n${body.join('\r\n\r\n')}\r\n\r\nBest,\r\n${from[0]}\r\n`;
  const html = `<html><body><p>Hi ${to[0].split(' ')[0]},</p>${body.map((p) => `<p>${p}</p>`).join('')}<p>Best,<br>${from[0]}</p></body></html>\r\n`;
  const boundary = `=_mf_${createHash('sha1').update(messageId).digest('hex').slice(0, 16)}`;

  const headers = [
    `Return-Path: <${from[1]}>`,
    `From: ${address(from)}`,
    `To: ${address(to)}`,
    ...(cc ? [`Cc: ${address(cc)}`] : []),
    `Subject: ${encodeWord(subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    ...(subject.startsWith('Re: ') ? [`In-Reply-To: <thread-${n}@${other[1].split('@')[1]}>`, `References: <thread-${n}@${other[1].split('@')[1]}>`] : []),
    'MIME-Version: 1.0',
    ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  let mime: string;
  if (kind === 'plain') {
    mime = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}`;
  } else {
    const alternative = [
      `--${boundary}-alt`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      `--${boundary}-alt`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      html,
      `--${boundary}-alt--`,
      '',
    ].join('\r\n');
    if (kind === 'alternative') {
      mime = `Content-Type: multipart/alternative; boundary="${boundary}-alt"\r\n\r\n${alternative}`;
    } else {
      const csv = `date,item,amount\r\n${Array.from({ length: 5 + Math.floor(r() * 20) }, (_, i) => `2025-0${1 + (i % 9)}-1${i % 10},item ${i},${(r() * 500).toFixed(2)}`).join('\r\n')}\r\n`;
      const name = `report-${n}.csv`;
      mime = [
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        'This is a multi-part message in MIME format.',
        `--${boundary}`,
        `Content-Type: multipart/alternative; boundary="${boundary}-alt"`,
        '',
        alternative,
        `--${boundary}`,
        `Content-Type: text/csv; name="${name}"`,
        `Content-Disposition: attachment; filename="${name}"`,
        'Content-Transfer-Encoding: base64',
        '',
        wrap(Buffer.from(csv).toString('base64')),
        `--${boundary}--`,
        '',
      ].join('\r\n');
    }
  }
  const flags: string[] = [];
  // Older mail is mostly read; a few are flagged or answered; Sent is read.
  if (sent || r() < 0.7) flags.push('\\Seen');
  if (!junk && r() < 0.08) flags.push('\\Flagged');
  if (!sent && !junk && r() < 0.1) flags.push('\\Answered');
  return { raw: `${headers.join('\r\n')}\r\n${mime}`, messageId, subject, date, flags };
}

/** `count` messages for one folder, oldest first, two hours apart (give or take) up to now. */
export function makeMessages(count: number, options: Omit<MessageOptions, 'index'> & { firstIndex?: number }): SeedMessage[] {
  const first = options.firstIndex ?? 0;
  const now = Math.floor(Date.now() / 1000) * 1000;
  const step = 2 * 3_600_000;
  return Array.from({ length: count }, (_, i) =>
    makeMessage({ ...options, index: first + i, date: options.date ?? new Date(now - (count - 1 - i) * step - ((first + i) % 7) * 517_000) }),
  );
}

/** APPENDs the messages in order (each with its flags and date); returns the UIDs the server gave them. */
export async function appendMessages(client: ImapFlow, folder: string, messages: Pick<SeedMessage, 'raw' | 'flags' | 'date'>[]): Promise<number[]> {
  const uids: number[] = [];
  for (const m of messages) {
    const result = await client.append(folder, m.raw, m.flags, m.date);
    if (!result) throw new Error(`APPEND to ${folder} failed`);
    if (result.uid !== undefined) uids.push(result.uid);
  }
  return uids;
}

/**
 * Creates the folders (if missing) and fills each with `count` generated messages over up to `parallel` (at most
 * 4) connections from `connect`: one folder per connection at a time, its messages in order, so UIDs follow
 * dates. About 1 ms a message against the local Dovecot. Returns the messages appended per folder.
 */
export async function seedImapMailbox(
  connect: () => Promise<ImapFlow>,
  options: { owner: string; folders: Record<string, number>; seed?: string; parallel?: number },
): Promise<Record<string, SeedMessage[]>> {
  const folders = Object.entries(options.folders);
  const planned = Object.fromEntries(folders.map(([folder, count]) => [folder, makeMessages(count, { owner: options.owner, folder, seed: options.seed })]));
  const first = await connect();
  const clients = [first];
  try {
    const existing = new Set((await first.list()).map((m) => m.path));
    for (const [folder] of folders) if (!existing.has(folder) && folder.toUpperCase() !== 'INBOX') await first.mailboxCreate(folder);
    // Largest folders first, each to the connection with the least work so far.
    const lanes = Math.max(1, Math.min(options.parallel ?? 4, 4, folders.length));
    while (clients.length < lanes) clients.push(await connect());
    const work = clients.map(() => [] as string[]);
    const load = clients.map(() => 0);
    for (const [folder, count] of [...folders].sort((a, b) => b[1] - a[1])) {
      const lane = load.indexOf(Math.min(...load));
      work[lane]!.push(folder);
      load[lane]! += count;
    }
    await Promise.all(
      clients.map(async (client, lane) => {
        for (const folder of work[lane]!) await appendMessages(client, folder, planned[folder]!);
      }),
    );
    return planned;
  } finally {
    await Promise.all(clients.map((c) => c.logout().catch(() => c.close())));
  }
}
