// The control API (no auth, JSON): mailboxes, seeding, user actions on a mailbox, revocation, runtime
// config and faults, stats, the request log and reset. Mailboxes are addressed by email address.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { configPatchSchema } from './config.js';
import type { SimContext } from './context.js';
import { iso, renderFolder } from './render.js';
import type { Mailbox, Message } from './store.js';

const address = z.string().regex(/^[^\s@]+@[^\s@]+$/, 'an email address');
const id = z.string().min(1);
const createSchema = z
  .object({
    address,
    displayName: z.string().min(1).optional(),
    messages: z.number().int().min(0).max(1_000_000).optional(),
    /** Seeds the fixture generator: the same seed gives the same senders, subjects and dates. */
    seed: z.number().int().optional(),
  })
  .strict();
const seedSchema = z.object({ count: z.number().int().min(1).max(1_000_000), folder: z.string().min(1).optional() }).strict();
const actionSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('newMail'),
    folder: z.string().min(1).default('inbox'),
    subject: z.string().optional(),
    from: z.object({ name: z.string(), address }).optional(),
    receivedDateTime: z.iso.datetime({ offset: true }).optional(),
  }),
  z.object({ type: z.literal('markRead'), id, isRead: z.boolean() }),
  z.object({ type: z.literal('flag'), id, flagStatus: z.enum(['flagged', 'notFlagged', 'complete']) }),
  z.object({ type: z.literal('move'), id, to: z.string().min(1) }),
  z.object({ type: z.literal('delete'), id }),
  z.object({ type: z.literal('createFolder'), displayName: z.string().min(1), parent: z.string().min(1).optional() }),
  z.object({ type: z.literal('renameFolder'), folder: z.string().min(1), displayName: z.string().min(1) }),
  z.object({ type: z.literal('deleteFolder'), folder: z.string().min(1) }),
]);

export type OutlookAction = z.input<typeof actionSchema>;

const reason = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');

export async function body<T>(c: Context, schema: z.ZodType<T>): Promise<{ data: T } | { error: Response }> {
  const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
  return parsed.success ? { data: parsed.data } : { error: c.json({ error: 'invalid request', reason: reason(parsed.error) }, 400) };
}

export function messageView(m: Message) {
  return {
    id: m.id,
    folderId: m.folderId,
    subject: m.subject,
    isRead: m.isRead,
    flagStatus: m.flagStatus,
    lastModifiedDateTime: iso(m.lastModified),
    changeKey: m.changeKey,
  };
}

function mailboxView(mb: Mailbox) {
  return {
    id: mb.id,
    address: mb.address,
    displayName: mb.displayName,
    messageCount: mb.messages.size,
    wellKnownFolders: mb.wellKnownIds(),
    folders: [...mb.folders.values()].filter((f) => f.id !== mb.rootId).map((f) => ({ ...renderFolder(f), wellKnownName: f.wellKnown ?? null })),
  };
}

export function controlRoutes(app: Hono, ctx: SimContext): void {
  const withMailbox = (c: Context, fn: (mb: Mailbox) => Response | Promise<Response>) => {
    const mb = ctx.mailboxes.get(c.req.param('address')!.toLowerCase());
    return mb ? fn(mb) : c.json({ error: 'no such mailbox' }, 404);
  };

  app.post('/_control/mailboxes', async (c) => {
    const parsed = await body(c, createSchema);
    if ('error' in parsed) return parsed.error;
    const { address: addr, displayName, messages, seed } = parsed.data;
    if (ctx.mailboxes.has(addr.toLowerCase())) return c.json({ error: 'mailbox exists' }, 409);
    const mb = ctx.createMailbox(addr, displayName, messages, seed);
    return c.json({ id: mb.id, address: mb.address, displayName: mb.displayName, folders: mb.wellKnownIds() }, 201);
  });
  app.get('/_control/mailboxes', (c) => c.json([...ctx.mailboxes.values()].map(mailboxView)));
  app.get('/_control/mailboxes/:address', (c) => withMailbox(c, (mb) => c.json(mailboxView(mb))));

  app.post('/_control/mailboxes/:address/seed', (c) =>
    withMailbox(c, async (mb) => {
      const parsed = await body(c, seedSchema);
      if ('error' in parsed) return parsed.error;
      const folder = parsed.data.folder ? mb.folder(parsed.data.folder) : undefined;
      if (parsed.data.folder && !folder) return c.json({ error: 'no such folder' }, 404);
      mb.seed(parsed.data.count, folder);
      return c.json({ seeded: parsed.data.count, messageCount: mb.messages.size });
    }),
  );

  app.get('/_control/mailboxes/:address/messages', (c) =>
    withMailbox(c, (mb) => {
      const ref = c.req.query('folder');
      const folder = ref ? mb.folder(ref) : undefined;
      if (ref && !folder) return c.json({ error: 'no such folder' }, 404);
      const out: ReturnType<typeof messageView>[] = [];
      for (const m of mb.messages.values()) if (!folder || m.folderId === folder.id) out.push(messageView(m));
      return c.json(out);
    }),
  );

  app.post('/_control/mailboxes/:address/actions', (c) =>
    withMailbox(c, async (mb) => {
      const parsed = await body(c, actionSchema);
      if ('error' in parsed) return parsed.error;
      return act(c, mb, parsed.data);
    }),
  );

  // The grant is gone, so are its subscriptions: each is told (subscriptionRemoved) and removed.
  app.post('/_control/mailboxes/:address/revoke', (c) =>
    withMailbox(c, (mb) => {
      const revoked = ctx.grants.revokeMailbox(mb.id);
      ctx.notifier.removeAll(mb.id);
      return c.json({ revoked });
    }),
  );

  app.get('/_control/config', (c) => c.json({ ...ctx.config, clientId: ctx.options.clientId ?? null, graphOrigin: ctx.graphOrigin }));
  app.put('/_control/config', async (c) => {
    const parsed = await body(c, configPatchSchema);
    if ('error' in parsed) return parsed.error;
    const { expireDeltaTokens, ...rest } = parsed.data;
    Object.assign(ctx.config, rest);
    if (expireDeltaTokens) ctx.tokens.expireAll();
    return c.json({ ...ctx.config, clientId: ctx.options.clientId ?? null, graphOrigin: ctx.graphOrigin });
  });
  app.get('/_control/stats', (c) => c.json(ctx.stats));
  app.get('/_control/requests', (c) => {
    const limit = Number(c.req.query('limit') ?? 5_000);
    return c.json(ctx.stats.requests(c.req.query('mailbox')?.toLowerCase(), Number.isFinite(limit) && limit > 0 ? limit : 5_000));
  });
  app.post('/_control/reset', (c) => {
    ctx.reset();
    return c.body(null, 204);
  });
}

function act(c: Context, mb: Mailbox, action: z.infer<typeof actionSchema>): Response {
  const missing = (what: string) => c.json({ error: `no such ${what}` }, 404);
  switch (action.type) {
    case 'newMail': {
      const folder = mb.folder(action.folder);
      if (!folder) return missing('folder');
      const message = mb.newMail(folder, {
        ...(action.subject !== undefined ? { subject: action.subject } : {}),
        ...(action.from ? { from: action.from } : {}),
        ...(action.receivedDateTime ? { receivedDateTime: Math.floor(Date.parse(action.receivedDateTime) / 1000) } : {}),
      });
      return c.json(messageView(message), 201);
    }
    case 'markRead':
    case 'flag':
    case 'move':
    case 'delete': {
      const message = mb.message(action.id);
      if (!message) return missing('message');
      if (action.type === 'delete') {
        mb.deleteMessage(message);
        return c.json({ ...messageView(message), deleted: true });
      }
      if (action.type === 'move') {
        const to = mb.folder(action.to);
        if (!to || to.id === mb.rootId) return missing('folder');
        mb.update(message, { folderId: to.id });
      } else {
        mb.update(message, action.type === 'markRead' ? { isRead: action.isRead } : { flagStatus: action.flagStatus });
      }
      return c.json(messageView(message));
    }
    case 'createFolder': {
      const parent = mb.folder(action.parent ?? 'msgfolderroot');
      return parent ? c.json(renderFolder(mb.createFolder(action.displayName, parent.id)), 201) : missing('folder');
    }
    case 'renameFolder':
    case 'deleteFolder': {
      const folder = mb.folder(action.folder);
      if (!folder || folder.id === mb.rootId) return missing('folder');
      if (action.type === 'renameFolder') {
        mb.renameFolder(folder, action.displayName);
        return c.json(renderFolder(folder));
      }
      // Outlook refuses to delete a distinguished folder (ErrorDeleteDistinguishedFolder); so does the simulator.
      if (folder.wellKnown) return c.json({ error: `${folder.wellKnown} is a well-known folder and cannot be deleted` }, 400);
      mb.deleteFolder(folder);
      return c.json({ id: folder.id, deleted: true });
    }
  }
}
