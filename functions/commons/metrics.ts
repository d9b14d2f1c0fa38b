/**
 * The one table of what the functions publish to CloudWatch: the namespace, each function's `service`
 * dimension, and each metric's name and extra dimensions. The handlers publish from it and
 * `lib/observability.ts` alarms on it, so an alarm cannot watch a metric nobody emits.
 */
export const METRICS_NAMESPACE = 'Driftless';

/** The `service` dimension (and POWERTOOLS_SERVICE_NAME) of each function. */
export const SERVICES = {
  speed: 'driftless-speed',
  batch: 'driftless-batch',
  api: 'driftless-api',
  archive: 'driftless-archive',
} as const;

export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES];

/** A metric: its name, the service that emits it and the dimensions it carries besides `service`. */
export interface MetricSpec {
  readonly name: string;
  readonly service: ServiceName;
  readonly dimensions: readonly string[];
}

const metric = (service: ServiceName, name: string, dimensions: readonly string[] = []): MetricSpec => ({
  name,
  service,
  dimensions,
});

export const SPEED_METRICS = {
  events: metric(SERVICES.speed, 'events'),
  invalid: metric(SERVICES.speed, 'invalid'),
  keysWritten: metric(SERVICES.speed, 'keysWritten'),
  conflicts: metric(SERVICES.speed, 'conflicts'),
  /**
   * Per batch: sketch merges refused because another shard merged into the item between the read and the
   * write, each read again (`applyAfterRead`). One hot item takes one read and write about every 15 ms.
   */
  sketchMergeRetries: metric(SERVICES.speed, 'sketchMergeRetries'),
  /** Per batch: sketch merges refused on every attempt (`MERGE_ATTEMPTS`): the batch is failed, to be retried. */
  sketchMergesGivenUp: metric(SERVICES.speed, 'sketchMergesGivenUp'),
  batchAge: metric(SERVICES.speed, 'batchAge'),
  /** 1 for a batch whose lateness counts were dropped (a failed read or write) or not written in time. */
  latenessNotRecorded: metric(SERVICES.speed, 'latenessNotRecorded'),
  /**
   * Per batch: view versions a manifest serves (or a switch replaced) whose stored definition no longer
   * builds over the catalog, so that the speed layer cannot count them (`CountedViews`).
   */
  unbuildableDefinitions: metric(SERVICES.speed, 'unbuildableDefinitions'),
  /**
   * 1 for a batch counted with the views of an earlier refresh: the registry (manifests, definitions)
   * could not be read or updated, so a switch or the end of a rollback retention is seen late.
   */
  countedViewsStale: metric(SERVICES.speed, 'countedViewsStale'),
} as const;

export const BATCH_METRICS = {
  /** Per view: the share of reconciled rows where speed and batch differ. */
  driftRatio: metric(SERVICES.batch, 'driftRatio', ['view']),
  /**
   * Per view with a distinct measure, at each reconcile: settled (bucket, group)s whose speed estimate was
   * further from the exact count than the sketch's stated bound (`sketchErrorBound`), over its distinct
   * measures. Within the bound the difference is the sketch's expected error, not drift (not in driftRatio).
   */
  sketchRowsOverBound: metric(SERVICES.batch, 'sketchRowsOverBound', ['view']),
  /**
   * Per view, at each commit step: how far the served watermark trails now (ms). It grows while a new
   * definition waits to switch (the previous version is served, its watermark frozen) or runs fail; past
   * the speed retention, the served buckets from W on start losing their speed items.
   */
  servedWatermarkAge: metric(SERVICES.batch, 'servedWatermarkAge', ['view']),
  /**
   * Per view, at each clean-up: ledger headers still incomplete after it (its budget ran out, or
   * recording failed: logged). Staying above 0 run after run means a recording that keeps failing.
   */
  ledgerIncomplete: metric(SERVICES.batch, 'ledgerIncomplete', ['view']),
  /** Per view, at each clean-up: ledger headers it marked abandoned (a manifest their diff reads is gone). */
  ledgerAbandoned: metric(SERVICES.batch, 'ledgerAbandoned', ['view']),
} as const;
