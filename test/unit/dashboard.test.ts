// Every query of the provisioned Grafana dashboard names a metric the code really exports: Mailflow's
// (read from the prom-client registry the modules build) or Temporal's SDK exporter (listed below).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry } from '../../lib/metrics.js';
import '../../lib/notifications/metrics.js';
import '../../lib/schedules/metrics.js';
import '../../lib/mailings/metrics.js';
import '../../lib/mailbox-sync/metrics.js';

/**
 * What Core's Prometheus exporter serves with the worker's settings (seconds, `_total` counters), as
 * test/integration/worker-sdk-metrics.test.ts scraped it from a worker that ran a workflow and an activity.
 */
const temporalSdkMetrics: Record<string, 'counter' | 'gauge' | 'histogram'> = {
  temporal_activity_execution_latency: 'histogram',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_activity_succeed_endtoend_latency: 'histogram',
  temporal_activity_task_received_total: 'counter',
  temporal_long_request_latency: 'histogram',
  temporal_long_request_total: 'counter',
  temporal_num_pollers: 'gauge',
  temporal_request_latency: 'histogram',
  temporal_request_total: 'counter',
  temporal_sticky_cache_hit_total: 'counter',
  temporal_sticky_cache_size: 'gauge',
  temporal_worker_start_total: 'counter',
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_workflow_completed_total: 'counter',
  temporal_workflow_endtoend_latency: 'histogram',
  temporal_workflow_task_execution_latency: 'histogram',
  temporal_workflow_task_queue_poll_succeed_total: 'counter',
  temporal_workflow_task_replay_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
};

/** The series names a metric of this type exposes. */
function seriesNames(name: string, type: string): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/** Metric names in a PromQL expression: identifiers left once strings, matchers, ranges and groupings go. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);
  return [...bare.matchAll(/([a-zA-Z_:][\w:]*)\s*(\()?/g)].filter((m) => !m[2] && !keywords.has(m[1]!.toLowerCase())).map((m) => m[1]!);
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/dashboards/mailflow.json', import.meta.url), 'utf8')) as { panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

describe('Grafana dashboard', () => {
  it('extracts metric names from PromQL, not functions, labels or strings', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, priority) (rate(a_b_bucket{route=~"/v1/x"}[5m])))')).toEqual(['a_b_bucket']);
    expect(metricNames('label_replace(vector(15), "priority", "critical", "", "") + on (x) foo_total')).toEqual(['foo_total']);
  });

  it('queries only metrics the code exports', async () => {
    const exported = new Set<string>();
    for (const metric of await registry.getMetricsAsJSON()) for (const name of seriesNames(metric.name, String(metric.type))) exported.add(name);
    for (const [name, type] of Object.entries(temporalSdkMetrics)) for (const series of seriesNames(name, type)) exported.add(series);
    expect(exported).toContain('mailflow_notification_end_to_end_seconds_bucket');

    const queried = panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => metricNames(t.expr).map((name) => ({ panel: panel.title, name }))));
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter(({ name }) => !exported.has(name))).toEqual([]);
    // Every panel queries something.
    for (const panel of panels) expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
  });
});
