// Metrics: what the edge, the runner and the platform did, as Prometheus
// metrics and as the last hour of history the dashboard draws. This door is
// the only way in; nothing happens at import time.
export { MetricsHistory, histogramQuantile, HISTORY_STEP_MS, HISTORY_SPAN_MS, type Sample } from './history.ts';
export { BerthMetrics, type BerthMetricsOptions, type MetricsSources } from './registry.ts';
export { UNROUTED_APP, type EngineBatch } from './edge-metrics.ts';
export type { ContainedUsage, RunningApp, RunningInstance } from './instance-metrics.ts';
export type { AppDisk, FinishedWork, FinishedBackup, BackupTimes } from './platform-metrics.ts';
