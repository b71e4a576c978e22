// Realistic, varied mail for seeded mailboxes. A seeded PRNG keeps a mailbox reproducible from its seed
// (same seed, same senders, subjects and dates), which makes benchmark runs comparable.
export interface EmailAddress {
  name: string;
  address: string;
}
export type Importance = 'low' | 'normal' | 'high';
export type FlagStatus = 'notFlagged' | 'flagged' | 'complete';

/** What a generated message brings; the store adds ids, folder, versions. */
export interface MessageFixture {
  subject: string;
  bodyPreview: string;
  importance: Importance;
  from: EmailAddress;
  to: EmailAddress[];
  cc: EmailAddress[];
  receivedDateTime: number; // epoch seconds
  hasAttachments: boolean;
  isRead: boolean;
  flagStatus: FlagStatus;
  isDraft: boolean;
  conversationId: string;
  internetMessageId: string;
}

/** mulberry32: tiny and fast, good enough for fixtures (50,000 messages must seed in well under a second). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function seedFrom(text: string): number {
  let h = 2_166_136_261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16_777_619);
  return h >>> 0;
}

const first = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Amelia',
  'Oliver',
  'Sophia',
  'Elijah',
  'Mia',
  'Lucas',
  'Priya',
  'Arjun',
  'Chen',
  'Mei',
  'Sofia',
  'Mateo',
  'Fatima',
  'Omar',
  'Hannah',
  'Jonas',
  'Léa',
  'Hugo',
  'Yuki',
  'Kenji',
  'Aisha',
  'Kwame',
  'Ingrid',
  'Lars',
  'Zoe',
  'Daniel',
];
const last = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Nguyen',
  'Patel',
  'Kim',
  'Müller',
  'Rossi',
  'Dubois',
  'Tanaka',
  'Okafor',
  'Andersson',
  'Kowalski',
  'Silva',
  'Cohen',
  'Haddad',
];
const companies = [
  'contoso.com',
  'fabrikam.com',
  'northwind.example',
  'adatum.example',
  'tailspin.example',
  'woodgrove.example',
  'litware.example',
  'proseware.example',
  'wingtiptoys.example',
  'fourthcoffee.example',
];
const services: EmailAddress[] = [
  { name: 'GitHub', address: 'noreply@github.com' },
  { name: 'Jira', address: 'jira@fabrikam.atlassian.example' },
  { name: 'Microsoft 365', address: 'no-reply@microsoft.example' },
  { name: 'Slack', address: 'feedback@slack.example' },
  { name: 'Expensify', address: 'concierge@expensify.example' },
  { name: 'Delta Air Lines', address: 'deltaairlines@t.delta.example' },
  { name: 'LinkedIn', address: 'messages-noreply@linkedin.example' },
  { name: 'Amazon.com', address: 'shipment-tracking@amazon.example' },
];
const topics = [
  'Q3 budget',
  'the launch plan',
  'onboarding',
  'the vendor contract',
  'Project Phoenix',
  'the offsite',
  'hiring for the platform team',
  'the board deck',
  'customer escalation #4821',
  'the migration',
  'pricing update',
  'the security review',
  'holiday schedule',
  'the roadmap',
];
const subjects: ((t: string, n: number) => string)[] = [
  (t) => `Re: ${t}`,
  (t) => `Fwd: ${t}`,
  (t) => `Quick question about ${t}`,
  (t) => `Meeting notes: ${t}`,
  (t) => `Action required: ${t}`,
  (t) => `Update on ${t}`,
  (t) => `Can we sync on ${t}?`,
  (t) => `Draft for review – ${t}`,
  (_t, n) => `Your order #${100_000 + n} has shipped`,
  (_t, n) => `[mailflow/engine] Pull request #${(n % 900) + 100} opened`,
  (_t, n) => `Invoice INV-${20_000 + n} is due`,
  () => 'Your weekly summary',
  () => 'Security alert: new sign-in',
  (t) => `Invitation: ${t} @ Thu 10:00 – 11:00`,
  (t) => `Accepted: ${t}`,
  () => 'Lunch tomorrow?',
];
const previews = [
  'Hi, following up on our conversation from last week. Could you take a look when you get a chance?',
  'Thanks for the quick turnaround. I have a couple of comments inline below.',
  'Attached is the latest version. Let me know if anything looks off before Friday.',
  'Reminder: please submit your updates by end of day so we can consolidate them.',
  'Great news — the team signed off this morning. Next steps below.',
  'We noticed a new sign-in to your account from a new device. If this was you, you can ignore this message.',
  'Your package is on its way and should arrive within 3–5 business days.',
  'Can you join a 15-minute call tomorrow to go over the open items?',
];

export function person(rand: () => number): EmailAddress {
  const f = pick(rand, first);
  const l = pick(rand, last);
  const domain = pick(rand, companies);
  return { name: `${f} ${l}`, address: `${ascii(f)}.${ascii(l)}@${domain}`.toLowerCase() };
}

/** The people a mailbox hears from: mail comes from a few hundred correspondents, not a new one each time. */
export function contacts(rand: () => number, count = 300): EmailAddress[] {
  return Array.from({ length: count }, () => (rand() < 0.1 ? pick(rand, services) : person(rand)));
}

const none: EmailAddress[] = [];

export function generateMessage(rand: () => number, owner: EmailAddress, people: EmailAddress[], n: number, nowSeconds: number, sent = false): MessageFixture {
  const external = pick(rand, people);
  const ccCount = Math.floor(rand() * 3);
  const cc = ccCount === 0 ? none : Array.from({ length: ccCount }, () => pick(rand, people));
  const received = nowSeconds - Math.floor(rand() * 90 * 86_400);
  const domain = (sent ? owner : external).address.split('@')[1] ?? 'example.com';
  return {
    subject: pick(rand, subjects)(pick(rand, topics), n),
    bodyPreview: pick(rand, previews),
    importance: rand() < 0.08 ? 'high' : rand() < 0.05 ? 'low' : 'normal',
    from: sent ? owner : external,
    to: [sent ? external : owner],
    cc,
    receivedDateTime: received,
    hasAttachments: rand() < 0.15,
    isRead: sent || rand() < 0.6,
    flagStatus: rand() < 0.08 ? 'flagged' : rand() < 0.03 ? 'complete' : 'notFlagged',
    isDraft: false,
    conversationId: `AAQkA${hex(rand, 16)}${n.toString(16).padStart(8, '0')}`,
    internetMessageId: `<${hex(rand, 16)}.${n.toString(36)}@${domain}>`,
  };
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

function hex(rand: () => number, length: number): string {
  let out = '';
  while (out.length < length)
    out += Math.floor(rand() * 4_294_967_296)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, length);
}

function ascii(text: string): string {
  return text.normalize('NFD').replace(/[^A-Za-z]/g, '');
}
