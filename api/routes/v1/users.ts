import { z } from '@hono/zod-openapi';
import { getUser, putUser, type UserRow } from '../../../lib/notifications/recipients.js';
import { createRouter, foundOr404, json, jsonBody, routesTagged } from '../../openapi.js';

const route = routesTagged('Users');

export const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'letters, digits and _ . : @ - (at most 128)')
  .openapi({ example: 'user-42' });

const userSchema = z
  .object({
    userId: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable().openapi({ description: 'E.164' }),
    pushTokens: z.array(z.string()),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('User');

const userBody = z
  .object({
    email: z.string().trim().email().max(320).nullable().optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 number such as +15551234567')
      .nullable()
      .optional(),
    pushTokens: z
      .array(z.string().regex(/^[A-Za-z0-9:_.-]{8,4096}$/, 'not a device token'))
      .max(20)
      .optional(),
  })
  .strict()
  .openapi('UserContacts');

const toJson = (u: UserRow) => ({ ...u, createdAt: u.createdAt.toISOString(), updatedAt: u.updatedAt.toISOString() });

export const userRoutes = createRouter()
  .openapi(
    route.put('/v1/users/{userId}', 'putUser', 'admin', {
      summary: "Create or update a user's contact points (email, E.164 phone, push device tokens)",
      description: 'Fields left out keep their value; null clears one.',
      request: { params: z.object({ userId: userIdSchema }), body: jsonBody(userBody) },
      responses: {
        200: { description: 'The user', content: json(userSchema) },
      },
    }),
    async (c) => {
      return c.json(toJson(await putUser(c.var.deps.db, c.req.valid('param').userId, c.req.valid('json'))), 200);
    },
  )
  .openapi(
    route.get('/v1/users/{userId}', 'getUser', 'read', {
      summary: "A user's contact points",
      request: { params: z.object({ userId: userIdSchema }) },
      responses: foundOr404('The user', userSchema),
    }),
    async (c) => {
      return c.json(toJson(await getUser(c.var.deps.db, c.req.valid('param').userId)), 200);
    },
  );
