import { createRoute, z } from '@hono/zod-openapi';
import { requires } from '../../auth/scopes.js';
import { eq, sql } from 'drizzle-orm';
import { recipients } from '../../../db/schema/index.js';
import { AppError, errorResponses } from '../../errors.js';
import { createRouter } from '../../openapi.js';

export const userIdSchema = z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'letters, digits and _ . : @ - (at most 128)').openapi({ example: 'user-42' });

const userSchema = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable().openapi({ description: 'E.164' }),
  pushTokens: z.array(z.string()),
  createdAt: z.string().datetime(),
  updatedAt: z.string().datetime(),
}).openapi('User');

const userBody = z.object({
  email: z.string().trim().email().max(320).nullable().optional(),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number such as +15551234567').nullable().optional(),
  pushTokens: z.array(z.string().regex(/^[A-Za-z0-9:_.-]{8,4096}$/, 'not a device token')).max(20).optional(),
}).strict().openapi('UserContacts');

type UserRow = typeof recipients.$inferSelect;
const toJson = (u: UserRow) => ({ ...u, createdAt: u.createdAt.toISOString(), updatedAt: u.updatedAt.toISOString() });

export const userRoutes = createRouter()
  .openapi(createRoute({
    method: 'put', path: '/v1/users/{userId}', tags: ['Users'], operationId: 'putUser', ...requires('admin'),
    summary: "Create or update a user's contact points (email, E.164 phone, push device tokens)",
    description: 'Fields left out keep their value; null clears one.',
    request: { params: z.object({ userId: userIdSchema }), body: { required: true, content: { 'application/json': { schema: userBody } } } },
    responses: { 200: { description: 'The user', content: { 'application/json': { schema: userSchema } } }, 400: errorResponses[400], 401: errorResponses[401] },
  }), async (c) => {
    const { userId } = c.req.valid('param');
    const body = c.req.valid('json');
    const values = { userId, email: body.email ?? null, phone: body.phone ?? null, pushTokens: body.pushTokens ?? [] };
    const set: Partial<typeof values> & { updatedAt: Date } = { updatedAt: new Date() };
    if (body.email !== undefined) set.email = body.email;
    if (body.phone !== undefined) set.phone = body.phone;
    if (body.pushTokens !== undefined) set.pushTokens = body.pushTokens;
    const [row] = await c.var.deps.db.insert(recipients).values(values)
      .onConflictDoUpdate({ target: recipients.userId, set: { ...set, createdAt: sql`${recipients.createdAt}` } }).returning();
    return c.json(toJson(row!), 200);
  })
  .openapi(createRoute({
    method: 'get', path: '/v1/users/{userId}', tags: ['Users'], operationId: 'getUser', ...requires('read'), summary: "A user's contact points",
    request: { params: z.object({ userId: userIdSchema }) },
    responses: { 200: { description: 'The user', content: { 'application/json': { schema: userSchema } } }, 401: errorResponses[401], 404: errorResponses[404] },
  }), async (c) => {
    const { userId } = c.req.valid('param');
    const [row] = await c.var.deps.db.select().from(recipients).where(eq(recipients.userId, userId));
    if (!row) throw new AppError('not_found', `no user ${userId}`);
    return c.json(toJson(row), 200);
  });
