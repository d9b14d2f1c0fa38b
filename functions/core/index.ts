/**
 * The core's public surface: what the user's definitions (`events.ts`, `views.ts`) are written with, and
 * what the layers (speed, batch, serving, the adapters) call. Helpers the core uses only inside itself
 * are not listed; a test that exercises one imports its module. One statement per module, in the
 * order the formatter keeps them.
 */

// The archive's transform of a stream record (Firehose).
export { archiveRecord } from './archive';
// Event catalogs: the raw events' schema, its bounds and validation (events.ts).
export {
  CATALOG_NAME_PATTERN,
  type CatalogOfResult,
  codePointLength,
  DEFAULT_DEDUPE_HORIZON_DAYS,
  DEFAULT_TIME_RANGE,
  defineEventCatalog,
  defineEventCatalogs,
  EVENT_TYPE_FIELD,
  type EventCatalog,
  type EventCatalogs,
  type EventOf,
  type FieldError,
  type FieldRule,
  type FieldSpec,
  type FieldSpecs,
  KINESIS_PARTITION_KEY_MAX_UNITS,
  MAX_CATALOG_NAME_LENGTH,
  MAX_DEDUPE_HORIZON_DAYS,
  MAX_EVENT_INTEGER,
  type TypedEventCatalog,
} from './catalog';
// The speed layer's compilation of a view.
export { type CompiledView, compileJs, type EventRecord } from './compile-js';
// The batch layer's compilation: the SQL both engines run, and reading its results.
export {
  compileDistantCopiesSql,
  compileExportSql,
  compileSql,
  dayRangePredicate,
  dayRangesSql,
  eventsTableOf,
  PARTITION_COLUMN,
  parseDistantCopiesRow,
  parseSqlRow,
  quoteIdentifier,
  quoteString,
  type SqlCell,
  type SqlOptions,
} from './compile-sql';
// Event-time days, the archive's partitions.
export { type DayRange, daysBetween, daysInRanges } from './days';
// Producer duplicates: the rule's JavaScript statement and the days it reads and affects.
export {
  DISTANT_COPIES_LISTED,
  DISTANT_COPY_DAYS_LISTED,
  daysAffectedBy,
  dedupeReadRanges,
  deduplicateEvents,
} from './dedupe';
// What a bad definition, an overflowing expression or a misplaced watermark throws.
export {
  DistinctCountsDoNotAddError,
  ExpressionOverflowError,
  ViewDefinitionError,
  WatermarkError,
} from './errors';
// Expressions over event fields (views.ts).
export {
  and,
  type BoolExpr,
  caseWhen,
  coalesce,
  type Expr,
  type IntExpr,
  int,
  not,
  or,
  type StrExpr,
  str,
} from './expr';
// Buckets, and the keys of speed items and rows with DynamoDB's limits on them. The batch store's own
// keys (manifest, versions, reports, runs) are its adapters' business: they import them from keys.ts.
export {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  batchPartitionKey,
  bucketStart,
  compareSequenceNumbers,
  DYNAMODB_PARTITION_KEY_MAX_BYTES,
  DYNAMODB_SORT_KEY_MAX_BYTES,
  dayOf,
  type GroupValue,
  MAX_DAY_TIME,
  padSequence,
  ROW_SORT_KEY_BUDGET_BYTES,
  rowKey,
  rowSortKey,
  speedItemKey,
  speedPartitionKey,
  speedSortKeyRange,
  TABLE_ATTRIBUTES,
  worstRowSortKeyBytes,
} from './keys';
// The serving merge at the watermark.
export { type RowSource, type ServedRow, serveByWatermark } from './merge';
// The measures' monoids, how DynamoDB applies each, and the rows every layer combines with them.
export {
  type DistinctSet,
  type MeasureMonoid,
  type MeasureValue,
  MONOIDS,
  monoidOf,
  type StorageOperation,
} from './monoid';
export { type ViewRow, ViewRows } from './rows';
// Served series and top groups.
export {
  type DistinctValues,
  distinctStepRefusal,
  type EncodedMeasure,
  encodeMeasure,
  type GroupFilter,
  isStepOf,
  type OmittedMeasure,
  omittedFromTop,
  rollUpSeries,
  type SeriesBucket,
  type SeriesGroup,
  topGroups,
} from './series';
// The speed layer's distinct-count sketch and its stated error bound.
export {
  DEFAULT_DISTINCT_PRECISION,
  DistinctSketch,
  MAX_DISTINCT_PRECISION,
  MIN_DISTINCT_PRECISION,
  relativeStandardError,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  SKETCH_ERROR_BOUND_SIGMAS,
  SKETCH_OVER_BOUND_SHARE,
  sketchErrorBound,
  sketchRelativeErrorBound,
  withinSketchBound,
} from './sketch';
// The speed layer: decode, pre-aggregate per speed item, write each item's delta once.
export {
  type DecodedEvent,
  decodeRecord,
  deltaAfter,
  type InvalidRecord,
  mergedSketches,
  planSpeedWrites,
  type SpeedDeltaRow,
  type SpeedItemWrites,
  type SpeedKeyPlan,
  type StreamRecord,
  speedItemWrites,
} from './speed';
// Views: measures and the definition (views.ts).
export {
  count,
  countDistinct,
  defineView,
  distinctMeasureNames,
  fieldsOf,
  hasDistinctMeasure,
  MAX_DISTINCT_MEASURES,
  MAX_GROUP_FIELDS,
  type Measure,
  type MeasureKind,
  max,
  min,
  sum,
  type ViewDefinition,
  validateView,
} from './view';
// A view definition as data (kept per version in the table) and the hash its provenance records.
export {
  checkViewCatalogs,
  definitionHash,
  type ViewDocument,
  viewDocument,
  viewFromDocument,
} from './view-document';
// The watermark: where batch ends and speed begins, every rule about it.
export {
  type BucketSource,
  definitionSwitchFrom,
  isBatchBucket,
  isExactRange,
  lastBatchDay,
  maySwitchDefinition,
  newlyBatchRange,
  nextWatermark,
  runAsOf,
  servedWatermark,
  settledStepsEnd,
  sourceOfStep,
  splitAtWatermark,
  type TimeRange,
} from './watermark';
