// Scheduled-mail metrics, on the process registry (the workers run the firings and expose /metrics).
import { Counter } from 'prom-client';
import { registry } from '../metrics.js';

export const scheduleMetrics = {
  firings: new Counter({
    name: 'mailflow_schedule_firings_total',
    help: 'Schedule firings by schedule and outcome (CREATED, DUPLICATE, RATE_LIMITED, REJECTED).',
    labelNames: ['schedule_id', 'outcome'] as const,
    registers: [registry],
  }),
};
