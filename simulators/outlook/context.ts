// The state one simulator instance shares between its identity, Graph and control routes.
import { randomBytes } from 'node:crypto';
import { initialConfig, Stats, type OutlookSimulatorOptions, type RuntimeConfig } from './config.js';
import { DeltaTokens } from './delta.js';
import { Grants } from './grants.js';
import { Notifier } from './notifier.js';
import { Mailbox, nowSeconds } from './store.js';
import { Subscriptions } from './subscriptions.js';

export interface SimContext {
  options: OutlookSimulatorOptions;
  graphOrigin: string;
  config: RuntimeConfig;
  stats: Stats;
  grants: Grants;
  tokens: DeltaTokens;
  /** By lower-case address. */
  mailboxes: Map<string, Mailbox>;
  byId: Map<string, Mailbox>;
  inflight: Map<string, number>;
  subscriptions: Subscriptions;
  notifier: Notifier;
  createMailbox(address: string, displayName?: string, messages?: number, seed?: number): Mailbox;
  reset(): void;
}

/** "jane.doe@contoso.com" → "Jane Doe": a plausible display name when none is given. */
export function nameFromAddress(address: string): string {
  return (
    (address.split('@')[0] ?? address)
      .split(/[._-]+/)
      .filter(Boolean)
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join(' ') || address
  );
}

export function createContext(options: OutlookSimulatorOptions): SimContext {
  const ctx: SimContext = {
    options,
    graphOrigin: (options.graphOrigin ?? 'https://graph.microsoft.com').replace(/\/+$/, ''),
    config: initialConfig(options),
    stats: new Stats(),
    grants: new Grants(),
    tokens: new DeltaTokens(randomBytes(32)),
    mailboxes: new Map(),
    byId: new Map(),
    inflight: new Map(),
    subscriptions: new Subscriptions(),
    // Created below: it needs the context it belongs to.
    get notifier() {
      return notifier;
    },
    createMailbox(address, displayName, messages = 0, seed) {
      const clock = () => (ctx.config.clockFrozenAt === null ? nowSeconds() : Math.floor(Date.parse(ctx.config.clockFrozenAt) / 1000));
      const mailbox = new Mailbox(address.toLowerCase(), displayName ?? nameFromAddress(address), seed, clock);
      if (messages > 0) mailbox.seed(messages);
      mailbox.onMessageChange = (change) => ctx.notifier.messageChanged(mailbox, change);
      ctx.mailboxes.set(mailbox.address, mailbox);
      ctx.byId.set(mailbox.id, mailbox);
      return mailbox;
    },
    reset() {
      ctx.config = initialConfig(options);
      ctx.stats = new Stats();
      ctx.grants.reset();
      ctx.tokens.expireAll();
      ctx.mailboxes.clear();
      ctx.byId.clear();
      ctx.inflight.clear();
      ctx.notifier.reset();
      ctx.subscriptions.reset();
    },
  };
  const notifier = new Notifier(ctx);
  return ctx;
}
