/**
 * Where the stack keeps things and the defaults of its time settings, stated once: the CDK constructs
 * (`lib/`) grant and configure from these, the functions and the local run read and write by them, so a
 * grant names the prefix the code writes. Metric names have their own table, `./metrics.ts`, which both
 * sides import the same way. Pure: no AWS SDK, no environment.
 */
import { CATALOG_NAME_PATTERN, PARTITION_COLUMN } from '../core';

/**
 * Firehose files events under this prefix of the archive bucket: one folder per catalog (its name, the
 * events' `type`), in it one folder per event-time day.
 */
export const ARCHIVE_EVENTS_PREFIX = 'events/';

/** Records Firehose gave up on go under this prefix of the archive bucket (by arrival day, not event day). */
export const ARCHIVE_ERRORS_PREFIX = 'errors/';

/**
 * The folder of one catalog's events, `events/<catalog>/`: its Glue table's location. `catalog` may be a
 * placeholder (Firehose's, a glob's `*`).
 */
export const archiveCatalogPrefix = (catalog: string): string => `${ARCHIVE_EVENTS_PREFIX}${catalog}/`;

/**
 * The folder of one catalog's event-time day in the archive: `events/<catalog>/dt=YYYY-MM-DD/`, a Hive
 * partition the catalog's Glue table projects and DuckDB reads. Either may be a placeholder (Firehose's,
 * Glue's, a glob's `*`).
 */
export const archiveDayPrefix = (catalog: string, day: string): string =>
  `${archiveCatalogPrefix(catalog)}${PARTITION_COLUMN}=${day}/`;

// The prefix and the column are plain words: nothing in them needs escaping in a pattern.
const DAY_FOLDER = new RegExp(
  `^${ARCHIVE_EVENTS_PREFIX}(${CATALOG_NAME_PATTERN})/${PARTITION_COLUMN}=(\\d{4}-\\d{2}-\\d{2})/`,
);

/**
 * The catalog and event-time day of an archive object's key (`events/<catalog>/dt=YYYY-MM-DD/...`), or
 * null for any other key (the layout before several catalogs, `events/dt=.../`, among them).
 */
export function archiveDayOfKey(key: string): { readonly catalog: string; readonly day: string } | null {
  const match = DAY_FOLDER.exec(key);
  if (match === null) return null;
  const [, catalog, day] = match as unknown as [string, string, string];
  return Number.isNaN(Date.parse(`${day}T00:00:00Z`)) ? null : { catalog, day };
}

const KEY_IN_PATH = new RegExp(`(?:^|/)(${ARCHIVE_EVENTS_PREFIX}[^/]+/${PARTITION_COLUMN}=[^/]+/[^/]+)$`);

/** An archive object's key (`events/<catalog>/dt=.../<name>`) at the end of a longer path (`s3://bucket/...`, a file's). */
export const archiveKeyInPath = (path: string): string => KEY_IN_PATH.exec(path)?.[1] ?? path;

/** Where Athena writes query results in the results bucket (the workgroup enforces it). */
export const QUERY_RESULTS_PREFIX = 'results/';

/** Where the serving layer writes finance exports in the exports bucket; expired by a lifecycle rule. */
export const EXPORTS_PREFIX = 'exports/';
/** Where, under EXPORTS_PREFIX, the exports work group writes query results (a CSV export's file). */
export const EXPORT_RESULTS_FOLDER = 'results/';

/** What an export can be written as (Athena's UNLOAD formats; DuckDB's COPY locally). */
export type ExportFormat = 'csv' | 'parquet';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'parquet'];

/** Where the speed layer keeps the records it refused, one object each, in the quarantine bucket. */
export const QUARANTINE_PREFIX = 'quarantine/';

/**
 * Lambda's limit on a Kinesis event source mapping's batching window
 * (`MaximumBatchingWindowInSeconds`: 0 to 300, https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).
 * The stage setting and the CLI's `cost --window` are held to it.
 */
export const MAX_BATCHING_WINDOW_SECONDS = 300;

/** A batch run gives up after this long (the state machine's timeout). */
export const BATCH_RUN_TIMEOUT_MINUTES = 120;

/**
 * The defaults of a stage's time settings (`lib/config.ts` names and validates them): what a construct
 * falls back on when it is not given the stage's value, never a number of its own.
 */
export const STAGE_DEFAULTS = {
  /**
   * Allowed lateness: the watermark trails a run's start (or the archive's delivered position) by this, or
   * `auto`: learned from the arrivals (`settleShare` of the events over `settleWindowDays`), within bounds.
   */
  settleMinutes: 15 as number | 'auto',
  /** Under `auto`: the share of events the settle time must cover. */
  settleShare: 0.999,
  /** Under `auto`: at least a minute, so clock skew and a bucket still filling are never cut to nothing. */
  settleMinMinutes: 1,
  /**
   * Under `auto`: at most 3 hours, so exact numbers trail now by hours, not days, whatever a few stragglers
   * say (they are restated by the next run), well inside the speed items' retention.
   */
  settleMaxMinutes: 180,
  /** Under `auto`: the days of arrivals the settle time is learned from (and `GET /views` reports). */
  settleWindowDays: 7,
  /** How long a replaced batch version is kept: longer than a run may take (BATCH_RUN_TIMEOUT_MINUTES). */
  graceMinutes: 180,
  /** How long a replaced manifest can be rolled back to (`driftless rollback`); its day versions are kept. */
  rollbackRetentionDays: 7,
  /** How long speed items outlive their bucket before TTL removes them; more than settle. */
  speedRetentionHours: 72,
  /**
   * A new view definition switches in at the first bucket boundary at least this long after the speed
   * layer began counting it (`definitionSwitchFrom`): twice the speed function's timeout (1 minute: an
   * invocation of the old code in flight at the deploy, and one started on an instance just before the
   * update, finish within it) plus a minute of clock skew and deploy propagation.
   */
  definitionSwitchMarginSeconds: 180,
  queryResultsRetentionDays: 7,
  exportsRetentionDays: 30,
} as const;
