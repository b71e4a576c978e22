// Scheduled mail (seed 002): a notification or email plus when to send it, on a Temporal Schedule.
// Handlers are thin: the verbs live in lib/schedules/service.ts.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { openRequest } from '../../../lib/schedules/request.js';
import { scheduledEmailSchema, scheduledNotificationSchema, whenSchema, type ScheduledRequest } from '../../../lib/schedules/index.js';
import {
  archiveIfExpired,
  createSchedule,
  deleteSchedule,
  describeTemporalSchedule,
  findSchedule,
  lastOutcomes,
  listSchedules,
  nextRunTimes,
  pauseSchedule,
  previewRunTimes,
  recentFirings,
  scheduleStats,
  triggerSchedule,
  unpauseSchedule,
  updateSchedule,
  type ScheduleRow,
} from '../../../lib/schedules/service.js';
import { MIN_CATCHUP_WINDOW_SECONDS } from '../../../lib/schedules/temporal.js';
import type { AppEnv } from '../../context.js';
import { tenantOf } from '../../auth/tenant.js';
import { AppError, errorResponse, errorResponses } from '../../errors.js';
import { detailView, scheduleDetailSchema, scheduleSchema, scheduleView } from '../../schedules/view.js';
import { byId, createRouter, json, jsonBody, pageLimit, pageResponses, routesTagged } from '../../openapi.js';

const route = routesTagged('Schedules');

const catchupWindowSeconds = z
  .number()
  .int()
  .min(MIN_CATCHUP_WINDOW_SECONDS)
  .max(7 * 86_400)
  .optional()
  .openapi({ description: 'Slots missed while Temporal was down are fired on recovery if at most this old (default 900 s)' });

const oneOfWhat = (body: { notification?: unknown; email?: unknown }, ctx: z.RefinementCtx, required: boolean) => {
  if (body.notification !== undefined && body.email !== undefined)
    ctx.addIssue({ code: 'custom', path: ['email'], message: 'give either notification or email, not both' });
  else if (required && body.notification === undefined && body.email === undefined)
    ctx.addIssue({ code: 'custom', path: ['notification'], message: 'required: what to send (notification or email)' });
};

const createBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional().openapi({ example: 'Weekly digest' }),
    notification: scheduledNotificationSchema.optional(),
    email: scheduledEmailSchema.optional(),
    when: whenSchema,
    catchupWindowSeconds,
  })
  .strict()
  .superRefine((b, ctx) => oneOfWhat(b, ctx, true))
  .openapi('ScheduleRequest');

const patchBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    notification: scheduledNotificationSchema.optional(),
    email: scheduledEmailSchema.optional(),
    when: whenSchema.optional(),
    catchupWindowSeconds,
  })
  .strict()
  .superRefine((b, ctx) => oneOfWhat(b, ctx, false))
  .openapi('ScheduleUpdate');

const idParam = z.object({ id: z.string().min(1).max(64) });
const conflict = errorResponse(409, 'The schedule is archived, or its Temporal Schedule was deleted outside the API');
const capReached = errorResponse(409, 'The tenant already keeps as many schedules as it may (SCHEDULES_MAX_ACTIVE_PER_TENANT)');
const tooFrequent = errorResponse(422, 'Two firings would be closer together than SCHEDULE_MIN_INTERVAL_SECONDS');
/** The answers of a change to one schedule: the schedule as it is now, 404, or 409 (`conflict`). */
const changed = (description: string) => ({ 200: { description, content: json(scheduleDetailSchema) }, 404: errorResponses[404], 409: conflict });

/** Previews are counted per API key (the admin key is one key). */

type What = { notification?: z.infer<typeof scheduledNotificationSchema> | undefined; email?: z.infer<typeof scheduledEmailSchema> | undefined };
function requestOf(body: What): ScheduledRequest | undefined {
  if (body.notification) return { kind: 'notification', notification: body.notification };
  if (body.email) return { kind: 'email', email: body.email };
  return undefined;
}

async function owned(c: Context<AppEnv>, id: string): Promise<ScheduleRow> {
  const row = await findSchedule(c.var.deps.db, tenantOf(c.var.principal), id);
  if (!row) throw new AppError('not_found', `no schedule ${id}`);
  return archiveIfExpired(c.var.deps, row);
}

async function detail(c: Context<AppEnv>, row: ScheduleRow) {
  const { deps } = c.var;
  const [description, firings, stats] = await Promise.all([
    row.status === 'ARCHIVED' ? undefined : describeTemporalSchedule(deps.temporal, row.id),
    recentFirings(deps.db, row.id),
    scheduleStats(deps.db, row.id),
  ]);
  return detailView(row, openRequest(deps.encryptor, row.id, row.requestSealed), nextRunTimes(description), firings, stats);
}

export const scheduleRoutes = createRouter()
  .openapi(
    route.post('/v1/schedules', 'createSchedule', 'send', {
      summary: 'Schedule a notification or email: once, every interval, or on a cron or calendar spec in a time zone',
      request: { body: jsonBody(createBody) },
      responses: {
        201: { description: 'Created', content: json(scheduleDetailSchema) },
        409: capReached,
        422: tooFrequent,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const row = await createSchedule(c.var.deps, tenantOf(c.var.principal), {
        name: body.name,
        request: requestOf(body)!,
        when: body.when,
        catchupWindowSeconds: body.catchupWindowSeconds,
      });
      c.var.logger.info({ scheduleId: row.id, kind: row.kind, type: body.when.type }, 'schedule created');
      return c.json(await detail(c, row), 201);
    },
  )
  .openapi(
    route.post('/v1/schedules/preview', 'previewSchedule', 'send', {
      summary: 'The next 5 run times of a "when", computed by Temporal, without saving anything',
      request: { body: jsonBody(z.object({ when: whenSchema }).strict()) },
      responses: {
        200: { description: 'Run times', content: json(z.object({ nextRunTimes: z.array(z.string().datetime()) })) },
        429: errorResponse(
          429,
          'Too many previews by this API key (SCHEDULE_PREVIEW_RATE_COUNT per SCHEDULE_PREVIEW_RATE_WINDOW_SECONDS); Retry-After says when',
        ),
      },
    }),
    async (c) => {
      const times = await previewRunTimes(c.var.deps, c.var.principal!.credential, c.req.valid('json').when);
      return c.json({ nextRunTimes: times.map((t) => t.toISOString()) }, 200);
    },
  )
  .openapi(
    route.get('/v1/schedules', 'listSchedules', 'read', {
      summary: 'List schedules, newest first: active (default), archived or all; filter by status; cursor paging',
      request: {
        query: z.object({
          view: z.enum(['active', 'archived', 'all']).default('active'),
          status: z.enum(['ACTIVE', 'PAUSED', 'ARCHIVED']).optional(),
          cursor: z
            .string()
            .regex(/^sch_[0-9a-z]{26}$/, 'not a cursor this API issued')
            .optional(),
          limit: pageLimit(100, 50),
        }),
      },
      responses: pageResponses('A page of schedules', scheduleSchema),
    }),
    async (c) => {
      const q = c.req.valid('query');
      const { deps } = c.var;
      const { rows, nextCursor } = await listSchedules(deps, tenantOf(c.var.principal), {
        view: q.status ? 'all' : q.view,
        status: q.status,
        cursor: q.cursor,
        limit: q.limit,
      });
      const [descriptions, last] = await Promise.all([
        Promise.all(rows.map(async (r) => (r.status === 'ACTIVE' ? describeTemporalSchedule(deps.temporal, r.id) : undefined))),
        lastOutcomes(
          deps.db,
          rows.map((r) => r.id),
        ),
      ]);
      return c.json({ data: rows.map((r, i) => scheduleView(r, nextRunTimes(descriptions[i]), last.get(r.id))), nextCursor }, 200);
    },
  )
  .openapi(
    route.get('/v1/schedules/{id}', 'getSchedule', 'read', {
      summary: 'A schedule: what and when, the next 5 run times, recent firings with their notifications, and totals',
      ...byId(idParam, 'The schedule', scheduleDetailSchema),
    }),
    async (c) => c.json(await detail(c, await owned(c, c.req.valid('param').id)), 200),
  )
  .openapi(
    route.patch('/v1/schedules/{id}', 'updateSchedule', 'send', {
      summary: 'Change what, when, name or catch-up window (paused stays paused)',
      request: { params: idParam, body: jsonBody(patchBody) },
      responses: { ...changed('Updated'), 422: tooFrequent },
    }),
    async (c) => {
      const row = await owned(c, c.req.valid('param').id);
      const body = c.req.valid('json');
      const updated = await updateSchedule(c.var.deps, row, {
        name: body.name,
        request: requestOf(body),
        when: body.when,
        catchupWindowSeconds: body.catchupWindowSeconds,
      });
      return c.json(await detail(c, updated), 200);
    },
  )
  .openapi(
    route.post('/v1/schedules/{id}/pause', 'pauseSchedule', 'send', {
      summary: 'Pause: slots that fall while paused are skipped, not caught up',
      request: {
        params: idParam,
        body: { required: false, content: json(z.object({ note: z.string().max(500).optional() }).strict()) },
      },
      responses: changed('Paused'),
    }),
    async (c) => {
      const row = await owned(c, c.req.valid('param').id);
      const note = c.req.header('content-type')?.includes('json') ? c.req.valid('json')?.note : undefined;
      return c.json(await detail(c, await pauseSchedule(c.var.deps, row, note)), 200);
    },
  )
  .openapi(
    route.post('/v1/schedules/{id}/unpause', 'unpauseSchedule', 'send', {
      summary: 'Unpause: fires again from the next slot',
      request: { params: idParam },
      responses: changed('Active'),
    }),
    async (c) => {
      const row = await owned(c, c.req.valid('param').id);
      return c.json(await detail(c, await unpauseSchedule(c.var.deps, row)), 200);
    },
  )
  .openapi(
    route.post('/v1/schedules/{id}/trigger', 'triggerSchedule', 'send', {
      summary: 'Fire now, as an extra slot at the current time (also while paused)',
      request: { params: idParam },
      responses: {
        202: { description: 'Firing started', content: json(z.object({ id: z.string(), triggered: z.literal(true) })) },
        404: errorResponses[404],
        409: conflict,
      },
    }),
    async (c) => {
      const row = await owned(c, c.req.valid('param').id);
      await triggerSchedule(c.var.deps, row);
      return c.json({ id: row.id, triggered: true as const }, 202);
    },
  )
  .openapi(
    route.delete('/v1/schedules/{id}', 'deleteSchedule', 'send', {
      summary: 'Delete the schedule and its Temporal Schedule (the notifications it created stay)',
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' }, 404: errorResponses[404] },
    }),
    async (c) => {
      const row = await owned(c, c.req.valid('param').id);
      await deleteSchedule(c.var.deps, row);
      return c.body(null, 204);
    },
  );
