/**
 * Every AWS price the cost model uses: US East (N. Virginia), on-demand list prices, no free tier, in US
 * dollars. Each names the AWS pricing page it comes from and the day it was read.
 *
 * These figures are AWS's published prices as read on `PRICES_READ_ON`, from stored copies of the pages
 * and what was known of them then, not from the live pages: prices change, so check each page before
 * relying on a figure. Nothing here is measured; the usage they multiply is (`cost/measure.ts`).
 */

export const PRICED_REGION = 'us-east-1';
export const PRICES_READ_ON = '2026-12-01';

const PAGES = {
  kinesis: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
  firehose: 'https://aws.amazon.com/firehose/pricing/',
  lambda: 'https://aws.amazon.com/lambda/pricing/',
  dynamodb: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  s3: 'https://aws.amazon.com/s3/pricing/',
  athena: 'https://aws.amazon.com/athena/pricing/',
  stepFunctions: 'https://aws.amazon.com/step-functions/pricing/',
  apiGateway: 'https://aws.amazon.com/api-gateway/pricing/',
  cloudWatch: 'https://aws.amazon.com/cloudwatch/pricing/',
  xray: 'https://aws.amazon.com/xray/pricing/',
  eventBridge: 'https://aws.amazon.com/eventbridge/pricing/',
  glue: 'https://aws.amazon.com/glue/pricing/',
} as const;

export interface Price {
  /** US dollars per `unit`. */
  readonly usd: number;
  readonly unit: string;
  /** The AWS pricing page the figure is read from. */
  readonly source: string;
  /** The day it was read (ISO 8601): check the page again before relying on it. */
  readonly readOn: string;
}

const price = (usd: number, unit: string, source: string): Price => ({
  usd,
  unit,
  source,
  readOn: PRICES_READ_ON,
});

export const PRICES = {
  kinesisOnDemandStreamHour: price(0.04, 'stream-hour (on-demand)', PAGES.kinesis),
  /** Each record counts as its size rounded up to 1 KB (KINESIS_ON_DEMAND_RECORD_BYTES). */
  kinesisOnDemandIngestGb: price(0.08, 'GB written (on-demand)', PAGES.kinesis),
  /** Per consumer (shared throughput, not enhanced fan-out), records rounded up to 1 KB as written. */
  kinesisOnDemandRetrievalGb: price(0.04, 'GB read (on-demand)', PAGES.kinesis),
  kinesisShardHour: price(0.015, 'shard-hour (provisioned)', PAGES.kinesis),
  kinesisPutPayloadUnitsMillion: price(
    0.014,
    'million PUT payload units of 25 KB (provisioned)',
    PAGES.kinesis,
  ),
  /** Direct PUT and Kinesis Data Streams sources, first 500 TB a month; records rounded up to 5 KB. */
  firehoseIngestGb: price(0.029, 'GB ingested', PAGES.firehose),
  firehoseDynamicPartitioningGb: price(0.02, 'GB delivered with dynamic partitioning', PAGES.firehose),
  firehoseDynamicPartitioningObjects1000: price(0.005, '1,000 objects delivered to S3', PAGES.firehose),
  lambdaRequestsMillion: price(0.2, 'million requests', PAGES.lambda),
  /** arm64, first 7.5 billion GB-seconds a month: every driftless function is arm64 (lib/function.ts). */
  lambdaArmGbSecond: price(0.0000133334, 'GB-second (arm64)', PAGES.lambda),
  dynamodbWriteUnitsMillion: price(0.625, 'million write request units (on-demand)', PAGES.dynamodb),
  dynamodbReadUnitsMillion: price(0.125, 'million read request units (on-demand)', PAGES.dynamodb),
  dynamodbStorageGbMonth: price(0.25, 'GB-month (Standard table class)', PAGES.dynamodb),
  s3StorageGbMonth: price(0.023, 'GB-month (S3 Standard, first 50 TB)', PAGES.s3),
  s3PutRequests1000: price(0.005, '1,000 PUT, COPY, POST or LIST requests', PAGES.s3),
  s3GetRequests1000: price(0.0004, '1,000 GET or SELECT requests', PAGES.s3),
  /** Bytes scanned, rounded up to the MB, at least ATHENA_MIN_QUERY_BYTES per query. */
  athenaScannedTb: price(5, 'TB scanned', PAGES.athena),
  stepFunctionsTransitions1000: price(0.025, '1,000 state transitions (Standard)', PAGES.stepFunctions),
  apiGatewayRestRequestsMillion: price(
    3.5,
    'million REST API requests (first 333 million)',
    PAGES.apiGateway,
  ),
  cloudWatchMetricMonth: price(0.3, 'custom metric-month (first 10,000)', PAGES.cloudWatch),
  cloudWatchAlarmMonth: price(0.1, 'standard-resolution alarm-month', PAGES.cloudWatch),
  cloudWatchDashboardMonth: price(3, 'dashboard-month', PAGES.cloudWatch),
  cloudWatchLogsIngestGb: price(0.5, 'GB of logs ingested (standard class)', PAGES.cloudWatch),
  xrayTracesMillion: price(5, 'million traces recorded', PAGES.xray),
  schedulerInvocationsMillion: price(1, 'million EventBridge Scheduler invocations', PAGES.eventBridge),
  glueRequestsMillion: price(1, 'million Data Catalog requests', PAGES.glue),
} as const satisfies Readonly<Record<string, Price>>;

export type PriceName = keyof typeof PRICES;

/** A billing rule: how AWS counts a unit, from the same pages. */
export interface BillingRule {
  readonly bytes: number;
  readonly rule: string;
  readonly source: string;
  readonly readOn: string;
}

const rule = (bytes: number, text: string, source: string): BillingRule => ({
  bytes,
  rule: text,
  source,
  readOn: PRICES_READ_ON,
});

export const BILLING_RULES = {
  // Record rounding is in decimal KB: the Kinesis page's "a 1 MB record is 40 PUT payload units" holds
  // for 1,000,000 / 25,000, not for 1,048,576 / 25,600 (41 units). Firehose's page does not say; a
  // 25,000-byte packed record (MAX_PACKED_RECORD_BYTES) is 5 units of 5,000 or of 5,120 bytes alike.
  kinesisOnDemandRecord: rule(
    1000,
    'on-demand: each record is counted as its size rounded up to the nearest 1 KB (1,000 bytes)',
    PAGES.kinesis,
  ),
  kinesisPutPayloadUnit: rule(
    25_000,
    'provisioned: a PUT payload unit is a 25 KB (25,000 bytes) chunk of a record; a smaller record is one unit',
    PAGES.kinesis,
  ),
  firehoseRecord: rule(
    5_000,
    'Direct PUT and Kinesis Data Streams sources: ingestion is billed per record rounded up to 5 KB (5,000 bytes)',
    PAGES.firehose,
  ),
  athenaMinimumPerQuery: rule(
    10 * 1024 * 1024,
    'each query is billed for at least 10 MB scanned, rounded up to the nearest MB',
    PAGES.athena,
  ),
  dynamodbWriteUnit: rule(
    1024,
    'a write request unit writes an item of up to 1 KB; UpdateItem counts the larger of the item before and after',
    PAGES.dynamodb,
  ),
  dynamodbReadUnit: rule(
    4 * 1024,
    'a read request unit reads up to 4 KB strongly consistent, or twice that eventually consistent',
    PAGES.dynamodb,
  ),
} as const satisfies Readonly<Record<string, BillingRule>>;

/** A month as AWS's pricing examples count it: 730 hours. */
export const MONTH_SECONDS = 730 * 3600;
/** The GB (and TB) per-GB prices are taken in: 2^30 (2^40) bytes, as AWS bills GB for most services. */
export const GB = 1024 ** 3;
export const TB = 1024 ** 4;
