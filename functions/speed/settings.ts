/**
 * How the speed function reads the stream. The CDK event source mapping and the local consumer
 * both take these, so the emulated delivery matches the deployed one.
 */
export const SPEED_EVENT_SOURCE = {
  /** Records per invocation: enough to pre-aggregate well, small enough to retry cheaply. */
  batchSize: 1000,
  /** The default of a stage's `speedBatchingWindowSeconds` (lib/config.ts), which the mapping takes. */
  maximumBatchingWindowMs: 1000,
  /** Bounded, so a record that always fails cannot hold its shard for the stream's retention. */
  maximumRetryAttempts: 10,
  maximumRecordAgeMs: 24 * 3_600_000,
  bisectBatchOnFunctionError: true,
  /**
   * One invocation at a time per shard: the exactly-once checkpoint compares sequence numbers
   * per shard and holds only while a shard's records are applied in order.
   */
  parallelizationFactor: 1,
} as const;

export type EventSourceSettings = {
  readonly batchSize: number;
  readonly maximumBatchingWindowMs: number;
  /** -1: retry until the record expires, as Lambda's default. */
  readonly maximumRetryAttempts: number;
  readonly maximumRecordAgeMs: number | null;
  readonly bisectBatchOnFunctionError: boolean;
};
