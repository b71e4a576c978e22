import { z } from '@hono/zod-openapi';
import { previewTemplate } from '../../../lib/notifications/template-preview.js';
import {
  getTemplate,
  listLatestTemplates,
  listTemplateVersions,
  placeholdersOf,
  saveTemplateVersion,
  TemplateNotFoundError,
  TemplateParamsError,
  type TemplateRow,
} from '../../../lib/notifications/templates.js';
import { LONGEST_WINDOW_SECONDS } from '../../../lib/notifications/rate-limit.js';
import { AppError, errorResponse } from '../../errors.js';
import { byId, createRouter, foundOr404, json, jsonBody, routesTagged } from '../../openapi.js';

const route = routesTagged('Templates');

const templateId = z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'upper case letters, digits and _ (e.g. ORDER_SHIPPED_CONFIRMATION)');

const idParam = z.object({ id: templateId });
const exampleIdParam = z.object({ id: templateId.openapi({ example: 'ORDER_SHIPPED_CONFIRMATION' }) });

const templateSchema = z
  .object({
    id: z.string().openapi({ example: 'ORDER_SHIPPED_CONFIRMATION' }),
    version: z.number().int(),
    channel: z.enum(['EMAIL', 'SMS', 'PUSH']),
    subject: z.string().nullable(),
    body: z.string(),
    format: z.enum(['text', 'html']),
    params: z.array(z.string()),
    rateLimit: z
      .object({ count: z.number().int(), windowSeconds: z.number().int() })
      .nullable()
      .openapi({ description: 'Per user and template admission limit, e.g. 2 per 300 s' }),
    createdAt: z.string().datetime().nullable(),
  })
  .openapi('Template');

const contentFields = z.object({
  channel: z.enum(['EMAIL', 'SMS', 'PUSH']),
  subject: z.string().min(1).max(998).nullable().optional().openapi({ description: 'EMAIL only; may use {{params}}' }),
  body: z.string().min(1).max(100_000).openapi({ example: '<p>Hi {{name}}, order {{orderId}} has shipped.</p>' }),
  format: z.enum(['text', 'html']).default('text'),
  params: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
    .max(100)
    .optional()
    .openapi({ description: 'Declared parameters; default: the placeholders used' }),
  rateLimit: z
    .object({ count: z.number().int().min(1).max(10_000), windowSeconds: z.number().int().min(1).max(LONGEST_WINDOW_SECONDS) })
    .nullable()
    .optional(),
});

/** The rules across fields, for both the create body (with its id) and the update body. */
function contentRules(t: z.infer<typeof contentFields>, ctx: z.RefinementCtx): void {
  if (t.channel === 'EMAIL' && !t.subject) ctx.addIssue({ code: 'custom', path: ['subject'], message: 'an EMAIL template needs a subject' });
  if (t.channel !== 'EMAIL' && t.subject) ctx.addIssue({ code: 'custom', path: ['subject'], message: `a ${t.channel} template has no subject` });
  if (t.channel !== 'EMAIL' && t.format === 'html') ctx.addIssue({ code: 'custom', path: ['format'], message: 'only EMAIL templates can be html' });
  if (t.channel === 'SMS' && t.body.length > 1600) ctx.addIssue({ code: 'custom', path: ['body'], message: 'an SMS body is at most 1600 characters' });
  const undeclared = t.params ? placeholdersOf(t.subject, t.body).filter((p) => !t.params!.includes(p)) : [];
  if (undeclared.length) ctx.addIssue({ code: 'custom', path: ['params'], message: `placeholders not declared: ${undeclared.join(', ')}` });
}
const contentSchema = contentFields.strict().superRefine(contentRules).openapi('TemplateContent');
const createSchema = contentFields.extend({ id: templateId }).strict().superRefine(contentRules).openapi('NewTemplate');

const previewBody = z
  .object({
    params: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a parameter name'), z.union([z.string().max(10_000), z.number(), z.boolean()]))
      .refine((p) => Object.keys(p).length <= 100, 'at most 100 parameters')
      .default({})
      .openapi({ example: { name: 'Jane', orderId: 'ABC123', itemName: 'Laptop', trackingUrl: 'https://t.example/ABC123' } }),
    version: z.number().int().min(1).max(2_147_483_647).optional().openapi({ description: 'Default: the latest version', example: 1 }),
  })
  .strict()
  .openapi('TemplatePreviewRequest');

const previewSchema = z
  .object({
    id: z.string().openapi({ example: 'ORDER_SHIPPED_CONFIRMATION' }),
    version: z.number().int().openapi({ example: 1 }),
    channel: z.enum(['EMAIL', 'SMS', 'PUSH']),
    subject: z.string().nullable().openapi({ example: 'Your order ABC123 has shipped' }),
    text: z.string().openapi({ description: 'The plain text (for HTML templates, the text alternative sent with it)' }),
    html: z.string().nullable().openapi({ description: 'HTML templates: the body with every parameter value escaped' }),
    missingParams: z
      .array(z.string())
      .openapi({ description: 'Placeholders without a value: left as {{name}} here; a send would be refused', example: ['trackingUrl'] }),
  })
  .openapi('TemplatePreview');

/** A template's id or version that does not exist is this route's 404 (where a notification names it, it is 422). */
async function findTemplate<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof TemplateNotFoundError) throw new AppError('not_found', error.message);
    throw error;
  }
}

function toJson(t: TemplateRow) {
  return {
    id: t.id,
    version: t.version,
    channel: t.channel,
    subject: t.subject,
    body: t.body,
    format: t.format,
    params: t.params,
    rateLimit: t.rateLimitCount && t.rateLimitWindowSeconds ? { count: t.rateLimitCount, windowSeconds: t.rateLimitWindowSeconds } : null,
    createdAt: t.createdAt?.toISOString() ?? null,
  };
}

function toInput(id: string, body: z.infer<typeof contentSchema>) {
  return {
    id,
    channel: body.channel,
    subject: body.subject ?? null,
    body: body.body,
    format: body.format,
    params: body.params ?? placeholdersOf(body.subject, body.body),
    rateLimitCount: body.rateLimit?.count ?? null,
    rateLimitWindowSeconds: body.rateLimit?.windowSeconds ?? null,
  };
}

export const templateRoutes = createRouter()
  .openapi(
    route.post('/v1/templates', 'createTemplate', 'admin', {
      summary: 'Create a template (version 1)',
      request: { body: jsonBody(createSchema) },
      responses: {
        201: { description: 'Created', content: json(templateSchema) },
        409: errorResponse(409, 'A template with this id exists'),
      },
    }),
    async (c) => {
      const { id, ...content } = c.req.valid('json');
      const saved = await saveTemplateVersion(c.var.deps.db, toInput(id, content), 'create');
      if (saved === 'exists' || saved === 'missing') throw new AppError('conflict', `template ${id} exists; PUT /v1/templates/${id} adds a version`);
      return c.json(toJson(saved), 201);
    },
  )
  .openapi(
    route.put('/v1/templates/{id}', 'updateTemplate', 'admin', {
      summary: 'Update a template: adds a new version (notifications keep the version they were rendered with)',
      request: { params: idParam, body: jsonBody(contentSchema) },
      responses: foundOr404('The new version', templateSchema),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const saved = await saveTemplateVersion(c.var.deps.db, toInput(id, c.req.valid('json')), 'update');
      if (saved === 'missing' || saved === 'exists') throw new AppError('not_found', `no template ${id}; POST /v1/templates creates it`);
      return c.json(toJson(saved), 200);
    },
  )
  .openapi(
    route.get('/v1/templates', 'listTemplates', 'read', {
      summary: 'Every template, latest version',
      responses: {
        200: { description: 'Templates', content: json(z.object({ data: z.array(templateSchema) })) },
      },
    }),
    async (c) => c.json({ data: (await listLatestTemplates(c.var.deps.db)).map(toJson) }, 200),
  )
  .openapi(
    route.get('/v1/templates/{id}', 'getTemplate', 'read', {
      summary: 'A template: the latest version, or ?version=n',
      request: { params: idParam, query: z.object({ version: z.coerce.number().int().min(1).max(2_147_483_647).optional() }) },
      responses: foundOr404('The template', templateSchema),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { version } = c.req.valid('query');
      return c.json(toJson(await findTemplate(() => getTemplate(c.var.deps.db, id, version))), 200);
    },
  )
  .openapi(
    route.get('/v1/templates/{id}/versions', 'listTemplateVersions', 'read', {
      summary: 'Every version of a template, newest first',
      ...byId(exampleIdParam, 'The versions', z.object({ data: z.array(templateSchema) }).openapi('TemplateVersions')),
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      return c.json({ data: (await findTemplate(() => listTemplateVersions(c.var.deps.db, id))).map(toJson) }, 200);
    },
  )
  .openapi(
    route.post('/v1/templates/{id}/preview', 'previewTemplate', 'read', {
      summary: 'Render a template as a recipient would see it, without sending anything',
      description:
        'Rendered by the code admission uses: HTML bodies escape their parameters. A missing parameter stays as its {{name}} placeholder and is listed in missingParams; one the template does not declare is refused (422).',
      request: {
        params: exampleIdParam,
        body: jsonBody(previewBody),
      },
      responses: {
        ...foundOr404('What the recipient would see', previewSchema),
        422: errorResponse(422, 'A parameter the template does not declare'),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { params, version } = c.req.valid('json');
      const template = await findTemplate(() => getTemplate(c.var.deps.db, id, version));
      try {
        const preview = previewTemplate(template, params);
        return c.json({ id: template.id, version: template.version, channel: template.channel, ...preview }, 200);
      } catch (error) {
        if (!(error instanceof TemplateParamsError)) throw error;
        const errors = error.unknown.map((name) => ({ path: `params.${name}`, message: 'unknown: the template does not declare this parameter' }));
        throw new AppError('unprocessable', `template ${id} version ${template.version} does not declare ${error.unknown.join(', ')}`, { errors });
      }
    },
  );
