// When a schedule fires, as the API takes it, and its translation to a Temporal ScheduleSpec. Temporal
// computes every run time (time zones, DST, calendars); this module only validates what can be checked
// without it and maps the fields one to one.
import { z } from '@hono/zod-openapi';
import type { ScheduleSpec } from '@temporalio/client';

export const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'] as const;
export const DAYS_OF_WEEK = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;

/** IANA names only: Intl knows the same tz database Temporal's server (Go) loads. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const timezone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, 'unknown time zone (use an IANA name such as Europe/Berlin)')
  .openapi({ example: 'Europe/Berlin', description: 'IANA time zone of the cron or calendar spec; default UTC' });

// A calendar field as Temporal takes it: '*', one value, a range {start, end, step}, or a list of those.
function field<T extends z.ZodTypeAny>(value: T) {
  const range = z.object({ start: value, end: value.optional(), step: z.number().int().min(1).optional() }).strict();
  const one = z.union([value, range]);
  return z.union([z.literal('*'), one, z.array(one).min(1).max(60)]).optional();
}

const calendar = z
  .object({
    second: field(z.number().int().min(0).max(59)),
    minute: field(z.number().int().min(0).max(59)),
    hour: field(z.number().int().min(0).max(23)),
    dayOfMonth: field(z.number().int().min(1).max(31)),
    month: field(z.enum(MONTHS)),
    year: field(z.number().int().min(2000).max(2200)),
    dayOfWeek: field(z.enum(DAYS_OF_WEEK)),
    comment: z.string().max(200).optional(),
  })
  .strict()
  .openapi('ScheduleCalendar', { example: { hour: 9, minute: 0, dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY' }] } });

const common = {
  startAt: z.string().datetime({ offset: true }).optional().openapi({ description: 'No firing before this time' }),
  endAt: z.string().datetime({ offset: true }).optional().openapi({
    description: 'No slot after this time; the schedule is archived once its last slot can no longer start (this time plus the jitter and the catch-up window)',
  }),
  jitterSeconds: z.number().int().min(0).max(3600).optional().openapi({
    description:
      'Each firing starts up to this many seconds after its slot (Temporal caps it at the gap to the next slot); the slot, and so the idempotency key, stays the nominal time. With endAt, the schedule is archived only once its last slot can no longer start (endAt + jitter + catch-up window)',
  }),
};

export const whenSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('once'), at: z.string().datetime({ offset: true }).openapi({ example: '2030-01-01T09:00:00Z' }), ...common }).strict(),
    z
      .object({
        type: z.literal('interval'),
        everySeconds: z
          .number()
          .int()
          .min(1)
          .max(366 * 86_400)
          .openapi({ example: 3600 }),
        offsetSeconds: z.number().int().min(0).optional().openapi({ description: 'Shift within the interval (epoch-aligned), e.g. every 3600 s at :15 → 900' }),
        ...common,
      })
      .strict(),
    z
      .object({
        type: z.literal('cron'),
        expression: z.string().min(1).max(200).openapi({ example: '0 9 * * MON-FRI' }),
        timezone: timezone.optional(),
        ...common,
      })
      .strict(),
    z.object({ type: z.literal('calendar'), calendar, timezone: timezone.optional(), ...common }).strict(),
  ])
  .superRefine((when, ctx) => {
    if (when.type === 'interval' && when.offsetSeconds !== undefined && when.offsetSeconds >= when.everySeconds) {
      ctx.addIssue({ code: 'custom', path: ['offsetSeconds'], message: 'must be less than everySeconds' });
    }
    if (when.type === 'cron' && !/^@\w+/.test(when.expression.trim()) && ![5, 6, 7].includes(when.expression.trim().split(/\s+/).length)) {
      ctx.addIssue({
        code: 'custom',
        path: ['expression'],
        message: 'expected 5 to 7 fields (minute hour day-of-month month day-of-week, optionally seconds first and year last) or @daily, @hourly, …',
      });
    }
    if (when.type === 'cron' && /^\s*(CRON_TZ|TZ)=/i.test(when.expression)) {
      ctx.addIssue({ code: 'custom', path: ['expression'], message: 'give the time zone in "timezone", not in the expression' });
    }
    if (when.startAt && when.endAt && Date.parse(when.endAt) <= Date.parse(when.startAt)) {
      ctx.addIssue({ code: 'custom', path: ['endAt'], message: 'must be after startAt' });
    }
  })
  .openapi('ScheduleWhen', { description: 'once at a time; every interval; or a cron expression or calendar spec in an IANA time zone' });

export type When = z.infer<typeof whenSchema>;

export interface SpecIssue {
  path: string;
  message: string;
}

/** Checks that need the clock: a one-off or an end in the past. (Input was parsed by whenSchema.) */
export function timeIssues(when: When, now = new Date()): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (when.type === 'once' && Date.parse(when.at) <= now.getTime()) issues.push({ path: 'when.at', message: 'is in the past' });
  if (when.endAt && Date.parse(when.endAt) <= now.getTime()) issues.push({ path: 'when.endAt', message: 'is in the past' });
  if (when.type === 'once' && when.endAt && Date.parse(when.endAt) < Date.parse(when.at)) issues.push({ path: 'when.endAt', message: 'is before "at"' });
  if (when.type === 'once' && when.startAt && Date.parse(when.startAt) > Date.parse(when.at)) issues.push({ path: 'when.startAt', message: 'is after "at"' });
  return issues;
}

/** The field Temporal's run-time computation hinges on, to name in "never fires". */
export function specField(when: When): string {
  switch (when.type) {
    case 'once':
      return 'when.at';
    case 'interval':
      return 'when.everySeconds';
    case 'cron':
      return 'when.expression';
    case 'calendar':
      return 'when.calendar';
  }
}

/** A one-off is an exact calendar instant in UTC; the schedule also gets a single remaining action. */
function exactInstant(at: Date): ScheduleSpec['calendars'] {
  return [
    {
      year: at.getUTCFullYear(),
      month: MONTHS[at.getUTCMonth()]!,
      dayOfMonth: at.getUTCDate(),
      hour: at.getUTCHours(),
      minute: at.getUTCMinutes(),
      second: at.getUTCSeconds(),
      comment: 'once',
    },
  ];
}

export function toTemporalSpec(when: When): ScheduleSpec {
  const bounds = {
    ...(when.startAt ? { startAt: new Date(when.startAt) } : {}),
    ...(when.endAt ? { endAt: new Date(when.endAt) } : {}),
    ...(when.jitterSeconds ? { jitter: when.jitterSeconds * 1000 } : {}),
  };
  switch (when.type) {
    case 'once':
      return { calendars: exactInstant(new Date(when.at)), timezone: 'UTC', ...bounds };
    case 'interval':
      return { intervals: [{ every: when.everySeconds * 1000, ...(when.offsetSeconds ? { offset: when.offsetSeconds * 1000 } : {}) }], ...bounds };
    case 'cron':
      return { cronExpressions: [when.expression], timezone: when.timezone ?? 'UTC', ...bounds };
    case 'calendar':
      return { calendars: [when.calendar as NonNullable<ScheduleSpec['calendars']>[number]], timezone: when.timezone ?? 'UTC', ...bounds };
  }
}
